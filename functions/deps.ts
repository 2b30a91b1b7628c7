/**
 * What the Lambda handlers need from the outside world. Each backend builds one of these:
 * the local backend with real processes, HTTP probes and dynalite; the AWS backend with SDK clients.
 */
import type { EventSink, ReleaseEvent } from '../ports/events.ts';
import type { HealthProber } from '../ports/health-prober.ts';
import type { Ledger } from '../ports/ledger.ts';
import type { NewHostLauncher } from '../ports/new-host.ts';
import type { RegionDeployer } from '../ports/region-deployer.ts';
import type { TaskCallbacks } from '../ports/task-callbacks.ts';

export interface Deps {
  ledger: Ledger;
  deployer: RegionDeployer;
  prober: HealthProber;
  /** Starts and tears down the new-host gate's fresh instances (core/new-host.ts); absent: no new-host check. */
  newHosts?: NewHostLauncher;
  events: EventSink;
  /** Milliseconds since the epoch; injected so tests and the core never read a clock themselves. */
  now: () => number;
  /** The child state machine the parent starts per region. */
  regionStateMachineArn: string;
  /**
   * Holds (waiting for people) wait inside the handler (local engine) rather than keeping a task
   * token for SendTaskSuccess (AWS).
   */
  waitAtHolds?: boolean;
  /**
   * The local engine's SendTaskSuccess/Failure: a `.waitForTaskToken` handler waits here for its
   * token to be settled (adapters/local/task-tokens.ts). Absent on AWS, where it only keeps the token.
   */
  /** Wakes waiting tasks of other releases (a queued one when this one frees the lock): SendTask* on AWS. */
  callbacks?: TaskCallbacks;
  waitForToken?: (token: string, signal?: AbortSignal) => Promise<Record<string, unknown>>;
  /** Aborted when the backend shuts down: anything waiting in a handler gives up. */
  signal?: AbortSignal;
}

export const isoAt = (deps: Pick<Deps, 'now'>): string => new Date(deps.now()).toISOString();

/**
 * Emits a release event and waits for the sink (SNS on AWS: a publish cut off when the Lambda
 * returns is an alert never sent). A failing sink never fails the release.
 */
export async function emit(
  deps: Pick<Deps, 'events' | 'now'>,
  service: string,
  releaseId: string,
  event: ReleaseEvent,
): Promise<void> {
  try {
    await deps.events.emit({ ...event, service, releaseId, at: isoAt(deps) });
  } catch {
    // Progress and alerts are best-effort: a broken terminal or topic must never fail a release.
  }
}

/** Errors the state machines match on by name. Transient ones are retried (ASL Retry); the rest are caught. */
export { namedError } from '../core/errors.ts';
