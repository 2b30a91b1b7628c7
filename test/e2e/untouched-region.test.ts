/**
 * A region whose deployment failed before anything there changed still runs its last-known-good:
 * it needs no rollback, and a rollback of it (which can only fail or churn a healthy region) must
 * not turn a clean ROLLED_BACK into ROLLBACK_FAILED. Real processes, the real ASL and ledger.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import { asLocal } from '../helpers/fixtures.ts';
import { e2eConfig, GOOD_BUILD, servedVersion, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('a region whose deploy is refused', () => {
  it('is left alone by the rollback: the release ends ROLLED_BACK and the region still serves its old version', async () => {
    const healthy = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'USD' }],
    ]);
    const t = await tempDir('flotilla-untouched-');
    cleanups.push(t.cleanup);
    const first = await openLocalBackend({ stateDir: t.dir, config: healthy });
    open.push(first);
    expect(await first.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    await first.close();
    open.splice(0);

    // Now every deployment to eu-west-1 is refused, its rollbacks too.
    const refusing = structuredClone(healthy);
    asLocal(refusing.regions[1]?.target).faults = [{ kind: 'deploy-fail', on: 'always', ms: 0 }];
    const second = await openLocalBackend({ stateDir: t.dir, config: refusing });
    open.push(second);
    const outcome = await second.release({ version: '1.0.1', artifact: GOOD_BUILD });
    expect(outcome.status, outcome.reason).toBe('ROLLED_BACK');
    expect(outcome.reason).toMatch(/^rolled back us-east-1 after gate failed in wave 2: eu-west-1: deployment failed/);
    const record = await second.ledger.getRelease('shop', outcome.releaseId);
    expect(record?.regions['eu-west-1']).toMatchObject({ phase: 'failed', untouched: true });
    expect(record?.regions['us-east-1']?.phase).toBe('rolled-back');
    for (const r of healthy.regions) expect(await servedVersion(asLocal(r.target).port)).toBe('1.0.0');
    const where = new Map((await second.ledger.listRegions('shop')).map((s) => [s.region, s.current?.version]));
    expect(Object.fromEntries(where)).toEqual({ 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0' });
  });
});
