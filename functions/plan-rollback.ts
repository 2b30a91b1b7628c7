/**
 * PlanRollback: works out why the release is rolling back and which regions go back
 * (the decision itself is core/rollback.ts `planRollback`).
 */

import { describeCause, planRollback } from '../core/rollback.ts';
import type { GateState, ReleasePlan, RollbackCause, RollbackPlan, WaveEntry } from '../core/types.ts';
import { type Deps, emit, isoAt, namedError } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { eventsFromEnv } from './runtime/ports.ts';

/** The parent's state when it turns to rollback: whichever of these led here is set. */
export interface RollbackInput {
  plan: ReleasePlan;
  /** Absent when a rollback-only release goes straight from PlanRelease to here. */
  waveIndex?: number;
  entry?: WaveEntry;
  gate?: GateState;
  error?: { Error: string; Cause?: string };
}

/** Pure: the cause, from the state the parent was in. An error wins: it is the latest thing that happened. */
export function rollbackCause(input: RollbackInput): RollbackCause {
  const wave = input.waveIndex ?? 0;
  if (input.plan.mode === 'rollback')
    return { kind: 'Requested', wave, of: input.plan.rollbackOf ?? 'an earlier release' };
  if (input.error) return { kind: 'Error', wave, error: input.error.Error, cause: input.error.Cause ?? '' };
  if (input.entry?.kind === 'Blocked') return { kind: 'WaveBlocked', wave, signals: input.entry.signals };
  if (input.entry?.kind === 'Abort')
    return { kind: 'Aborted', wave, actor: input.entry.control.actor, reason: input.entry.control.reason };
  if (input.gate?.control?.kind === 'Aborted') {
    return { kind: 'Aborted', wave, actor: input.gate.control.actor, reason: input.gate.control.reason };
  }
  const evaluation = input.gate?.evaluation;
  if (evaluation?.kind === 'Failed') return { kind: 'GateFailed', wave, signals: evaluation.signals };
  if (evaluation?.kind === 'Inconclusive') return { kind: 'GateInconclusive', wave, signals: evaluation.signals };
  return {
    kind: 'Error',
    wave,
    error: 'UnknownCause',
    cause: 'rollback requested without a failed gate, block or error',
  };
}

export const createPlanRollback =
  (deps: Pick<Deps, 'ledger' | 'events' | 'now'>) =>
  async (input: RollbackInput): Promise<RollbackPlan> => {
    const { plan } = input;
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
    return rollback;
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createPlanRollback({ ledger: ledgerFromEnv(), events: eventsFromEnv(), now: Date.now }),
);
