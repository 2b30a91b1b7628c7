/**
 * FinishRelease: every path through the release state machine ends here. Decides the terminal
 * status (core/outcome.ts), writes it with each region's version, frees the service lock and
 * wakes the releases queued behind it.
 */

import { concludeRelease, observedStates, resultPatches, resultStates } from '../core/outcome.ts';
import { regionsToPutBack, touchedRegions } from '../core/rollback.ts';
import type { PlanRef, RegionResult, ReleaseOutcome, RollbackCause } from '../core/types.ts';
import type { ReleaseRecord } from '../ports/ledger.ts';
import { wakeQueued } from '../services/queue.ts';
import { type Deps, emit, isoAt, namedError } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { newHostSweeperFromEnv } from './runtime/new-hosts.ts';
import { callbacksFromEnv, deployerFromEnv, eventsFromEnv } from './runtime/ports.ts';
import { loadPlan } from './shared/plan.ts';
import { unstage } from './shared/unstage.ts';

export type FinishInput =
  | { plan: PlanRef; conclusion: 'Succeeded' }
  | { plan: PlanRef; conclusion: 'RolledBack'; cause: RollbackCause; results: RegionResult[] }
  /** A newer build took this release's turn (queued) or its pending approval. */
  | { plan: PlanRef; conclusion: 'Superseded'; by: string }
  /** The rollback machinery itself failed: judge each touched region by what the ledger recorded. */
  | { plan: PlanRef; conclusion: 'RollbackErrored'; waveIndex: number; error: { Error: string; Cause?: string } };

function resultsFromLedger(record: ReleaseRecord): RegionResult[] {
  return regionsToPutBack(record).map((region) => {
    const entry = record.regions[region];
    const ok = entry?.phase === 'rolled-back';
    return {
      region,
      action: 'rollback',
      outcome: ok ? 'rolled-back' : 'rollback-failed',
      version: null,
      changed: false,
      ...(ok
        ? {}
        : { message: entry?.message ?? `left ${entry?.phase ?? 'unknown'}: rollback did not run to its end` }),
      samples: { ok: 0, errors: 0, missing: 0 },
    };
  });
}

export const createFinishRelease =
  (deps: Pick<Deps, 'ledger' | 'deployer' | 'events' | 'now' | 'callbacks' | 'newHosts'>) =>
  async (input: FinishInput): Promise<ReleaseOutcome> => {
    const { plan } = input;
    const full = await loadPlan(deps, plan);
    // Whatever new host a path through the machine left up (an error between its start and its
    // gate's decision) goes before the end is written: never a stranger holding a port (or an ECS
    // task) after it. The release's targets say where the AWS launcher looks (its ECS clusters).
    const everywhere = full.waves.flatMap((w) => w.regions.map((t) => t.target));
    // The record is read while the new hosts stop: nothing of it is written before both are done.
    // Unless the rollback's results go in first (below), the regions' states are read with it.
    const writesFirst = input.conclusion === 'RolledBack' && input.results.length > 0;
    const listRegions = () => {
      const read = deps.ledger.listRegions(plan.service);
      read.catch(() => {});
      return read;
    };
    let listed = writesFirst ? undefined : listRegions();
    let [, record] = await Promise.all([
      deps.newHosts?.stopLeft?.(plan.releaseId, everywhere).catch(() => []),
      deps.ledger.getRelease(plan.service, plan.releaseId),
    ]);
    if (!record) throw namedError('ReleaseNotFound', `release ${plan.releaseId} is not in the ledger`);
    if (writesFirst) {
      // The rollback's results in two requests: what each region runs now (its last-known-good), and its phase.
      const updatedAt = isoAt(deps);
      const before = record.regions;
      await deps.ledger.putRegions(
        resultStates(input.results, (r) => before[r.region]?.before ?? null, {
          service: plan.service,
          releaseId: plan.releaseId,
          updatedAt,
        }),
      );
      await deps.ledger.updateReleaseRegions(plan.service, plan.releaseId, resultPatches(input.results, updatedAt));
      // The regions' states are read while the record is read again (after the rollback's writes above).
      listed = listRegions();
      record = (await deps.ledger.getRelease(plan.service, plan.releaseId)) ?? record;
    }
    // Every touched region's final state is what the region itself says now, read back before the end.
    const targets = new Map(full.waves.flatMap((w) => w.regions.map((t) => [t.region, t.target] as const)));
    const observed = new Map(
      await Promise.all(
        touchedRegions(record).flatMap((region) => {
          const target = targets.get(region);
          if (!target) return [];
          return [
            deps.deployer.currentRevision(region, target).then(
              (current) => [region, current] as const,
              () => [region, undefined] as const,
            ),
          ];
        }),
      ),
    );
    let states = await (listed ?? listRegions());
    const drifted = observedStates(new Map(states.map((s) => [s.region, s.current])), observed, {
      service: plan.service,
      releaseId: plan.releaseId,
      updatedAt: isoAt(deps),
    });
    if (drifted.length > 0) {
      await deps.ledger.putRegions(drifted);
      states = await deps.ledger.listRegions(plan.service);
    }
    const versions = Object.fromEntries(states.map((s) => [s.region, s.current?.version ?? null]));
    let outcome: ReleaseOutcome;
    switch (input.conclusion) {
      case 'Succeeded':
        outcome = concludeRelease(record, { kind: 'Succeeded' }, versions);
        break;
      case 'RolledBack':
        outcome = concludeRelease(record, { kind: 'RolledBack', cause: input.cause, results: input.results }, versions);
        break;
      case 'Superseded':
        outcome = {
          ...concludeRelease(record, { kind: 'Succeeded' }, versions),
          status: 'SUPERSEDED',
          reason: `superseded by ${input.by}`,
        };
        break;
      case 'RollbackErrored': {
        const cause: RollbackCause = {
          kind: 'Error',
          wave: input.waveIndex,
          error: input.error.Error,
          cause: input.error.Cause ?? '',
        };
        outcome = concludeRelease(record, { kind: 'RolledBack', cause, results: resultsFromLedger(record) }, versions);
        break;
      }
    }
    await unstage(deps, full, record, versions);
    await deps.ledger.updateRelease(plan.service, plan.releaseId, {
      status: outcome.status,
      reason: outcome.reason,
      endedAt: isoAt(deps),
      hold: null,
    });
    await deps.ledger.releaseLock(plan.service, plan.releaseId);
    // The queue moves on the release ending, not on the queued ones polling.
    if (deps.callbacks)
      await wakeQueued({ ledger: deps.ledger, callbacks: deps.callbacks }, plan.service, plan.releaseId);
    await emit(deps, plan.service, plan.releaseId, { kind: 'release-finished', outcome });
    return outcome;
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createFinishRelease({
    ledger: ledgerFromEnv(),
    deployer: deployerFromEnv(),
    // A one-off ECS task a path through the machine left running (ListTasks by startedBy and tag).
    newHosts: newHostSweeperFromEnv(),
    events: eventsFromEnv(),
    now: Date.now,
    callbacks: callbacksFromEnv(),
  }),
);
