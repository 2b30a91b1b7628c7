/**
 * PlanRelease: validates the config again (the state machine may be started by anything),
 * takes the service's release lock, records the release with every region's last-known-good,
 * and returns the plan the parent state machine walks.
 */

import { formatProblems, validateConfig } from '../config/validate.ts';
import { formatArtifactProblems, resolveArtifacts } from '../core/artifacts.ts';
import type { LockHolder } from '../core/model.ts';
import { initialRecord, planRef, planRelease } from '../core/plan.ts';
import { resumeQueued } from '../core/queue.ts';
import { planRollbackOf } from '../core/rollback.ts';
import type { PlanRef, Revision, StartReleaseInput } from '../core/types.ts';
import { checkVersion } from '../core/version.ts';
import { type Deps, emit, isoAt, namedError } from './deps.ts';
import { lambda, requireEnv } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { eventsFromEnv } from './runtime/ports.ts';
import { rememberPlan } from './shared/plan.ts';

export type { StartReleaseInput };

export interface PlannedRelease {
  /** The plan's ids: the plan itself is in the ledger (the state machine's state must stay small). */
  plan: PlanRef;
  waveIndex: number;
  /** Another release of the service holds the lock: wait for a turn (ClaimTurn). */
  queued: boolean;
}

export const createPlanRelease =
  (deps: Pick<Deps, 'ledger' | 'events' | 'now' | 'regionStateMachineArn'>) =>
  async (input: StartReleaseInput): Promise<PlannedRelease> => {
    // Anything may start the state machine: the version is checked before the lock, like the config.
    const version = checkVersion(input.version);
    const parsed = validateConfig(input.config);
    if (!parsed.ok) throw namedError('InvalidConfig', formatProblems(parsed.problems));
    const config = parsed.config;
    if (input.resume) return resumed(deps, config.service, input.releaseId, version, input.owner);
    // Each region's build, checked against its platform before the lock (a rollback's builds are
    // what each region ran before, from the ledger).
    const revisions = input.rollbackOf ? undefined : regionRevisions(config, version, input);
    const plan = planRelease({
      config,
      releaseId: input.releaseId,
      version,
      artifact: input.artifact,
      regionStateMachineArn: deps.regionStateMachineArn,
      owner: input.owner,
      ...(revisions ? { revisions } : {}),
      ...(input.rollbackOf ? { rollbackOf: input.rollbackOf } : {}),
      ...(input.emergency ? { emergency: checkEmergency(input.emergency) } : {}),
    });
    // The rollback verb: the core says which regions may go back, each to what (the same rules the
    // services checked before starting this; a rollback started by anything else obeys them too).
    const target = input.rollbackOf ? await deps.ledger.getRelease(config.service, input.rollbackOf) : undefined;
    let putBack: Map<string, Revision | null> | undefined;
    let decideRollback: ((lock: LockHolder | undefined) => Map<string, Revision | null>) | undefined;
    if (input.rollbackOf) {
      if (!target) throw namedError('NotFound', `${config.service} has no release ${input.rollbackOf}`);
      const [releases, states, lock] = await Promise.all([
        deps.ledger.listReleases(config.service),
        deps.ledger.listRegions(config.service),
        deps.ledger.getLock(config.service),
      ]);
      decideRollback = (holder) => {
        const decision = planRollbackOf({
          target,
          releases: releases.filter((r) => r.releaseId !== input.releaseId),
          current: new Map(states.map((s) => [s.region, s.current])),
          lock: holder,
          now: deps.now(),
        });
        if (decision.kind === 'Refused') throw namedError(decision.refusal, decision.message);
        return new Map(decision.regions.map((r) => [r.region, r.to]));
      };
      // A retried PlanRelease of this very rollback may hold the lock already.
      putBack = decideRollback(lock?.releaseId === input.releaseId ? undefined : lock);
    }

    const startedAt = isoAt(deps);
    const lock = await deps.ledger.acquireLock(config.service, {
      releaseId: input.releaseId,
      owner: input.owner,
      acquiredAt: startedAt,
    });
    // A rollback never queues: it is refused (Busy) while another release holds the lock, as the
    // service refused it before starting this; a release took the lock in between.
    if (!lock.acquired && decideRollback) decideRollback(lock.heldBy);
    // Another release of the service is in flight: this one queues behind it (ClaimTurn); when that
    // one ends, only the newest queued build runs, the others end SUPERSEDED.
    const queued = !lock.acquired;
    try {
      // The plan goes in while the regions' states are read (after the lock: they are what this
      // release finds once the one before it ended); both are in before the record.
      const [regionStates, stored] = await Promise.all([
        deps.ledger.listRegions(config.service),
        deps.ledger.putPlan(plan),
      ]);
      // The steps after this one in this process find it kept: never read back, never a copy that differs.
      rememberPlan(deps, stored);
      const record = initialRecord(plan, regionStates, startedAt);
      if (target && putBack) {
        // Only the regions that go back count as touched here, each with what it goes back to.
        for (const [region, mine] of Object.entries(record.regions)) {
          // The others stay pending: this release never touches them.
          // `to` may be null: a ROLLBACK_FAILED release's retry takes out a region that ran nothing before.
          if (putBack.has(region))
            record.regions[region] = { ...mine, phase: 'deployed', before: putBack.get(region) ?? null };
        }
        record.rollbackOf = target.releaseId;
      }
      // The plan before the record (above): whatever sees the release can look its plan up.
      await deps.ledger.createRelease(queued ? { ...record, status: 'QUEUED' } : record);
    } catch (error) {
      if (!queued) await deps.ledger.releaseLock(config.service, input.releaseId);
      throw error;
    }
    await emit(deps, plan.service, plan.releaseId, {
      kind: 'release-started',
      version: plan.version,
      // A rollback puts every region back at once: one step, not the release's waves.
      waves: putBack
        ? [{ name: 'rollback', regions: [...putBack.keys()] }]
        : plan.waves.map((w) => ({ name: w.name, regions: w.regions.map((r) => r.region) })),
      ...(plan.emergency ? { emergency: { requester: plan.emergency.actor, reason: plan.emergency.reason } } : {}),
    });
    return { plan: planRef(plan), waveIndex: 0, queued };
  };

