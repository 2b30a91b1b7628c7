/**
 * Starting a rollback release (the `rollback` verb), the one way every entry point does it: the
 * core decides which regions may go back (core/rollback.ts `planRollbackOf`) before anything is
 * recorded; then the intent is recorded and a release named `<release>-rollback` (`-2`, … once
 * taken) is started that puts back only those regions. PlanRelease asks the core again, so a
 * rollback started by anything else obeys the same rules.
 */
import { namedError, REFUSALS, refused } from '../core/errors.ts';
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
  const releases = await deps.ledger.listReleases(service);
  const current = new Map((await deps.ledger.listRegions(service)).map((s) => [s.region, s.current]));
  const decision = planRollbackOf({ target, releases, current });
  if (decision.kind === 'Refused') throw refused(decision.refusal, decision.message);

  await deps.ledger.putIntent({
    service,
    releaseId: target.releaseId,
    verb: 'rollback',
    actor: request.actor,
    reason: request.reason,
    ...newIntentStamp(deps.now),
  });
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
