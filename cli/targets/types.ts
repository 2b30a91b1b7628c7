/** The release target's interface (chosen in cli/release-target.ts), shared by its implementations here. */
import type { IntentBody, ReleaseWithIntents, WhereAnswer } from '../../control/server.ts';
import type { ArtifactRequest } from '../../core/artifacts.ts';
import type { Intent } from '../../core/control.ts';
import type { EmergencyRequest } from '../../core/model.ts';
import type { ReleaseOutcome } from '../../core/types.ts';
import type { Person } from '../context.ts';

/** The reads of `status`, `history` and `where`. */
export interface Reads {
  where(): Promise<WhereAnswer>;
  release(releaseId: string): Promise<ReleaseWithIntents | undefined>;
  releases(limit: number): Promise<ReleaseWithIntents[]>;
  globalIntents(): Promise<Intent[]>;
  /** AWS only: the execution's own status and console link. */
  execution?(releaseId: string): Promise<{ status: string; consoleUrl: string }>;
  close(): Promise<void>;
}

export interface ReleaseTarget {
  readonly kind: 'aws' | 'control' | 'local';
  /**
   * Starts a release and follows it (with live progress) to its end; with --no-wait (aws, a
   * control server) returns it RUNNING once started.
   */
  release(request: { version: string; emergency?: EmergencyRequest } & ArtifactRequest): Promise<ReleaseOutcome>;
  /**
   * Local only: runs here, to its end, the release `releaseId` that a process that is gone left
   * QUEUED (and any other it left queued), as the next `release` would; one that has ended gives
   * its outcome at once.
   */
  resume?(releaseId: string): Promise<ReleaseOutcome>;
  /** The rollback verb: starts the rollback release of `releaseId` and follows it likewise. */
  rollback(releaseId: string, person: Person): Promise<ReleaseOutcome>;
  /** A steering verb: records the intent (the release acts on it at its next safe point). */
  intent(body: IntentBody): Promise<Intent>;
  /**
   * Follows a release started anywhere (another terminal, `up`, CI on AWS) with the live progress
   * a `release` shows, to its end; a release that has ended gives its outcome at once.
   */
  watch(releaseId: string): Promise<ReleaseOutcome>;
  /**
   * `flotilla unlock`: frees the service's lock if the release holding it no longer runs, audited
   * (services/unlock.ts); refused (Busy) while it runs.
   */
  unlock(person: Person): Promise<UnlockAnswer>;
  /** Opens the reads; the caller closes them. */
  reads(): Promise<Reads>;
}

export interface UnlockAnswer {
  intent: Intent;
  closed: boolean;
  lockFreed: boolean;
  woken: string[];
}

/** What --no-wait answers for a release queued behind another: it runs when that one ends (exit 0). */
export function queuedOutcome(releaseId: string, service: string, version: string, reason: string): ReleaseOutcome {
  return { releaseId, service, version, status: 'QUEUED', reason, regions: [] };
}

/** What --no-wait answers: the release started and runs on (`reason` says where to look). */
export function runningOutcome(releaseId: string, service: string, version: string, reason: string): ReleaseOutcome {
  return { releaseId, service, version, status: 'RUNNING', reason, regions: [] };
}
