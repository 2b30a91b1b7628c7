/**
 * PlanRelease: validates the config again (the state machine may be started by anything),
 * takes the service's release lock, records the release with every region's last-known-good,
 * and returns the plan the parent state machine walks.
 */

import { lambda, requireEnv } from '../backends/aws/lambda.ts';
import { ledgerFromEnv } from '../backends/aws/ledger.ts';
import { eventsFromEnv } from '../backends/aws/ports.ts';
import { formatProblems, validateConfig } from '../config/validate.ts';
import { initialRecord, planRelease } from '../core/plan.ts';
import type { ReleasePlan } from '../core/types.ts';
import { type Deps, emit, isoAt, namedError } from './deps.ts';

export interface StartReleaseInput {
  releaseId: string;
  version: string;
  artifact: string;
  /** The release config; validated here again and rejected with every problem listed. */
  config: unknown;
  /** Who started it, for the lock: `local:<host>:<pid>` or an execution ARN. */
  owner: string;
  /** The `rollback` verb: this release only puts back what that SUCCEEDED release changed. */
  rollbackOf?: string;
}

export interface PlannedRelease {
  plan: ReleasePlan;
  waveIndex: number;
}

export const createPlanRelease =
  (deps: Pick<Deps, 'ledger' | 'events' | 'now' | 'regionStateMachineArn'>) =>
  async (input: StartReleaseInput): Promise<PlannedRelease> => {
    const parsed = validateConfig(input.config);
    if (!parsed.ok) throw namedError('InvalidConfig', formatProblems(parsed.problems));
    const config = parsed.config;
    const plan = planRelease({
      config,
      releaseId: input.releaseId,
      version: input.version,
      artifact: input.artifact,
      regionStateMachineArn: deps.regionStateMachineArn,
    });

    const startedAt = isoAt(deps);
    const lock = await deps.ledger.acquireLock(config.service, {
      releaseId: input.releaseId,
      owner: input.owner,
      acquiredAt: startedAt,
    });
    if (!lock.acquired) {
      throw namedError(
        'ServiceLocked',
        `${config.service} is being released by ${lock.heldBy.releaseId} (${lock.heldBy.owner}, since ${lock.heldBy.acquiredAt})`,
      );
    }
    try {
      const regionStates = await deps.ledger.listRegions(config.service);
      await deps.ledger.createRelease(initialRecord(plan, regionStates, startedAt));
    } catch (error) {
      await deps.ledger.releaseLock(config.service, input.releaseId);
      throw error;
    }
    await emit(deps, plan.service, plan.releaseId, {
      kind: 'release-started',
      version: plan.version,
      waves: plan.waves.map((w) => ({ name: w.name, regions: w.regions.map((r) => r.region) })),
    });
    return { plan, waveIndex: 0 };
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createPlanRelease({
    ledger: ledgerFromEnv(),
    events: eventsFromEnv(),
    now: Date.now,
    regionStateMachineArn: requireEnv('FLOTILLA_REGION_STATE_MACHINE_ARN'),
  }),
);
