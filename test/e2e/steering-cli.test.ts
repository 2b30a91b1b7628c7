/**
 * What a release manager sees from the CLI while steering: holds in `status` (text and --json) with
 * who caused them, service-wide intents in `history`, and a verb that changes nothing refused with
 * its documented exit code. Real `flotilla` processes, real regions, the real ledger.
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

describe('steering from the CLI', () => {
  it('status shows the hold and who caused it; history lists the freeze; no-op verbs exit 6', async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'USD' }],
    ]);
    for (const wave of config.waves) wave.bakeSeconds = 120;
    config.gate.bakeSeconds = 120;
    const t = await tempDir('flotilla-steer-cli-');
    cleanups.push(t.cleanup);
    const dir = t.dir;
    await writeFile(join(dir, 'flotilla.yml'), stringify(config));
    const release = startCli(['release', GOOD_BUILD], dir);
    running.push(release);
    await release.waitForOutput(/us-east-1: deployed/, 60_000);

    const resume = await runCli(['resume', '--reason', 'nothing to resume', '--actor', 'ann@test'], dir);
    expect(resume.code).toBe(6);
    expect(resume.stderr).toMatch(/is not paused: nothing to resume/);
    expect((await runCli(['pause', '--reason', 'graphs', '--actor', 'ann@test'], dir)).code).toBe(0);
    const twice = await runCli(['pause', '--reason', 'again', '--actor', 'ann@test'], dir);
    expect(twice.code).toBe(6);
    expect(twice.stderr).toMatch(/already paused by ann@test: graphs/);
    const force = await runCli(['force', '--reason', 'hurry', '--actor', 'ann@test'], dir);
    expect(force.code).toBe(6);
    expect(force.stderr).toMatch(/nothing to force/);
    const missing = await runCli(['pause', 'shop-9.9.9', '--reason', 'r'], dir);
    expect(missing.code).toBe(4);

    expect((await runCli(['promote', '--reason', 'wave 1 fine', '--actor', 'ann@test'], dir)).code).toBe(0);
    const held = await eventually('wave 2 held by the pause', async () => {
      const status = await runCli(['status', '--json'], dir);
      const summary = JSON.parse(status.stdout) as { hold: { wave: number; reasons: { kind: string }[] } | null };
      return summary.hold?.wave === 2 ? summary.hold : undefined;
    });
    expect(held.reasons).toEqual([{ kind: 'paused', text: 'paused by ann@test: graphs', actor: 'ann@test' }]);
    const text = await runCli(['status'], dir);
    expect(text.stdout).toMatch(/RUNNING \(wave 2\/2 HELD since \S+\)/);
    expect(text.stdout).toMatch(/^ {2}held: paused by ann@test: graphs$/m);

    expect((await runCli(['freeze', '--reason', 'incident 42', '--actor', 'ops@test'], dir)).code).toBe(0);
    const frozenAgain = await runCli(['freeze', '--reason', 'again', '--actor', 'ops@test'], dir);
    expect(frozenAgain.code).toBe(6);
    expect((await runCli(['abort', '--reason', 'enough', '--actor', 'ann@test'], dir)).code).toBe(0);
    expect(await release.exited).toBe(1);
    expect((await runCli(['unfreeze', '--reason', 'over', '--actor', 'ops@test'], dir)).code).toBe(0);

    const history = await runCli(['history'], dir);
    expect(history.stdout).toMatch(/every shop release +ops@test freeze — incident 42/);
    expect(history.stdout).toMatch(/every shop release +ops@test unfreeze — over/);
    const entries = JSON.parse((await runCli(['history', '--json'], dir)).stdout) as { kind: string; verb?: string }[];
    expect(entries.map((e) => e.verb ?? e.kind)).toEqual(['unfreeze', 'freeze', 'release']);
    const after = JSON.parse((await runCli(['status', '--json'], dir)).stdout) as { status: string; hold: unknown };
    expect(after).toMatchObject({ status: 'ABORTED', hold: null });
  }, 180_000);
});
