/**
 * The baseline of `vs_script_ratio_8`: what someone would write by hand to ship a build to N local
 * regions at once, with none of Flotilla's plan, ledger, audit, gates or rollback. Per region, all
 * in parallel: copy the build into releases/<version>, switch the `current` link, stop the old
 * process, start the new one, wait until it answers HTTP, and check /health reports the version.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdir, rename, symlink } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';

export interface HandRegion {
  name: string;
  port: number;
}

const running = new Map<string, ChildProcess>();

function getJson(port: number): Promise<{ version?: string } | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch {
          resolve(null);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

async function shipOne(root: string, region: HandRegion, build: string, version: string): Promise<void> {
  const dir = join(root, region.name);
  const release = join(dir, 'releases', version);
  await mkdir(join(dir, 'releases'), { recursive: true });
  await cp(build, release, { recursive: true, dereference: true });
  const link = join(dir, `.current-${version}`);
  await symlink(join('releases', version), link);
  await rename(link, join(dir, 'current'));
  const old = running.get(region.name);
  if (old && old.exitCode === null) {
    const gone = new Promise((resolve) => old.once('exit', resolve));
    old.kill('SIGTERM');
    await gone;
  }
  const child = spawn(process.execPath, ['server.js'], {
    cwd: release,
    env: { PATH: process.env.PATH ?? '', PORT: String(region.port), FLOTILLA_VERSION: version, CURRENCY: 'USD' },
    stdio: 'ignore',
  });
  running.set(region.name, child);
  for (;;) {
    const health = await getJson(region.port);
    if (health?.version === version) return;
    if (child.exitCode !== null) throw new Error(`${region.name}: exited before it was ready`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Ships `build` as `version` to every region at once; resolves when each answers /health with it. */
export async function shipByHand(root: string, regions: HandRegion[], build: string, version: string): Promise<void> {
  await Promise.all(regions.map((region) => shipOne(root, region, build, version)));
}

/** Stops every process the script started. */
export async function stopHandShipped(): Promise<void> {
  await Promise.all(
    [...running.values()].map(async (child) => {
      if (child.exitCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    }),
  );
  running.clear();
}
