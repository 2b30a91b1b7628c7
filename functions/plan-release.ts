/**
 * PlanRelease: validates the config again (the state machine may be started by anything),
 * takes the service's release lock, records the release with every region's last-known-good,
 * and returns the plan the parent state machine walks.
 */

import { formatProblems, validateConfig } from '../config/validate.ts';
import { initialRecord, planRelease } from '../core/plan.ts';
import type { ReleasePlan } from '../core/types.ts';
import { type Deps, emit, isoAt, namedError } from './deps.ts';
import { lambda, requireEnv } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { eventsFromEnv } from './runtime/ports.ts';

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
  /** Another release of the service holds the lock: wait for a turn (ClaimTurn). */
  queued: boolean;
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
      owner: input.owner,
      ...(input.rollbackOf ? { rollbackOf: input.rollbackOf } : {}),
    });
    // The rollback verb: only a release that SUCCEEDED is put back (one still running is aborted instead).
    const target = input.rollbackOf ? await deps.ledger.getRelease(config.service, input.rollbackOf) : undefined;
    if (input.rollbackOf && target?.status !== 'SUCCEEDED') {
      throw namedError(
        'InvalidIntent',
        `rollback puts back a release that SUCCEEDED; ${input.rollbackOf} is ${target?.status ?? 'unknown'}`,
      );
    }

    const startedAt = isoAt(deps);
    const lock = await deps.ledger.acquireLock(config.service, {
      releaseId: input.releaseId,
      owner: input.owner,
      acquiredAt: startedAt,
    });
    // Another release of the service is in flight: this one queues behind it (ClaimTurn); when that
    // one ends, only the newest queued build runs, the others end SUPERSEDED.
    const queued = !lock.acquired;
    try {
      const regionStates = await deps.ledger.listRegions(config.service);
      const record = initialRecord(plan, regionStates, startedAt);
      if (target) {
        // What the rolled-back release touched counts as touched here, each with the same last-known-good.
        for (const [region, entry] of Object.entries(target.regions)) {
          const mine = record.regions[region];
          if (!mine || entry.phase === 'pending' || entry.phase === 'skipped') continue;
          record.regions[region] = { ...mine, phase: 'deployed', before: entry.before };
        }
        record.rollbackOf = target.releaseId;
      }
      await deps.ledger.createRelease(queued ? { ...record, status: 'QUEUED' } : record);
    } catch (error) {
      if (!queued) await deps.ledger.releaseLock(config.service, input.releaseId);
      throw error;
    }
    await emit(deps, plan.service, plan.releaseId, {
      kind: 'release-started',
      version: plan.version,
      waves: plan.waves.map((w) => ({ name: w.name, regions: w.regions.map((r) => r.region) })),
    });
    return { plan, waveIndex: 0, queued };
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
