/**
 * The web dashboard in real headless Chromium, against `flotilla up` with real region processes:
 * open it from the login URL `up` prints, see every region's version, watch a release started
 * from the CLI move wave by wave to SUCCEEDED without a reload, pause and resume it from the page
 * (both in the audit), and watch the broken build fail its gate and roll back. A request without
 * the session, or from another origin or host, is refused and changes nothing.
 *
 * FLOTILLA_SCREENSHOT=docs/dashboard.png also saves the page mid-release (for the README).
 */

import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { browserAvailable, launchChromium } from '../helpers/browser.ts';
import { type Background, runCli, startCli } from '../helpers/cli.ts';
import { BROKEN_BUILD, e2eConfig, GOOD_BUILD, tempDir } from '../helpers/local.ts';

const REGIONS = ['us-east-1', 'eu-west-1', 'us-west-2', 'eu-central-1', 'ap-southeast-2', 'ap-northeast-1'];
const SCREENSHOT = process.env.FLOTILLA_SCREENSHOT;
const LONG = 90_000;

interface Answer {
  status: number;
  body: string;
}

/** One raw HTTP request, with exactly the headers given (Host included). */
function send(url: string, method: 'GET' | 'POST', headers: Record<string, string>, body?: string): Promise<Answer> {
  const { hostname, port, pathname, search } = new URL(url);
  return new Promise((ok, bad) => {
    const req = request(
      { host: hostname, port, path: `${pathname}${search}`, method, headers, agent: false, setHost: false },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => ok({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', bad);
    req.end(body);
  });
}

describe.runIf(browserAvailable())('the dashboard in a real browser', () => {
  let dir = '';
  let cleanup = async () => {};
  let up: Background | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let loginUrl = '';
  let base = '';

  beforeAll(async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [
        { name: 'eu-west-1', currency: 'EUR' },
        { name: 'us-west-2', currency: 'USD' },
      ],
      [
        { name: 'eu-central-1', currency: 'EUR' },
        { name: 'ap-southeast-2', currency: 'AUD' },
        { name: 'ap-northeast-1', currency: 'JPY' },
      ],
    ]);
    for (const w of config.waves) w.bakeSeconds = 3;
    config.gate.bakeSeconds = 3;
    const t = await tempDir('flotilla-dashboard-');
    dir = t.dir;
    cleanup = t.cleanup;
    await writeFile(join(dir, 'flotilla.yml'), stringify(config));
    const first = await runCli(['release', GOOD_BUILD, '--version', '1.0.0'], dir);
    expect(first.code, first.stderr).toBe(0);
    // From here on, wave 2 waits for an approval: the page steers at that hold, with no bet on how
    // long a bake lasts.
    (config.waves[1] as (typeof config.waves)[number]).approval = true;
    await writeFile(join(dir, 'flotilla.yml'), stringify(config));
    up = startCli(['--actor', 'alice@example', 'up'], dir);
    await up.waitForOutput(/dashboard: http:\/\/127\.0\.0\.1:\d+\/login\?token=[0-9a-f]{64}/, 60_000);
    loginUrl = /dashboard: (http\S+)/.exec(up.output().stdout)?.[1] ?? '';
    base = new URL(loginUrl).origin;
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
  }, LONG);

  afterAll(async () => {
    await browser?.close();
    await up?.stop();
    await cleanup();
  });

  it('opens from the printed login URL and shows the 6 regions × version; the URL works only once', async () => {
    await page.goto(loginUrl);
    expect(new URL(page.url()).pathname).toBe('/');
    for (const region of REGIONS) {
      await page.locator(`#matrix tr[data-region="${region}"][data-version="1.0.0"]`).waitFor({ timeout: 20_000 });
    }
    expect(await page.locator('#matrix tbody tr').count()).toBe(6);
    await expect
      .poll(() => page.locator('#matrix tbody td.health.health-healthy').count(), { timeout: 20_000 })
      .toBe(6);
    const again = await send(loginUrl, 'GET', { host: new URL(base).host });
    expect(again.status).toBe(401);
    const cookies = await page.context().cookies(base);
    expect(cookies).toEqual([
      expect.objectContaining({ httpOnly: true, sameSite: 'Strict', name: `flotilla_session_${new URL(base).port}` }),
    ]);
  });

  it('`flotilla dashboard` asks the running `up` for a new login URL, which works once', async () => {
    const printed = await runCli(['dashboard', '--json'], dir);
    expect(printed.code, printed.stderr).toBe(0);
    const { url } = JSON.parse(printed.stdout) as { url: string };
    expect(url).not.toBe(loginUrl);
    expect(new URL(url).origin).toBe(base);
    const host = new URL(base).host;
    const first = await send(url, 'GET', { host });
    expect(first.status).toBe(303);
    expect((await send(url, 'GET', { host })).status).toBe(401);
  });

  it('refuses a request without the session (401), from a foreign Origin or Host (403), and records nothing', async () => {
    const host = new URL(base).host;
    const cookie = (await page.context().cookies(base)).map((c) => `${c.name}=${c.value}`).join('; ');
    const body = JSON.stringify({ verb: 'freeze', reason: 'from a stranger' });
    const json = { 'content-type': 'application/json' };
    expect((await send(`${base}/api/state`, 'GET', { host })).status).toBe(401);
    expect((await send(`${base}/`, 'GET', { host })).status).toBe(401);
    expect((await send(`${base}/api/intents`, 'POST', { host, origin: base, ...json }, body)).status).toBe(401);
    const foreign = await send(
      `${base}/api/intents`,
      'POST',
      { host, cookie, origin: 'https://evil.example', ...json },
      body,
    );
    expect(foreign.status).toBe(403);
    expect((await send(`${base}/api/intents`, 'POST', { host, cookie, ...json }, body)).status).toBe(403);
    const rebound = await send(
      `${base}/api/intents`,
      'POST',
      {
        host: `evil.example:${new URL(base).port}`,
        cookie,
        origin: `http://evil.example:${new URL(base).port}`,
        ...json,
      },
      body,
    );
    expect(rebound.status).toBe(403);
    expect((await send(`${base}/api/state`, 'GET', { host: 'localhost.evil.example', cookie })).status).toBe(403);
    // The session itself works: the same request from the page's origin would be served.
    expect((await send(`${base}/api/state`, 'GET', { host, cookie })).status).toBe(200);
    const history = await runCli(['history', '--json'], dir);
    expect(history.stdout).not.toMatch(/freeze/);
  });

  it(
    'follows a release started from the CLI wave by wave to SUCCEEDED without a reload; Pause, Resume and Promote from the page are audited',
    async () => {
      await page.evaluate(() => {
        (window as unknown as { notReloaded: boolean }).notReloaded = true;
        const seen: string[] = [];
        (window as unknown as { seen: string[] }).seen = seen;
        const record = () => {
          const current = document.querySelector('#release .wave[data-state="current"]')?.getAttribute('data-wave');
          const status = document.querySelector('#release h2 [data-testid="status"]')?.textContent ?? '';
          const entry = `${document.querySelector('#release')?.getAttribute('data-release')} ${status} ${current ?? '-'}`;
          if (seen.at(-1) !== entry) seen.push(entry);
        };
        new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true });
      });
      const release = startCli(['release', GOOD_BUILD, '--version', '2.0.0'], dir);
      const id = 'shop-2.0.0';
      const section = page.locator(`#release[data-release="${id}"]`);
      await section.locator('[data-testid="hold"] li[data-kind="approval"]').waitFor({ timeout: LONG });

      await page.fill('#reason', 'checking the graphs');
      await page.click('#release button[data-verb="pause"]');
      await section.locator('[data-testid="audit"] li[data-verb="pause"]').waitFor({ timeout: 30_000 });
      await page.fill('#reason', 'graphs look fine');
      // Enabled once the page has seen the pause.
      await page.click('#release button[data-verb="resume"]', { timeout: 30_000 });
      await section.locator('[data-testid="audit"] li[data-verb="resume"]').waitFor({ timeout: 30_000 });
      await page.fill('#reason', 'wave 1 is fine');
      await page.click('#release button[data-verb="promote"]');
      if (SCREENSHOT) {
        await section.locator('.wave[data-wave="1"][data-state="current"] [data-testid="bake"]').waitFor();
        await page.screenshot({ path: resolve(SCREENSHOT), fullPage: true });
      }

      await section.locator('h2 [data-testid="status"]', { hasText: 'SUCCEEDED' }).waitFor({ timeout: LONG });
      expect(await release.exited).toBe(0);
      const audit = section.locator('[data-testid="audit"] li');
      await expect
        .poll(() => audit.evaluateAll((items) => items.map((i) => i.getAttribute('data-verb'))))
        .toEqual(['pause', 'resume', 'promote']);
      expect(await audit.nth(0).textContent()).toMatch(/pause by alice@example: checking the graphs/);
      expect(await audit.nth(1).textContent()).toMatch(/resume by alice@example: graphs look fine/);
      expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
      const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
      const waves = seen.filter((s) => s.startsWith(`${id} RUNNING`)).map((s) => s.split(' ')[2]);
      // Every wave was seen current, in order, then the release ended.
      expect([...new Set(waves)]).toEqual(['0', '1', '2']);
      expect(seen.at(-1)).toBe(`${id} SUCCEEDED -`);
      for (const region of REGIONS) {
        await page.locator(`#matrix tr[data-region="${region}"][data-version="2.0.0"]`).waitFor({ timeout: 20_000 });
      }
      expect(await page.locator('#matrix tr[data-region="us-east-1"] td.mono.muted').textContent()).toBe(id);
    },
    LONG * 2,
  );

  it(
    'shows the broken build failing its gate, with the signal, and the rollback, live',
    async () => {
      const release = startCli(['release', BROKEN_BUILD, '--version', '2.1.0'], dir);
      const section = page.locator('#release[data-release="shop-2.1.0"]');
      await section.locator('[data-testid="hold"] li[data-kind="approval"]').waitFor({ timeout: LONG });
      await page.fill('#reason', 'ship it');
      await page.click('#release button[data-verb="promote"]');
      const gate = section.locator('.wave[data-wave="1"] [data-testid="gate"][data-gate="Failed"]');
      await gate.waitFor({ timeout: LONG });
      const signals = await section.locator('.wave[data-wave="1"] [data-testid="signals"]').textContent();
      expect(signals).toMatch(/eu-west-1/);
      await section.locator('[data-testid="rollback"]', { hasText: 'us-east-1' }).waitFor({ timeout: LONG });
      expect(await section.locator('[data-testid="rollback"]').textContent()).toMatch(/eu-west-1/);
      await section.locator('h2 [data-testid="status"]', { hasText: 'ROLLED_BACK' }).waitFor({ timeout: LONG });
      expect(await release.exited).toBe(1);
      for (const region of REGIONS) {
        await page.locator(`#matrix tr[data-region="${region}"][data-version="2.0.0"]`).waitFor({ timeout: 20_000 });
      }
      await page.locator('#release [data-phase="rolled-back"][data-region="us-east-1"]').waitFor({ timeout: 20_000 });
    },
    LONG * 2,
  );

  it('asks before rolling back, and a cancelled rollback records nothing', async () => {
    await page.fill('#reason', 'should not happen');
    await page.click('#release button[data-verb="rollback"]');
    const dialog = page.locator('dialog#confirm[open]');
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/Roll back shop-2\.1\.0\?/);
    await dialog.locator('button[data-confirm="no"]').click();
    await page.waitForTimeout(500);
    const status = JSON.parse((await runCli(['status', 'shop-2.1.0', '--json'], dir)).stdout) as {
      intents: { verb: string }[];
    };
    // Only the promote that approved its wave 2: no rollback was recorded.
    expect(status.intents.map((i) => i.verb)).toEqual(['promote']);
    const history = JSON.parse((await runCli(['history', '--json'], dir)).stdout) as { releaseId?: string }[];
    expect(history.some((r) => r.releaseId?.includes('rollback'))).toBe(false);
  });
});
