/**
 * A queue that keeps its promises, from the CLI: a build released while another release runs waits
 * in the queue and its `flotilla release` follows it to its own end (it does not return QUEUED at
 * once), and the process hosting the queue does not exit, dropping it, when its own release ends.
 * Real processes, real regions, the real ledger.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Background, eventually, runCli, startCli } from '../helpers/cli.ts';
import { e2eConfig, GOOD_BUILD, tempDir } from '../helpers/local.ts';

const running: Background[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop();
  for (const c of cleanups.splice(0)) await c();
});

describe('a queued release from the CLI', () => {
  it('is followed to its own end, and the process hosting it waits for it', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    for (const wave of config.waves) wave.bakeSeconds = 120;
    config.gate.bakeSeconds = 120;
    const t = await tempDir('flotilla-queue-cli-');
    cleanups.push(t.cleanup);
    const dir = t.dir;
    await writeFile(join(dir, 'flotilla.yml'), stringify(config));

    const first = startCli(['release', GOOD_BUILD], dir);
    running.push(first);
    await first.waitForOutput(/us-east-1: deployed/, 60_000);
    const second = startCli(['release', GOOD_BUILD, '--version', '1.0.1'], dir);
    running.push(second);
    await eventually('the second release queued', async () => {
      const status = await runCli(['status', 'shop-1.0.1', '--json'], dir);
      return status.code === 0 && (JSON.parse(status.stdout) as { status: string }).status === 'QUEUED'
        ? true
        : undefined;
    });
    await new Promise((ok) => setTimeout(ok, 1000));
    expect(second.child.exitCode).toBeNull();

    expect((await runCli(['promote', 'shop-1.0.0', '--reason', 'first is fine'], dir)).code).toBe(0);
    await eventually('the second release running', async () => {
      const status = await runCli(['status', 'shop-1.0.1', '--json'], dir);
      const record = JSON.parse(status.stdout) as { status: string; regions: { phase: string }[] };
      return record.status === 'RUNNING' && record.regions[0]?.phase === 'deployed' ? true : undefined;
    });
    // The first release is over, but its process hosts the second: it stays.
    expect(first.child.exitCode).toBeNull();
    expect(first.output().stderr).toMatch(/waiting for shop-1\.0\.1, submitted to this process, to end/);

    expect((await runCli(['promote', 'shop-1.0.1', '--reason', 'second is fine'], dir)).code).toBe(0);
    expect(await second.exited).toBe(0);
    expect(second.output().stdout).toMatch(/SUCCEEDED: shop 1\.0\.1/);
    expect(await first.exited).toBe(0);
    const history = JSON.parse((await runCli(['history', '--json'], dir)).stdout) as {
      releaseId?: string;
      status?: string;
    }[];
    expect(history.filter((e) => e.releaseId).map((e) => `${e.releaseId} ${e.status}`)).toEqual([
      'shop-1.0.1 SUCCEEDED',
      'shop-1.0.0 SUCCEEDED',
    ]);
  }, 180_000);
});
