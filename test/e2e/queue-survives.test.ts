/**
 * A queued release survives the process that queued it: its queue is the ledger (the record and
 * the plan PlanRelease stored), so after kill -9 of the process that hosted it, the next process
 * that runs releases (`flotilla release`, the very command that asked for it, or `flotilla up`)
 * runs it, under the queue's rules: the newest queued build runs, older ones end SUPERSEDED and
 * never touch a region. Read verbs leave it queued. Real processes, real regions, the real ledger.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { FlotillaConfig } from '../../config/types.ts';
import { type Background, eventually, runCli, startCli } from '../helpers/cli.ts';
import { e2eConfig, GOOD_BUILD, servedVersion, tempDir } from '../helpers/local.ts';

const running: Background[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop('SIGKILL');
  for (const c of cleanups.splice(0)) await c();
});

/** Two waves; the first bakes 300 s, ended by `promote`, so a release stays in flight however slow the machine. */
async function slowSetup(prefix: string): Promise<{ dir: string; config: FlotillaConfig }> {
  const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }], [{ name: 'eu-west-1', currency: 'EUR' }]]);
  (config.waves[0] as { bakeSeconds: number }).bakeSeconds = 300;
  const t = await tempDir(prefix);
  cleanups.push(t.cleanup);
  await writeFile(join(t.dir, 'flotilla.yml'), stringify(config));
  return { dir: t.dir, config };
}

const statusOf = async (dir: string, id: string) => {
  const status = await runCli(['status', id, '--json'], dir);
  return status.code === 0
    ? (JSON.parse(status.stdout) as { status: string; regions: { region: string; phase: string }[] })
    : undefined;
};

const historyOf = async (dir: string) =>
  (JSON.parse((await runCli(['history', '--json'], dir)).stdout) as { releaseId?: string; status?: string }[])
    .filter((e) => e.releaseId)
    .map((e) => `${e.releaseId} ${e.status}`);

/** Promotes `id` once its first wave bakes (it may still be planning or queued when asked). */
async function promoteWhenBaking(dir: string, id: string): Promise<void> {
  await eventually(
    `${id} baking in wave 1`,
    async () => {
      const record = await statusOf(dir, id);
      return record?.status === 'RUNNING' && record.regions.find((r) => r.region === 'us-east-1')?.phase === 'deployed'
        ? true
        : undefined;
    },
    120_000,
  );
  expect((await runCli(['promote', id, '--reason', 'bake is fine'], dir)).code).toBe(0);
}

/** Starts a slow first release and waits until it bakes its first wave (so every later build queues). */
async function slowFirst(dir: string): Promise<Background> {
  const first = startCli(['release', GOOD_BUILD, '--version', '1.0.0'], dir);
  running.push(first);
  await first.waitForOutput(/us-east-1: deployed/, 90_000);
  return first;
}

async function killHard(process: Background): Promise<void> {
  process.child.kill('SIGKILL');
  await process.exited;
}

