/**
 * Port: the release ledger. What runs where, every release and what it did to each region,
 * and the per-service release lock. One implementation (DynamoDB) serves both backends:
 * real DynamoDB on AWS, an embedded DynamoDB-compatible server (dynalite) locally.
 */
import type { Intent } from '../core/control.ts';
import type { Revision } from './region-deployer.ts';

/** What a region runs now, as far as the ledger knows. */
export interface RegionState {
  service: string;
  region: string;
  current: Revision | null;
  /** The release that put `current` there (a deploy or a rollback). */
  releaseId: string | null;
  updatedAt: string;
}

export type RegionPhase =
  | 'pending'
  /** Left out of this release by a release manager (skip-region): it keeps its old version. */
  | 'skipped'
  | 'deploying'
  | 'deployed'
  | 'failed'
  | 'rolling-back'
  | 'rolled-back'
  | 'rollback-failed';

/** One region's part in one release. `before` is its last-known-good: what rollback returns it to. */
export interface ReleaseRegion {
  region: string;
  wave: number;
  phase: RegionPhase;
  before: Revision | null;
  /** Human-readable cause of the latest failure, if any. */
  message?: string;
  updatedAt: string;
}

/** Fields of one region's entry to change; the others stay as they are. */
export type ReleaseRegionPatch = { region: string } & Partial<
  Pick<ReleaseRegion, 'phase' | 'before' | 'message' | 'updatedAt'>
>;

export type ReleaseStatus =
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'ROLLED_BACK'
  | 'ROLLBACK_FAILED'
  | 'BLOCKED'
  | 'FAILED'
  | 'ABORTED'
  /** Waiting for the release of the service in flight to end. */
  | 'QUEUED'
  /** A newer build was queued behind it: it never ran (or stopped at an approval), the newer one runs. */
  | 'SUPERSEDED';

export interface ReleaseRecord {
  service: string;
  releaseId: string;
  version: string;
  artifact: string;
  status: ReleaseStatus;
  /** Index of the wave in flight (or last reached). */
  wave: number;
  waveCount: number;
  /** Why the release ended the way it did (gate verdict, blocked wave, error), for humans. */
  reason?: string;
  regions: Record<string, ReleaseRegion>;
  startedAt: string;
  endedAt?: string;
  /** How many promote and force intents the release has acted on (each acts once). */
  used?: { promotions: number; forces: number };
  /** Set on a release that only rolls back another one (the `rollback` verb). */
  rollbackOf?: string;
}

/** A task token of a release waiting at a hold (AWS `.waitForTaskToken`), kept so a verb can wake it. */
export interface HoldToken {
  token: string;
  reason: string;
  at: string;
}

export interface LockHolder {
  releaseId: string;
  /** Who holds it: on the local backend `local:<hostname>:<pid>`, on AWS the execution ARN. */
  owner: string;
  acquiredAt: string;
}

export type LockResult = { acquired: true } | { acquired: false; heldBy: LockHolder };

export interface Ledger {
  getRegion(service: string, region: string): Promise<RegionState | undefined>;
  listRegions(service: string): Promise<RegionState[]>;
  putRegion(state: RegionState): Promise<void>;
  /** Writes many regions' states in as few requests as the store allows (a whole wave at once). */
  putRegions(states: readonly RegionState[]): Promise<void>;

  /** Creates the release; fails with ReleaseExists if the id is taken. */
  createRelease(record: ReleaseRecord): Promise<void>;
  getRelease(service: string, releaseId: string): Promise<ReleaseRecord | undefined>;
  /** Newest first. */
  listReleases(service: string, limit?: number): Promise<ReleaseRecord[]>;
  /** Sets one region's entry of a release; concurrent calls for different regions never clobber each other. */
  putReleaseRegion(service: string, releaseId: string, entry: ReleaseRegion): Promise<void>;
  /**
   * Updates fields of several regions' entries in one write, without reading them first: a wave
   * is marked touched, or its results recorded, in one request however wide it is.
   */
  updateReleaseRegions(service: string, releaseId: string, patches: readonly ReleaseRegionPatch[]): Promise<void>;
  /** Updates release-level fields (status, wave, reason, endedAt). */
  updateRelease(
    service: string,
    releaseId: string,
    patch: Partial<Pick<ReleaseRecord, 'status' | 'wave' | 'reason' | 'endedAt' | 'used'>>,
  ): Promise<void>;

  /** Records a release manager's intent (the audit trail is these, in order). */
  putIntent(intent: Intent): Promise<void>;
  /** A release's intents oldest first; `null` for the global ones (freeze, unfreeze). */
  listIntents(service: string, releaseId: string | null): Promise<Intent[]>;
  /** Keeps the task token of a release waiting at a hold. */
  putHoldToken(service: string, releaseId: string, token: HoldToken): Promise<void>;
  /** Returns and forgets every task token a release waits on. */
  takeHoldTokens(service: string, releaseId: string): Promise<HoldToken[]>;

  /** Takes the service's release lock if free (or already held by this release: idempotent). */
  acquireLock(service: string, holder: LockHolder): Promise<LockResult>;
  /** Frees the lock if this release holds it; a no-op otherwise. */
  releaseLock(service: string, releaseId: string): Promise<void>;
  getLock(service: string): Promise<LockHolder | undefined>;
}
