/**
 * Starting a rollback release (the `rollback` verb), the one way every entry point does it: the
 * core decides whether it may run now and which regions go back (core/rollback.ts `planRollbackOf`)
 * before anything is recorded, from what the regions themselves run where the entry point can read
 * them (`regions`); then the intent is recorded (who, why, which regions) and a release named
 * `<release>-rollback` (`-2`, … once taken) is started that puts back only those regions. The same
 * request is the way back after ROLLBACK_FAILED: run again, it retries the regions not back yet.
 * PlanRelease asks the core again, so a rollback started by anything else obeys the same rules.
 */

import type { Intent } from '../core/control.ts';
import { namedError, REFUSALS, refused } from '../core/errors.ts';
import type { Revision } from '../core/model.ts';
import { observedStatesOf } from '../core/outcome.ts';
import { rollbackName } from '../core/plan.ts';
import { planRollbackOf } from '../core/rollback.ts';
import type { StartReleaseInput } from '../core/types.ts';
import type { Ledger } from '../ports/ledger.ts';
import type { ReleaseStarter, StartedRun } from '../ports/release-starter.ts';
import { checkRequestShape, newIntentStamp } from './steering.ts';

export interface RollbackDeps {
  ledger: Ledger;
  now: () => number;
  starter: ReleaseStarter;
  /** The release config the rollback release runs with (validated again by PlanRelease). */
  config: { service: string } & Record<string, unknown>;
  /** Who runs it, for the lock (`local:…`, `flotilla-cli`, `slack`). */
  owner: string;
  /**
   * What each region runs, read from the region itself (locally the fleet's `current` release;
   * `undefined` for a region it cannot read). Absent: the ledger's record is all there is. Where it
   * differs from the ledger (a release that died after switching a region), the ledger follows it.
   */
  regions?: () => Promise<ReadonlyMap<string, Revision | null | undefined>>;
}

/** Names taken by executions that never reached the ledger are skipped; this many at most. */
const MAX_NAME_TRIES = 20;

export async function startRollback(
  deps: RollbackDeps,
  request: { releaseId: string; actor: string; reason: string },
): Promise<StartedRun> {
  checkRequestShape({ verb: 'rollback', ...request });
  const service = deps.config.service;
  const target = await deps.ledger.getRelease(service, request.releaseId);
  if (!target) throw refused(REFUSALS.NotFound, `${service} has no release ${request.releaseId}`);
  const [releases, states, lock, observed] = await Promise.all([
    deps.ledger.listReleases(service),
    deps.ledger.listRegions(service),
    deps.ledger.getLock(service),
    deps.regions?.() ?? Promise.resolve(new Map<string, Revision | null | undefined>()),
  ]);
  const now = deps.now();
  const recorded = new Map(states.map((s) => [s.region, s.current]));
  const drifted = observedStatesOf(target, recorded, observed, new Date(now).toISOString());
  const current = new Map(recorded);
  for (const state of drifted) current.set(state.region, state.current);
  const decision = planRollbackOf({ target, releases, current, lock, now });
  if (decision.kind === 'Refused') throw refused(decision.refusal, decision.message);

  // No release is in flight (the lock is free): the ledger says what the regions say before
  // PlanRelease reads it again.
  if (drifted.length > 0) await deps.ledger.putRegions(drifted);
  const intent: Intent = {
    service,
    releaseId: target.releaseId,
    verb: 'rollback',
    actor: request.actor,
    reason: request.reason,
    regions: decision.audit.regions,
    ...newIntentStamp(() => Date.parse(decision.audit.at)),
  };
  await deps.ledger.putIntent(intent);
  const taken = new Set(releases.map((r) => r.releaseId));
  let attempt = 1;
  while (taken.has(rollbackName(target.releaseId, attempt))) attempt += 1;
  for (let tries = 1; ; tries += 1, attempt += 1) {
    const input: StartReleaseInput = {
      releaseId: rollbackName(target.releaseId, attempt),
      version: target.version,
      artifact: target.artifact,
      config: deps.config,
      owner: deps.owner,
      rollbackOf: target.releaseId,
    };
    try {
      return await deps.starter.start(input);
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      if (name === 'ExecutionAlreadyExists' && tries < MAX_NAME_TRIES) continue;
      throw namedError(
        'RollbackNotStarted',
        `the rollback was recorded, but starting ${input.releaseId} failed (${name || 'Error'}): try again`,
        error,
      );
    }
  }
}
