/**
 * RecordRegionResult (child execution, last step): turns what happened into a RegionResult and,
 * when bits changed, records what the region runs now. The region's phase in the release is
 * written by the parent with the rest of its wave (resultPatches).
 */

import { lambda } from '../backends/aws/lambda.ts';
import { ledgerFromEnv } from '../backends/aws/ledger.ts';
import { eventsFromEnv } from '../backends/aws/ports.ts';
import { emptyCounts, rollbackHealthy } from '../core/gate.ts';
import type { RegionResult, RegionTask, SampleCounts } from '../core/types.ts';
import type { RegionProgress } from '../ports/events.ts';
import { type Deps, emit, isoAt } from './deps.ts';
import type { DeploymentHandle } from './start-region-deploy.ts';

export interface ChildState {
  task: RegionTask;
  deployment?: DeploymentHandle;
  verification?: SampleCounts;
  /** Set by a Catch: the error of the step that failed. */
  error?: { Error: string; Cause?: string };
}

function errorMessage(error: NonNullable<ChildState['error']>): string {
  let cause = error.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string; message?: string };
    cause = parsed.errorMessage ?? parsed.message ?? cause;
  } catch {
    // Cause is plain text already.
  }
  return cause ? `${error.Error}: ${cause}` : error.Error;
}

/** Pure: what the child's steps add up to. */
export function regionResult(state: ChildState): RegionResult {
  const { task, deployment, verification, error } = state;
  const samples = verification ?? emptyCounts();
  const base = { region: task.region, action: task.action, samples };
  const target = task.revision?.version ?? null;
  const failure = error
    ? errorMessage(error)
    : deployment?.status !== 'Succeeded'
      ? (deployment?.message ?? `deployment ended ${deployment?.status ?? 'without a status'}`)
      : undefined;
  if (failure !== undefined) {
    // What runs there now is whatever the ledger knew; the handler fills `version` in.
    return {
      ...base,
      outcome: task.action === 'deploy' ? 'Failed' : 'RollbackFailed',
      version: null,
      message: failure,
    };
  }
  if (task.action === 'deploy') return { ...base, outcome: 'Deployed', version: target };
  if (task.revision === null || rollbackHealthy(samples, task.gate))
    return { ...base, outcome: 'RolledBack', version: target };
  const answered = samples.ok + samples.errors;
  return {
    ...base,
    outcome: 'RollbackFailed',
    version: target,
    message: `unhealthy after rollback to ${target}: ${samples.errors}/${answered} probes failed, ${samples.missing} unanswered${samples.lastProblem ? ` (${samples.lastProblem})` : ''}`,
  };
}

const progressOf: Record<RegionResult['outcome'], RegionProgress> = {
  Deployed: 'deployed',
  Failed: 'deploy-failed',
  RolledBack: 'rolled-back',
  RollbackFailed: 'rollback-failed',
};

export const createRecordRegionResult =
  (deps: Pick<Deps, 'ledger' | 'events' | 'now'>) =>
  async (state: ChildState): Promise<RegionResult> => {
    const { task } = state;
    const result = regionResult(state);
    const at = isoAt(deps);
    // Bits changed when the deployment succeeded: the region now runs the task's revision
    // (for a rollback, even an unhealthy one; the phase says it is not healthy).
    if (state.deployment?.status === 'Succeeded') {
      await deps.ledger.putRegion({
        service: task.service,
        region: task.region,
        current: task.revision,
        releaseId: task.releaseId,
        updatedAt: at,
      });
    } else {
      const known = await deps.ledger.getRegion(task.service, task.region);
      result.version = known?.current?.version ?? null;
    }
    await emit(deps, task.service, task.releaseId, {
      kind: 'region',
      wave: task.wave,
      region: task.region,
      state: progressOf[result.outcome],
      version: result.version,
      ...(result.message ? { message: result.message } : {}),
    });
    return result;
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createRecordRegionResult({ ledger: ledgerFromEnv(), events: eventsFromEnv(), now: Date.now }),
);
