/**
 * `flotilla status --watch` and `flotilla watch`: a second terminal follows a release started in a
 * first one, with the same view as the terminal that started it (wave names, bake and gate lines,
 * holds), and exits with the release's exit code. A release submitted through `flotilla up` shows
 * that same view in the terminal that submitted it. Real `flotilla` processes, real regions.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Background, runCli, startCli } from '../helpers/cli.ts';
import { BROKEN_BUILD, e2eConfig, GOOD_BUILD, tempDir } from '../helpers/local.ts';

const running: Background[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop();
  for (const c of cleanups.splice(0)) await c();
});

/** A workspace whose canary bakes long enough to be watched (until promoted), then a EUR wave. */
async function workspace(canaryBakeSeconds: number): Promise<string> {
  const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }], [{ name: 'eu-west-1', currency: 'EUR' }]]);
  config.waves[0] = { ...config.waves[0], name: 'canary', bakeSeconds: canaryBakeSeconds } as (typeof config.waves)[0];
  config.waves[1] = { ...config.waves[1], name: 'europe' } as (typeof config.waves)[1];
  config.gate.bakeSeconds = canaryBakeSeconds;
  const t = await tempDir('flotilla-watch-');
  cleanups.push(t.cleanup);
  await writeFile(join(t.dir, 'flotilla.yml'), stringify(config));
  return t.dir;
}

function started(args: string[], dir: string): Background {
  const b = startCli(args, dir);
  running.push(b);
  return b;
}

describe('status --watch', () => {
  it('follows a release started in another terminal and exits with its code', async () => {
    const dir = await workspace(300);
    const release = started(['release', BROKEN_BUILD], dir);
    await release.waitForOutput(/us-east-1: deployed/, 60_000);

    const watch = started(['status', '--watch'], dir);
    const json = started(['watch', '--json'], dir);
    // The watcher's view: the real wave names, the bake as it goes.
    await watch.waitForOutput(/wave 1 gate \(1 region \+ new host \(us-east-1\)\): baking, \d+s left/, 60_000);
    expect(watch.output().stdout).toMatch(/canary: us-east-1 \| europe: eu-west-1/);

    expect((await runCli(['promote', '--reason', 'canary fine', '--actor', 'ann@test'], dir)).code).toBe(0);
    // The broken build fails in the EUR region: the release rolls back and exits 1; so do its watchers.
    expect(await release.exited).toBe(1);
    expect(await watch.exited).toBe(1);
    expect(await json.exited).toBe(1);
    const seen = watch.output().stdout;
    expect(seen).toMatch(/wave 1 gate \(1 region \+ new host \(us-east-1\)\): promoted by ann@test — canary fine/);
    expect(seen).toMatch(/wave 2 \(europe\): eu-west-1/);
    expect(seen).toMatch(/wave 2 gate \(2 regions \+ new host \(eu-west-1\)\): FAILED: eu-west-1/);
    expect(seen).toMatch(/ROLLING BACK/);
    expect(seen).toMatch(/^ROLLED_BACK: shop 1\.1\.0/m);
    expect(JSON.parse(json.output().stdout)).toMatchObject({ status: 'ROLLED_BACK', version: '1.1.0' });

    // Once it has ended, watching it again shows its end at once, with the same code.
    const again = await runCli(['status', '--watch', 'shop-1.1.0'], dir);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/^ROLLED_BACK: shop 1\.1\.0/m);
    const missing = await runCli(['watch', 'shop-9.9.9'], dir);
    expect(missing.code).toBe(4);
  }, 240_000);

  it('shows a release submitted through `up` in full in the terminal that submitted it', async () => {
    const dir = await workspace(2);
    const up = started(['up'], dir);
    await up.waitForOutput(/control API on/, 60_000);
    const release = await runCli(['release', GOOD_BUILD], dir);
    expect(release.code, release.stderr).toBe(0);
    expect(release.stdout).toMatch(
      /release shop-1\.0\.0: shop 1\.0\.0 in 2 waves \(canary: us-east-1 \| europe: eu-west-1\)/,
    );
    expect(release.stdout).toMatch(/wave 1 gate \(1 region \+ new host \(us-east-1\)\): baking, \d+s left/);
    expect(release.stdout).toMatch(/wave 1 gate \(1 region \+ new host \(us-east-1\)\): passed/);
    expect(release.stdout).toMatch(/wave 2 \(europe\): eu-west-1/);
    expect(release.stdout).toMatch(/^SUCCEEDED: shop 1\.0\.0/m);
    expect(release.stdout).not.toMatch(/wave-1/);
  }, 240_000);
});
