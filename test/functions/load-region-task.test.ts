/**
 * LoadRegionTask, the first state of a region's child, on the real ledger code over dynalite: a
 * deploy EnterWave saw nothing staged for comes from the plan alone, with no read of the record;
 * any other ref reads the region's entry (what staging made there, what a rollback goes back to).
 */
import { describe, expect, it } from 'vitest';
import { deployRef, regionRef } from '../../core/plan.ts';
import type { RegionTask } from '../../core/types.ts';
import { createLoadRegionTask } from '../../functions/load-region-task.ts';
import { counted } from '../helpers/counted-ledger.ts';
import { dynamoPerFile } from '../helpers/dynamo-per-file.ts';
import { runningRelease } from '../helpers/running-release.ts';

const dynamo = dynamoPerFile();
let n = 0;

async function setUp() {
  n += 1;
  const { ledger: real, plan } = await runningRelease(dynamo(), `load-task-${n}`);
  const { ledger, calls } = counted(real);
  // The region the record has (the release's first, already deployed).
  const task = plan.waves[0]?.regions[0] as RegionTask;
  return { real, ledger, calls, task, load: createLoadRegionTask({ ledger }) };
}

describe('LoadRegionTask', () => {
  it('takes a deploy of a region nothing was staged in from the plan, reading nothing of the record', async () => {
    const { calls, task, load } = await setUp();
    const ref = deployRef(task, undefined);
    expect(ref.staged).toBe(false);
    expect(await load({ task: ref })).toEqual(task);
    expect(calls.get('getReleaseRegion') ?? 0).toBe(0);
  });

  it('reads the region’s entry when staging made something there, and deploys what it made', async () => {
    const { real, calls, task, load } = await setUp();
    await real.updateReleaseRegions('shop', task.releaseId, [
      { region: task.region, staging: { id: 'stage-abc' }, updatedAt: new Date().toISOString() },
    ]);
    const ref = deployRef(task, { staging: { id: 'stage-abc' } });
    expect(ref.staged).toBeUndefined();
    expect(await load({ task: ref })).toEqual({ ...task, stageId: 'stage-abc' });
    expect(calls.get('getReleaseRegion')).toBe(1);
  });

  it('reads the entry for a ref that does not say (an execution started before refs said it)', async () => {
    const { calls, task, load } = await setUp();
    expect(await load({ task: regionRef(task) })).toEqual(task);
    expect(calls.get('getReleaseRegion')).toBe(1);
  });
});
