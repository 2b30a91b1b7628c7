/**
 * A region left on a bad build after ROLLBACK_FAILED, and the way back through Flotilla: the
 * rollback's redeploy of the last good build fails once (a transient deploy failure), the release
 * ends ROLLBACK_FAILED with that region still on the bad build (wave entry then blocks every later
 * release there), and `flotilla rollback <id> --reason R` puts back exactly that region. Real
 * `flotilla` processes, real regions, the real ledger; what the regions serve is the answer.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { createStartBake } from '../../functions/start-bake.ts';
import { runCli } from '../helpers/cli.ts';
import { asLocal } from '../helpers/fixtures.ts';
import { BROKEN_BUILD, e2eConfig, GOOD_BUILD, servedVersion, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  for (const c of cleanups.splice(0)) await c();
});

async function served(config: FlotillaConfig): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const r of config.regions) out[r.name] = await servedVersion(asLocal(r.target).port);
  return out;
}

describe('a region stuck on a bad build after ROLLBACK_FAILED', () => {
  it('goes back to its last good build with `flotilla rollback`, audited, and the next release passes wave entry', async () => {
    // The broken build crashes for EUR: wave 2's gate fails, and eu-west-1's rollback deploy fails once.
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'EUR' }],
    ]);
    const t = await tempDir('flotilla-stuck-');
    cleanups.push(t.cleanup);
    const dir = t.dir;
    const useConfig = (c: FlotillaConfig) => writeFile(join(dir, 'flotilla.yml'), stringify(c));
    await useConfig(config);
    const good = await runCli(['release', GOOD_BUILD, '--version', '1.0.0'], dir);
    expect(good.code, good.stderr).toBe(0);

    const failingRollback = structuredClone(config);
    asLocal(failingRollback.regions[1]?.target).faults = [{ kind: 'deploy-fail', on: 'rollback', ms: 0 }];
    await useConfig(failingRollback);
    const bad = await runCli(['release', BROKEN_BUILD, '--version', '1.1.0', '--json'], dir);
    const outcome = JSON.parse(bad.stdout) as { status: string; reason: string };
    expect(outcome.status, outcome.reason).toBe('ROLLBACK_FAILED');
    expect(outcome.reason).toMatch(/rollback failed in eu-west-1/);
    expect(await served(config)).toEqual({ 'us-east-1': '1.0.0', 'eu-west-1': '1.1.0' });
    // The ledger says what the region runs: the bad build, not its last good one.
    const stuck = JSON.parse((await runCli(['where', '--json'], dir)).stdout) as {
      regions: { region: string; version: string | null }[];
    };
    expect(stuck.regions).toMatchObject([
      { region: 'us-east-1', version: '1.0.0' },
      { region: 'eu-west-1', version: '1.1.0' },
    ]);

    // The fault was transient, but the fix cannot go out: eu-west-1, sick on 1.1.0, blocks its wave.
    await useConfig(config);
    const blocked = await runCli(['release', GOOD_BUILD, '--version', '1.1.1', '--json'], dir);
    const refusedFix = JSON.parse(blocked.stdout) as { status: string; reason: string };
    expect(refusedFix.status, refusedFix.reason).toBe('ROLLED_BACK');
    expect(refusedFix.reason).toMatch(/wave 2 blocked before deploying: eu-west-1 was already unhealthy on 1\.1\.0/);

    // The retry puts back eu-west-1 only (us-east-1 is back already).
    const retry = await runCli(
      ['rollback', 'shop-1.1.0', '--reason', 'eu-west-1 stuck on 1.1.0', '--actor', 'rm@test', '--json'],
      dir,
    );
    expect(retry.code, retry.stderr + retry.stdout).toBe(0);
    const retried = JSON.parse(retry.stdout) as {
      releaseId: string;
      status: string;
      regions: { region: string; version: string | null; phase: string }[];
    };
    expect(retried.releaseId).toBe('shop-1.1.0-rollback');
    expect(retried.status).toBe('ROLLED_BACK');
    expect(retried.regions.filter((r) => r.phase !== 'pending')).toEqual([
      expect.objectContaining({ region: 'eu-west-1', version: '1.0.0', phase: 'rolled-back' }),
    ]);
    expect(await served(config)).toEqual({ 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0' });
    const where = JSON.parse((await runCli(['where', '--json'], dir)).stdout) as {
      regions: { region: string; version: string | null; releaseId: string | null }[];
    };
    expect(where.regions).toMatchObject([
      { region: 'us-east-1', version: '1.0.0' },
      { region: 'eu-west-1', version: '1.0.0', releaseId: 'shop-1.1.0-rollback' },
    ]);
    // The audit: who, why, which regions.
    const status = JSON.parse((await runCli(['status', 'shop-1.1.0', '--json'], dir)).stdout) as {
      intents: { verb: string; actor: string; reason: string; regions?: string[] }[];
    };
    expect(status.intents).toEqual([
      expect.objectContaining({
        verb: 'rollback',
        actor: 'rm@test',
        reason: 'eu-west-1 stuck on 1.1.0',
        regions: ['eu-west-1'],
      }),
    ]);

    // Nothing is left to put back: refused, one line, with NoChange's exit code.
    const again = await runCli(['rollback', 'shop-1.1.0', '--reason', 'again'], dir);
    expect(again.code).toBe(6);
    expect(again.stderr.trim().split('\n'), again.stderr).toHaveLength(1);

    // And the fix goes out: wave entry finds every region healthy.
    const fix = await runCli(['release', GOOD_BUILD, '--version', '1.2.0', '--json'], dir);
    const fixed = JSON.parse(fix.stdout) as { status: string; reason: string };
    expect(fixed.status, fixed.reason).toBe('SUCCEEDED');
    expect(await served(config)).toEqual({ 'us-east-1': '1.2.0', 'eu-west-1': '1.2.0' });
  }, 240_000);

  it('after an execution that died once a wave switched: the record and the ledger say what the region runs, and rollback puts it back', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    const t = await tempDir('flotilla-stuck-died-');
    cleanups.push(t.cleanup);
    // 2.0.0's StartBake answers without recording the wave or giving the bake's length: the
    // execution dies (States.Runtime at PrepareBake) after us-east-1 switched to 2.0.0, and no step
    // wrote that down.
    const backend = await openLocalBackend({
      stateDir: t.dir,
      config,
      functionOverrides: {
        'start-bake': (deps) => {
          const real = createStartBake(deps);
          return async (input: Parameters<typeof real>[0]) =>
            input.plan.version === '2.0.0'
              ? ({ decision: 'continue' } as Awaited<ReturnType<typeof real>>)
              : real(input);
        },
      },
    });
    open.push(backend);
    expect(await backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    const died = await backend.start({ version: '2.0.0', artifact: GOOD_BUILD });
    await expect(died.done).rejects.toThrow();
    const port = asLocal(config.regions[0]?.target).port;
    expect(await servedVersion(port)).toBe('2.0.0');
    const record = await backend.ledger.getRelease('shop', 'shop-2.0.0');
    expect(record?.status).toBe('FAILED');
    expect(record?.reason).toMatch(/no rollback ran: us-east-1 runs 2\.0\.0/);
    expect((await backend.ledger.getRegion('shop', 'us-east-1'))?.current?.version).toBe('2.0.0');

    const rollback = await backend.rollback('shop-2.0.0', { actor: 'rm@test', reason: 'died mid-release' });
    expect((await rollback.done).status).toBe('ROLLED_BACK');
    expect(await servedVersion(port)).toBe('1.0.0');
    expect((await backend.ledger.listIntents('shop', 'shop-2.0.0')).map((i) => i.regions)).toEqual([['us-east-1']]);
  }, 120_000);
});