describe('a queued release after kill -9 of the process that hosted it', () => {
  it('is run to its end by the `flotilla release` that asked for it', async () => {
    const { dir, config } = await slowSetup('flotilla-queue-kill-');
    const first = await slowFirst(dir);
    // Goes through the first process's control API: that process hosts the queued release.
    const second = startCli(['release', GOOD_BUILD, '--version', '1.0.1'], dir);
    running.push(second);
    await eventually('shop-1.0.1 queued', async () =>
      (await statusOf(dir, 'shop-1.0.1'))?.status === 'QUEUED' ? true : undefined,
    );

    await killHard(first);
    await promoteWhenBaking(dir, 'shop-1.0.1');

    expect(await second.exited).toBe(0);
    expect(second.output().stderr).toMatch(/resuming shop-1\.0\.1, left queued by a flotilla process that exited/);
    expect(second.output().stdout).toMatch(/SUCCEEDED: shop 1\.0\.1/);
    expect(await historyOf(dir)).toEqual(['shop-1.0.1 SUCCEEDED', 'shop-1.0.0 FAILED']);
    // The regions themselves run it.
    for (const region of config.regions) {
      expect(await servedVersion((region.target as { port: number }).port)).toBe('1.0.1');
    }
  }, 300_000);

  it('with --no-wait says QUEUED (exit 0); read verbs leave it queued; `up` runs the newest, supersedes the older', async () => {
    const { dir, config } = await slowSetup('flotilla-queue-up-');
    const first = await slowFirst(dir);
    const older = await runCli(['release', GOOD_BUILD, '--version', '1.0.1', '--no-wait'], dir);
    expect(older.code).toBe(0);
    expect(older.stdout).toMatch(/QUEUED: shop 1\.0\.1 \(shop-1\.0\.1\)/);
    expect(older.stdout).toMatch(/queued behind shop-1\.0\.0: it runs when that one ends/);
    const newer = await runCli(['release', GOOD_BUILD, '--version', '1.0.2', '--no-wait', '--json'], dir);
    expect(newer.code).toBe(0);
    expect(JSON.parse(newer.stdout)).toMatchObject({ releaseId: 'shop-1.0.2', status: 'QUEUED' });

    await killHard(first);
    // Read verbs open the state dir but run nothing: both stay queued.
    expect((await statusOf(dir, 'shop-1.0.1'))?.status).toBe('QUEUED');
    expect((await runCli(['where'], dir)).code).toBe(0);
    expect((await statusOf(dir, 'shop-1.0.2'))?.status).toBe('QUEUED');

    const up = startCli(['up'], dir);
    running.push(up);
    await promoteWhenBaking(dir, 'shop-1.0.2');
    await eventually(
      'shop-1.0.2 SUCCEEDED',
      async () => ((await statusOf(dir, 'shop-1.0.2'))?.status === 'SUCCEEDED' ? true : undefined),
      120_000,
    );
    expect(up.output().stderr).toMatch(/resuming shop-1\.0\.2/);
    expect(await historyOf(dir)).toEqual(['shop-1.0.2 SUCCEEDED', 'shop-1.0.1 SUPERSEDED', 'shop-1.0.0 FAILED']);
    for (const region of config.regions) {
      expect(await servedVersion((region.target as { port: number }).port)).toBe('1.0.2');
      // The superseded build never touched a region: nothing of it staged or run there.
      const regionDir = join(dir, '.flotilla', 'regions', region.name);
      expect((await readdir(join(regionDir, 'releases'))).filter((f) => !f.startsWith('.'))).not.toContain('1.0.1');
      expect(await readdir(join(regionDir, 'logs'))).not.toContain('1.0.1.log');
    }
    expect(await up.stop()).toBe(0);
  }, 300_000);

  it('is picked up by the next `flotilla release`, whose newer build it gives way to', async () => {
    const { dir, config } = await slowSetup('flotilla-queue-next-');
    const first = await slowFirst(dir);
    expect((await runCli(['release', GOOD_BUILD, '--version', '1.0.1', '--no-wait'], dir)).code).toBe(0);
    await killHard(first);

    const next = startCli(['release', GOOD_BUILD, '--version', '1.0.2'], dir);
    running.push(next);
    await promoteWhenBaking(dir, 'shop-1.0.2');
    expect(await next.exited).toBe(0);
    expect(next.output().stderr).toMatch(/resuming shop-1\.0\.1/);
    expect(next.output().stdout).toMatch(/SUCCEEDED: shop 1\.0\.2/);
    expect(await historyOf(dir)).toEqual(['shop-1.0.2 SUCCEEDED', 'shop-1.0.1 SUPERSEDED', 'shop-1.0.0 FAILED']);
    for (const region of config.regions) {
      expect(await servedVersion((region.target as { port: number }).port)).toBe('1.0.2');
    }
  }, 300_000);
});
