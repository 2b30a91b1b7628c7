/**
 * Several builds queued behind a running release: when it ends only the newest runs, and every
 * older queued one ends SUPERSEDED without ever touching a region (nothing staged, nothing started
 * there, not even the early staging into later waves). Checked against the regions' own
 * directories and processes, through the real CLI.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { openLocalBackend } from '../../backends/local/index.ts';
import { type Background, eventually, runCli, startCli } from '../helpers/cli.ts';
import { e2eConfig, GOOD_BUILD, tempDir } from '../helpers/local.ts';

const running: Background[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop();
  for (const c of cleanups.splice(0)) await c();
});

describe('three builds queued behind a release', () => {
  it('only the newest runs; the older two end SUPERSEDED and never touch a region', async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'USD' }],
    ]);
    const t = await tempDir('flotilla-supersede-');
    cleanups.push(t.cleanup);
    const dir = t.dir;
    // A long first bake, ended by promote: every newer build queues while it runs however slow the machine is.
    (config.waves[0] as { bakeSeconds: number }).bakeSeconds = 300;
    await writeFile(join(dir, 'flotilla.yml'), stringify(config));
    const statusOf = async (id: string) => {
      const status = await runCli(['status', id, '--json'], dir);
      return status.code === 0 ? (JSON.parse(status.stdout) as { status: string }).status : undefined;
    };

    const first = startCli(['release', GOOD_BUILD, '--version', '1.0.0'], dir);
    running.push(first);
    await first.waitForOutput(/us-east-1: deployed/, 60_000);
    const queued: Background[] = [];
    for (const version of ['1.1.0', '1.2.0', '1.3.0']) {
      const release = startCli(['release', GOOD_BUILD, '--version', version], dir);
      running.push(release);
      queued.push(release);
      await eventually(
        `shop-${version} queued`,
        async () => ((await statusOf(`shop-${version}`)) === 'QUEUED' ? true : undefined),
        120_000,
      );
    }
    expect((await runCli(['promote', 'shop-1.0.0', '--reason', 'go on'], dir)).code).toBe(0);
    await eventually(
      'shop-1.3.0 running',
      async () => ((await statusOf('shop-1.3.0')) === 'RUNNING' ? true : undefined),
      120_000,
    );
    expect((await runCli(['promote', 'shop-1.3.0', '--reason', 'newest is fine'], dir)).code).toBe(0);

    expect(await first.exited).toBe(0);
    const [older, old, newest] = queued as [Background, Background, Background];
    expect(await newest.exited).toBe(0);
    expect(await older.exited).toBe(1);
    expect(await old.exited).toBe(1);
    expect(older.output().stdout).toMatch(/SUPERSEDED/);
    const history = JSON.parse((await runCli(['history', '--json'], dir)).stdout) as {
      releaseId?: string;
      status?: string;
    }[];
    expect(history.filter((e) => e.releaseId).map((e) => `${e.releaseId} ${e.status}`)).toEqual([
      'shop-1.3.0 SUCCEEDED',
      'shop-1.2.0 SUPERSEDED',
      'shop-1.1.0 SUPERSEDED',
      'shop-1.0.0 SUCCEEDED',
    ]);
    // What the regions themselves hold: the superseded builds were never staged, logged or run there.
    for (const region of ['us-east-1', 'eu-west-1']) {
      const regionDir = join(dir, '.flotilla', 'regions', region);
      expect((await readdir(join(regionDir, 'releases'))).filter((f) => !f.startsWith('.')).sort()).toEqual([
        '1.0.0',
        '1.3.0',
      ]);
      // Each build that ran logs there, and so does its wave's new host (a fresh start of that build).
      const logs = (await readdir(join(regionDir, 'logs'))).sort();
      expect(logs.filter((f) => !f.endsWith('.new-host.log'))).toEqual(['1.0.0.log', '1.3.0.log']);
      expect(logs.filter((f) => /^1\.[12]\.0/.test(f))).toEqual([]);
    }
    // Served only while a command holds the regions: `where` reads them back.
    const where = JSON.parse((await runCli(['where', '--json'], dir)).stdout) as { regions: { version: string }[] };
    expect(where.regions.map((r) => r.version)).toEqual(['1.3.0', '1.3.0']);
  }, 400_000);

  it('a release submitted as the hosting process ends is waited for or refused, never dropped', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    const t = await tempDir('flotilla-drain-');
    cleanups.push(t.cleanup);
    const backend = await openLocalBackend({ stateDir: t.dir, config });
    cleanups.unshift(() => backend.close());
    // In flight from the moment it is asked for, before its release id is even chosen: the host's
    // last check sees it, so it cannot slip between that check and the close.
    const submitted = backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    expect(backend.inFlight()).toHaveLength(1);
    backend.stopAccepting();
    await expect(backend.start({ version: '1.0.1', artifact: GOOD_BUILD })).rejects.toMatchObject({ name: 'Busy' });
    expect(await (await submitted).done).toMatchObject({ status: 'SUCCEEDED' });
    expect(backend.inFlight()).toEqual([]);
  });
});
