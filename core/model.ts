/**
 * The release's domain model: what runs where, every release and what it did to each region, the
 * lock and hold tokens, probe samples. Plain data shared by the core, the ports and the adapters;
 * the ports import these, never the reverse.
 */

/** What gets deployed: a version and where its bits are. */
/** How a deployment stands, as every deployer reports it (ports/region-deployer.ts). */
export type DeploymentStatus =
  | { status: 'InProgress' }
  | { status: 'Succeeded' }
  /**
   * `untouched`: the deployer knows the region still runs what it ran before (the failure came
   * before anything there was stopped or switched), so it needs no rollback. Absent: unknown.
   */
  | { status: 'Failed'; message: string; untouched?: boolean };

export interface Revision {
  version: string;
  /**
   * Where the bits are. Local: the absolute path of a build directory. CodeDeploy: `s3://bucket/key`
   * (an S3 bundle for Server platforms) or `appspec:<content>` (AppSpec content for Lambda and ECS).
   */
  artifact: string;
  /**
   * CodeDeploy Server regions: an S3 bundle to copy into `artifact` (this region's bucket) before
   * the region deploys, when `artifact` is not there yet: CI uploads one bundle, and the deployer's
   * staging puts a copy in each region's bucket (core/artifacts.ts `resolveArtifacts`).
   */
  copyFrom?: string;
}

/** One probe's result. `missing` means no answer in time: it is neither a pass nor a failure. */
export type ProbeSample =
  | { kind: 'ok'; status?: number; version?: string }
  | { kind: 'error'; status?: number; version?: string; message: string }
  | { kind: 'missing'; message: string };

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
  /** Its deployment failed and changed nothing there (the deployer said so): it needs no rollback. */
  untouched?: boolean;
  /** The build was staged here ahead of the region's wave (StageAhead): the deployer's id for it. */
  staging?: { id: string };
  updatedAt: string;
}

/** Fields of one region's entry to change; the others stay as they are. */
export type ReleaseRegionPatch = { region: string } & Partial<
  Pick<ReleaseRegion, 'phase' | 'before' | 'message' | 'untouched' | 'staging' | 'updatedAt'>
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

/**
 * The break-glass lane: who asked for an emergency release and why. It needs a second, distinct
 * approver before its first wave, and stays marked for review (history, dashboard, Slack).
 */
export interface EmergencyRequest {
  actor: string;
  reason: string;
}

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
  /** An emergency release (`release --emergency`): always marked for review once it ran. */
  emergency?: EmergencyRequest & { review: true };
  /** What the release waits for right now, if anything (null or absent: it is not held). */
  hold?: ReleaseHold | null;
}

/** Why a release waits: each reason with who caused it. */
export interface HoldReason {
  kind: 'paused' | 'frozen' | 'window' | 'approval' | 'queued' | 'inconclusive';
  /** For people: "paused by ops@host: reason", "eu-west-1 is outside its window (…)". */
  text: string;
  /** Who caused it, when a person did (pause, freeze). */
  actor?: string;
}

/** A release waiting at a safe point: before wave `wave` (or at its gate), since when, and why. */
export interface ReleaseHold {
  wave: number;
  since: string;
  reasons: HoldReason[];
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
