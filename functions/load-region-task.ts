/**
 * LoadRegionTask (child execution, first state): the parent hands each region's child only ids
 * (core/types.ts RegionRef), so that a wave or a rollback of any width fits Step Functions' 256 KiB
 * state; this looks up the whole task (target, revision, settings) from the plan and the release
 * record in the ledger (core/plan.ts `regionTask`). The child's own state then holds one task.
 */

import { regionTask } from '../core/plan.ts';
import type { RegionRef, RegionTask } from '../core/types.ts';
import { type Deps, namedError } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { loadPlan } from './shared/plan.ts';

export const createLoadRegionTask =
  (deps: Pick<Deps, 'ledger'>) =>
  async ({ task: ref }: { task: RegionRef }): Promise<RegionTask> => {
    // The task is in the plan; its region's entry of the release record (read alone: the record
    // of 100 regions weighs ~225 KB) adds what staging made there (a deploy) or what the region
    // ran before (a rollback).
    // A deploy EnterWave saw nothing staged for is the plan's task as it stands: no read of the entry.
    const known = ref.action === 'deploy' && ref.staged === false;
    const [plan, entry] = await Promise.all([
      loadPlan(deps, ref),
      known ? undefined : deps.ledger.getReleaseRegion(ref.service, ref.releaseId, ref.region),
    ]);
    const task = regionTask(plan, { regions: entry ? { [ref.region]: entry } : {} }, ref);
    if (!task)
      throw namedError('InvalidState', `release ${ref.releaseId} has no region ${ref.region} to ${ref.action}`);
    return task;
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() => createLoadRegionTask({ ledger: ledgerFromEnv() }));
