/**
 * Real headless Chromium for browser tests: Debian's `chromium` (installed by .ci/run) driven by
 * playwright-core. Where it is missing the tests say plainly that they were skipped, and with
 * CI=true they fail instead, so a CI box without a browser never passes them silently.
 */
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.FLOTILLA_CHROMIUM ?? '/usr/bin/chromium';

/** Whether the browser tests run here; says why not once, on stderr. */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const why = `${CHROMIUM} is missing (apt-get install -y chromium, or set FLOTILLA_CHROMIUM)`;
  if (process.env.CI === 'true') throw new Error(`browser tests cannot run: ${why}`);
  process.stderr.write(`\nSKIPPED the dashboard browser tests: ${why}\n\n`);
  return false;
}

export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container has no user namespace for the sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}
