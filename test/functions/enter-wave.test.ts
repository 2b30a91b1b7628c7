/**
 * EnterWave's writes, on the real ledger code over dynalite: a wave entered at once writes what
 * changes (its regions as deploying, and the record's wave and hold only when they change).
 */
import { describe, expect, it } from 'vitest';
import { planRef } from '../../core/plan.ts';
import { createEnterWave } from '../../functions/enter-wave.ts';
import type { RegionDeployer } from '../../ports/region-deployer.ts';
import { counted } from '../helpers/counted-ledger.ts';
import { dynamoPerFile } from '../helpers/dynamo-per-file.ts';
import { runningRelease } from '../helpers/running-release.ts';

const dynamo = dynamoPerFile();
let n = 0;

async function entering() {
  n += 1;
  const { ledger: real, plan } = await runningRelease(dynamo(), `enter-wave-${n}`);
  const { ledger, calls } = counted(real);
  const deployer = { currentRevision: async () => null } as unknown as RegionDeployer;
  const enterWave = createEnterWave({
    ledger,
    deployer,
    prober: { probe: async () => [] },
    events: { emit: () => {} },
    now: Date.now,
  });
  return { real, calls, plan, enterWave };
}

describe('EnterWave of a clear wave', () => {
  it('leaves the record alone when its wave and hold are already what it would write', async () => {
    const { real, calls, plan, enterWave } = await entering();
    const entry = await enterWave({ plan: planRef(plan), waveIndex: 0 });
    expect(entry.kind).toBe('Clear');
    expect(calls.get('updateRelease') ?? 0).toBe(0);
    expect(calls.get('updateReleaseRegions')).toBe(1);
    expect((await real.getRelease('shop', plan.releaseId))?.regions['us-east-1']?.phase).toBe('deploying');
  });

  it('clears a hold the record still shows (a resumed pause)', async () => {
    const { real, calls, plan, enterWave } = await entering();
    await real.updateRelease('shop', plan.releaseId, {
      hold: { wave: 0, since: new Date().toISOString(), reasons: [{ kind: 'paused', text: 'paused by rm' }] },
    });
    const entry = await enterWave({ plan: planRef(plan), waveIndex: 0 });
    expect(entry.kind).toBe('Clear');
    expect(calls.get('updateRelease')).toBe(1);
    const record = await real.getRelease('shop', plan.releaseId);
    expect(record?.wave).toBe(0);
    expect(record?.hold ?? null).toBeNull();
  });
});
