/**
 * RecordRegionResult (child execution, last step): turns what happened into a RegionResult. The
 * parent records the results of a whole wave (or rollback) in the ledger at once: the regions'
 * phases and what each now runs (core/outcome.ts `resultPatches`, `resultStates`).
 */

import { emptyCounts, rollbackHealthy } from '../core/gate.ts';
import type { RegionResult, RegionTask, SampleCounts } from '../core/types.ts';
import { type Deps, emit } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { eventsFromEnv } from './runtime/ports.ts';
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
  const changed = deployment?.status === 'Succeeded';
  const base = { region: task.region, action: task.action, samples, changed };
  const target = task.revision?.version ?? null;
  const failure = error
    ? errorMessage(error)
    : deployment?.status !== 'Succeeded'
      ? (deployment?.message ?? `deployment ended ${deployment?.status ?? 'without a status'}`)
      : undefined;
  if (failure !== undefined) {
    return {
      ...base,
      ...(deployment?.untouched && !changed ? { untouched: true } : {}),
      outcome: task.action === 'deploy' ? 'failed' : 'rollback-failed',
      // A deployment that failed may have left anything there; the ledger keeps what it knew.
      version: changed ? target : null,
      message: failure,
    };
  }
  if (task.action === 'deploy') return { ...base, outcome: 'deployed', version: target };
  if (task.revision === null || rollbackHealthy(samples, task.gate))
    return { ...base, outcome: 'rolled-back', version: target };
  const answered = samples.ok + samples.errors;
  return {
    ...base,
    outcome: 'rollback-failed',
    version: target,
    message: `unhealthy after rollback to ${target}: ${samples.errors}/${answered} probes failed, ${samples.missing} unanswered${samples.lastProblem ? ` (${samples.lastProblem})` : ''}`,
  };
}

export const createRecordRegionResult =
  (deps: Pick<Deps, 'events' | 'now'>) =>
  async (state: ChildState): Promise<RegionResult> => {
    const { task } = state;
    const result = regionResult(state);
    await emit(deps, task.service, task.releaseId, {
      kind: 'region',
      wave: task.wave,
      region: task.region,
      state: result.outcome,
      version: result.version,
      ...(result.message ? { message: result.message } : {}),
    });
    return result;
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() => createRecordRegionResult({ events: eventsFromEnv(), now: Date.now }));
