/**
 * PlanRollback: asks the core why the release rolls back and which regions go back, each to what
 * (core/rollback.ts `rollbackCause`, `planRollback`), marks them, and says so.
 */

import { regionRef } from '../core/plan.ts';
import { describeCause, planRollback, type RollbackInput, rollbackCause } from '../core/rollback.ts';
import type { PlanRef, RollbackSteps } from '../core/types.ts';
import { type Deps, emit, isoAt, namedError } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { eventsFromEnv } from './runtime/ports.ts';
import { loadPlan } from './shared/plan.ts';

export const createPlanRollback =
  (deps: Pick<Deps, 'ledger' | 'events' | 'now'>) =>
  async (input: RollbackInput & { plan: PlanRef }): Promise<RollbackSteps> => {
    const plan = await loadPlan(deps, input.plan);
    const record = await deps.ledger.getRelease(plan.service, plan.releaseId);
    if (!record) throw namedError('ReleaseNotFound', `release ${plan.releaseId} is not in the ledger`);
    const rollback = planRollback(plan, record, rollbackCause(input));
    // Every region going back is marked before any rollback starts, in one write.
    const updatedAt = isoAt(deps);
    await deps.ledger.updateReleaseRegions(
      plan.service,
      plan.releaseId,
      rollback.steps.map((step) => ({ region: step.region, phase: 'rolling-back', updatedAt })),
    );
    await emit(deps, plan.service, plan.releaseId, {
      kind: 'rollback-started',
      regions: rollback.steps.map((s) => s.region),
      reason: describeCause(rollback.cause),
    });
    // Ids only: each region's child looks up what it goes back to (load-region-task).
    return { cause: rollback.cause, steps: rollback.steps.map(regionRef) };
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createPlanRollback({ ledger: ledgerFromEnv(), events: eventsFromEnv(), now: Date.now }),
);
