/**
 * Recovery from an abnormal end of a release's execution, the one way both backends do it: on AWS
 * an EventBridge rule on the release state machine's executions ending FAILED, TIMED_OUT or
 * ABORTED runs functions/execution-ended.ts; locally the backend calls this when the engine's run
 * ends without FinishRelease. It closes the record (core/recovery.ts decides), frees the lock if the
 * release still holds it, drops its waits, wakes the next queued release and alerts.
 */
import type { Revision } from '../core/model.ts';
import { observedStatesOf } from '../core/outcome.ts';
import { type AbnormalEnd, recoverAbnormalEnd } from '../core/recovery.ts';
import type { EventSink } from '../ports/events.ts';
import type { Ledger } from '../ports/ledger.ts';
import type { NewHostLauncher } from '../ports/new-host.ts';
import type { TaskCallbacks } from '../ports/task-callbacks.ts';
import { wakeQueued } from './queue.ts';

export interface RecoveryDeps {
  ledger: Ledger;
  callbacks: TaskCallbacks;
  events: EventSink;
  now: () => number;
  /**
   * What each region runs, read from the region itself (`undefined`: it cannot say). The execution
   * died where no step recorded what it did, say right after a wave's regions switched: the record
   * and the ledger then say what the regions say, so a later `rollback` puts back what runs there.
   * Absent (AWS's execution-ended Lambda has no deployer), the ledger is all there is.
   */
  regions?: () => Promise<ReadonlyMap<string, Revision | null | undefined>>;
  /** Stops a new host the release left mid-gate (on AWS a one-off ECS task; locally the backend's own sweep does). */
  newHosts?: Pick<NewHostLauncher, 'stopLeft'>;
}

export interface Recovered {
  /** The record was still open and is now FAILED. */
  closed: boolean;
  /** This release held the service's lock, and it is free now. */
  lockFreed: boolean;
  /** Queued releases woken to claim the lock. */
  woken: string[];
}

export async function recoverRelease(
  deps: RecoveryDeps,
  end: AbnormalEnd & { service: string; releaseId: string },
): Promise<Recovered> {
  const { service, releaseId } = end;
  const record = await deps.ledger.getRelease(service, releaseId);
  let closed = false;
  if (record) {
    const states = await deps.ledger.listRegions(service);
    const observed = (await deps.regions?.().catch(() => undefined)) ?? new Map();
    const drifted = observedStatesOf(
      record,
      new Map(states.map((s) => [s.region, s.current])),
      observed,
      new Date(deps.now()).toISOString(),
    );
    const versions = Object.fromEntries(
      [...states, ...drifted].map((s) => [s.region, s.current?.version ?? null] as const),
    );
    const recovery = recoverAbnormalEnd(record, end, versions, deps.now());
    if (recovery.kind === 'close') {
      if (drifted.length > 0) await deps.ledger.putRegions(drifted);
      await deps.ledger.updateRelease(service, releaseId, recovery.patch);
      closed = true;
      try {
        await deps.events.emit({
          kind: 'release-finished',
          outcome: recovery.outcome,
          service,
          releaseId,
          at: recovery.patch.endedAt,
        });
      } catch {
        // The alert is best-effort; the record and the lock are what must not stay stuck.
      }
    }
  }
  await deps.ledger.takeBake(service, releaseId);
  await deps.ledger.takeHoldTokens(service, releaseId);
  if (deps.newHosts?.stopLeft) {
    // Where its new hosts may run: the plan's targets. Best effort: the lock and the record matter more.
    const plan = await deps.ledger.getPlan(service, releaseId).catch(() => undefined);
    const targets = (plan?.waves ?? []).flatMap((w) => w.regions.map((t) => t.target));
    if (targets.length > 0) await deps.newHosts.stopLeft(releaseId, targets).catch(() => []);
  }
  const lockFreed = (await deps.ledger.getLock(service))?.releaseId === releaseId;
  if (lockFreed) await deps.ledger.releaseLock(service, releaseId);
  const woken = lockFreed ? await wakeQueued(deps, service, releaseId) : [];
  return { closed, lockFreed, woken };
}
