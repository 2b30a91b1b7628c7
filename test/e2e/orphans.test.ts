/**
 * An orchestrator killed with SIGKILL leaves its region processes running, holding the regions'
 * ports (as every command does: they are detached on purpose). The next one to hold the state
 * directory adopts them (they are ours: the pid file says so, they run from the region's releases
 * with its environment, and answer as its current version) instead of taking them for strangers,
 * and the next release deploys normally instead of failing every region with "port in use".
 */
import { readFile, readlink, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import { type Background, startCli } from '../helpers/cli.ts';
import { asLocal } from '../helpers/fixtures.ts';
import { e2eConfig, GOOD_BUILD, servedVersion, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const running: Background[] = [];
const cleanups: (() => Promise<void>)[] = [];
/** Strays this test made: stopped here even when the code under test fails to. */
const strays: { pid: number; dir: string }[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop('SIGKILL');
  for (const backend of open.splice(0)) await backend.close();
  for (const { pid, dir } of strays.splice(0)) {
    // Only a process still running from this test's directory: a pid may have been reused since.
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (cwd.startsWith(dir)) process.kill(pid, 'SIGKILL');
  }
  for (const c of cleanups.splice(0)) await c();
});

describe('region processes of a killed orchestrator', () => {
  it('are adopted by the next one, and the next release deploys where they held the ports', async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'USD' }],
    ]);
    for (const wave of config.waves) wave.bakeSeconds = 120;
    config.gate.bakeSeconds = 120;
    const t = await tempDir('flotilla-orphans-');
    cleanups.push(t.cleanup);
    await writeFile(join(t.dir, 'flotilla.yml'), stringify(config));
    const port = asLocal(config.regions[0]?.target).port;

    const cli = startCli(['release', GOOD_BUILD], t.dir);
    running.push(cli);
    await cli.waitForOutput(/us-east-1: deployed/, 60_000);
    cli.child.kill('SIGKILL');
    await cli.exited;
    // The stray still answers on the region's port.
    expect(await servedVersion(port)).toBe('1.0.0');
    const pidFile = join(t.dir, '.flotilla', 'regions', 'us-east-1', 'process.pid');
    const strayPid = Number((await readFile(pidFile, 'utf8')).trim());
    strays.push({ pid: strayPid, dir: await realpath(t.dir) });

    for (const wave of config.waves) wave.bakeSeconds = 1;
    const backend = await openLocalBackend({ stateDir: join(t.dir, '.flotilla'), config });
    open.push(backend);
    expect((await backend.ledger.getRelease('shop', 'shop-1.0.0'))?.status).toBe('FAILED');
    // Taken over as it runs, not restarted.
    expect((await backend.liveness()).get('us-east-1')).toMatchObject({ state: 'serving', pid: strayPid });
    const outcome = await backend.release({ version: '1.0.1', artifact: GOOD_BUILD });
    expect(outcome.status, outcome.reason).toBe('SUCCEEDED');
    for (const r of config.regions) expect(await servedVersion(asLocal(r.target).port)).toBe('1.0.1');
  }, 120_000);
});