/**
 * A queued release whose execution died with its process, started again by the process that runs
 * the state dir's releases now: its record and plan are in the ledger already, so nothing is
 * planned or recorded anew; it goes back to ClaimTurn (superseded, aborted while queued, or its
 * turn), under the new process as the lock's owner.
 */
async function resumed(
  deps: Pick<Deps, 'ledger' | 'events' | 'now'>,
  service: string,
  releaseId: string,
  version: string,
  owner: string,
): Promise<PlannedRelease> {
  const [record, plan] = await Promise.all([
    deps.ledger.getRelease(service, releaseId),
    deps.ledger.getPlan(service, releaseId),
  ]);
  const decision = resumeQueued({ releaseId, version, record, plan });
  if (decision.kind === 'Refused') throw namedError(decision.refusal, decision.message);
  if (!plan) throw namedError('NotFound', `release ${releaseId} has no stored plan`);
  await emit(deps, service, releaseId, {
    kind: 'release-started',
    version: plan.version,
    waves: plan.waves.map((w) => ({ name: w.name, regions: w.regions.map((r) => r.region) })),
  });
  return { plan: { ...planRef(plan), owner }, waveIndex: 0, queued: true };
}

/** Every region's revision, or InvalidInput listing every region whose build cannot work there. */
function regionRevisions(
  config: Parameters<typeof resolveArtifacts>[0],
  version: string,
  input: StartReleaseInput,
): Map<string, Revision> {
  const resolved = resolveArtifacts(config, version, {
    artifact: input.artifact,
    ...(input.artifacts ? { artifacts: input.artifacts } : {}),
    ...(input.copyFrom !== undefined ? { copyFrom: input.copyFrom } : {}),
  });
  if (!resolved.ok) throw namedError('InvalidInput', formatArtifactProblems(resolved.problems));
  return resolved.revisions;
}

/** An emergency request names who asks and why; anything may start the state machine, so checked here too. */
function checkEmergency(
  emergency: NonNullable<StartReleaseInput['emergency']>,
): NonNullable<StartReleaseInput['emergency']> {
  const actor = typeof emergency.actor === 'string' ? emergency.actor.trim() : '';
  const reason = typeof emergency.reason === 'string' ? emergency.reason.trim() : '';
  if (!actor || !reason) throw namedError('InvalidInput', 'an emergency release needs who asks for it and a reason');
  return { actor, reason };
}

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createPlanRelease({
    ledger: ledgerFromEnv(),
    events: eventsFromEnv(),
    now: Date.now,
    regionStateMachineArn: requireEnv('FLOTILLA_REGION_STATE_MACHINE_ARN'),
  }),
);
