/**
 * Port: the release ledger. What runs where, every release and what it did to each region,
 * and the per-service release lock. One implementation (DynamoDB) serves both backends:
 * real DynamoDB on AWS, an embedded DynamoDB-compatible server (dynalite) locally.
 */
import type { Intent } from '../core/control.ts';
import type { BranchHead } from '../core/github.ts';
import type {
  HoldToken,
  LockHolder,
  RegionPhase,
  RegionState,
  ReleaseRecord,
  ReleaseRegion,
  ReleaseRegionPatch,
  ReleaseStatus,
} from '../core/model.ts';
import type { BakeWatch, DeployWait, ReleasePlan, SampleCounts } from '../core/types.ts';

export type {
  BranchHead,
  HoldToken,
  LockHolder,
  RegionPhase,
  RegionState,
  ReleaseRecord,
  ReleaseRegion,
  ReleaseRegionPatch,
  ReleaseStatus,
};

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
  /** One region's entry of a release, read without the rest of the record (a rollback's child needs only its own). */
  getReleaseRegion(service: string, releaseId: string, region: string): Promise<ReleaseRegion | undefined>;
  /** Newest first. */
  listReleases(service: string, limit?: number): Promise<ReleaseRecord[]>;
  /**
   * Keeps the plan PlanRelease made, for the handlers to look up: the state machines carry only
   * its ids (core/types.ts PlanRef, RegionRef). Written once, never changed: the same plan may be
   * put again (idempotent), another plan under the same release id fails with ReleaseExists.
   * Resolves with the plan exactly as `getPlan` reads it back, for a caller to keep.
   */
  putPlan(plan: ReleasePlan): Promise<ReleasePlan>;
  getPlan(service: string, releaseId: string): Promise<ReleasePlan | undefined>;
  /** Sets one region's entry of a release; concurrent calls for different regions never clobber each other. */
  putReleaseRegion(service: string, releaseId: string, entry: ReleaseRegion): Promise<void>;
  /**
   * Updates fields of several regions' entries without reading them first: a wave is marked
   * touched, or its results recorded, in as few writes as DynamoDB's 4 KB expression limit allows
   * (one up to about 30 regions). Each region's fields are written together; a region the release
   * lacks fails the call (ReleaseNotFound), possibly after earlier regions were written.
   */
  updateReleaseRegions(service: string, releaseId: string, patches: readonly ReleaseRegionPatch[]): Promise<void>;
  /** Updates release-level fields (status, wave, reason, endedAt). */
  updateRelease(
    service: string,
    releaseId: string,
    patch: Partial<Pick<ReleaseRecord, 'status' | 'wave' | 'reason' | 'endedAt' | 'used' | 'hold'>>,
  ): Promise<void>;

  /** Records a release manager's intent (the audit trail is these, in order). */
  putIntent(intent: Intent): Promise<void>;
  /** A release's intents oldest first; `null` for the global ones (freeze, unfreeze). */
  listIntents(service: string, releaseId: string | null): Promise<Intent[]>;
  /** Keeps the task token of a release waiting at a hold. */
  putHoldToken(service: string, releaseId: string, token: HoldToken): Promise<void>;
  /** Returns and forgets every task token a release waits on. */
  takeHoldTokens(service: string, releaseId: string): Promise<HoldToken[]>;

  /** Starts (or restarts) watching a release's bake: one per release, replacing any earlier one. */
  putBake(watch: BakeWatch): Promise<void>;
  /** Every bake being watched now, of every service (the scheduled prober and the alarm handler look here). */
  listBakes(): Promise<BakeWatch[]>;
  /**
   * Adds a watcher's samples to a bake, atomically; false when that bake (this wave, this token)
   * is no longer watched, so a late round never lands in the next one.
   */
  addBakeSamples(
    watch: Pick<BakeWatch, 'service' | 'releaseId' | 'wave' | 'token'>,
    samples: Readonly<Record<string, SampleCounts>>,
  ): Promise<boolean>;
  /** Stops watching a release's bake and returns it with what the watchers gathered. */
  takeBake(service: string, releaseId: string): Promise<BakeWatch | undefined>;

  /** Keeps (or replaces: each round of the wait has a new token) the wait on a deployment, under its id. */
  putDeployWait(wait: DeployWait): Promise<void>;
  /** The wait on a deployment, if a child waits on it now. */
  getDeployWait(deploymentId: string): Promise<DeployWait | undefined>;
  /**
   * Forgets the wait on a deployment and returns it: of two wakers racing (the event and the
   * re-check), exactly one gets it back, so the child is woken once.
   */
  takeDeployWait(deploymentId: string): Promise<DeployWait | undefined>;

  /** Takes the service's release lock if free (or already held by this release: idempotent). */
  acquireLock(service: string, holder: LockHolder): Promise<LockResult>;
  /** Frees the lock if this release holds it; a no-op otherwise. */
  releaseLock(service: string, releaseId: string): Promise<void>;
  getLock(service: string): Promise<LockHolder | undefined>;

  /**
   * Claims a one-time key (a signed Slack request, say) until `expiresAt` (ms since the epoch):
   * true for the first claim, false for every later one. One conditional write, so two handlers
   * racing on the same key never both win. The store may forget the key after `expiresAt`
   * (DynamoDB TTL), so keys must be ones that cannot be valid again by then.
   */
  claimRequest(key: string, expiresAt: number): Promise<boolean>;
  /** The newest push seen for the service's branch (webhook deliveries only), if any. */
  getBranchHead(service: string, branch: string): Promise<BranchHead | undefined>;
  /**
   * Records `head` as the branch's newest push if the stored one is still `previous` (undefined:
   * none yet), in one conditional write: of two deliveries racing from the same head, one wins and
   * the other gets false (and orders itself against the winner).
   */
  putBranchHead(service: string, head: BranchHead, previous: BranchHead | undefined): Promise<boolean>;
}

/** What the webhook needs of the ledger. */
export type BranchHeads = Pick<Ledger, 'getBranchHead' | 'putBranchHead'>;
