/**
 * A release as data. Everything the state machines pass between states is one of these plain
 * JSON shapes; the pure functions in this folder decide, the functions in `functions/` act.
 */
import type { DeploySettings, DeployWindow, GateSettings, RegionTarget } from './config.ts';
import type { DeploymentHandle } from './deploy-wait.ts';
import type { EmergencyRequest, RegionPhase, ReleaseStatus, Revision } from './model.ts';

export type { ReleaseStatus, Revision };

/** One region's job in a release: what the child execution (region.asl.json) receives. */
export interface RegionTask {
  releaseId: string;
  service: string;
  region: string;
  wave: number;
  action: 'deploy' | 'rollback';
  /** The revision to put there; null only when rolling back a region that had nothing before. */
  revision: Revision | null;
  /**
   * A deploy's staging in the region (its release record's `staging.id`, LoadRegionTask reads it):
   * the deployer deploys what it staged, e.g. the task definition it registered or the Lambda
   * version it published there (adapters/aws/stage-id.ts). Absent: nothing was staged.
   */
  stageId?: string;
  target: RegionTarget;
  /** When the region may be deployed to (its local time); none: always. */
  window?: DeployWindow;
  gate: GateSettings;
  deploy: DeploySettings;
}

export interface WavePlan {
  index: number;
  name: string;
  bakeSeconds: number;
  /** An adaptive bake: it ends at this many seconds once the evidence is in, else at bakeSeconds (core/bake.ts). */
  bakeMinSeconds?: number;
  /** Waits for a release manager's promote before deploying. */
  approval: boolean;
  /** How many of its regions deploy at once: DeployWave's MaxConcurrencyPath. */
  maxParallel: number;
  /** A fresh instance of the new build is started and gated on after the wave deploys (core/new-host.ts). */
  newHost?: boolean;
  regions: RegionTask[];
}

/** The release as PlanRelease lays it out: the parent state machine walks `waves` in order. */
export interface ReleasePlan {
  releaseId: string;
  service: string;
  version: string;
  artifact: string;
  waveCount: number;
  waves: WavePlan[];
  gate: GateSettings;
  deploy: DeploySettings;
  /** The child state machine each region runs in. Comes from the backend, so the ASL holds no ARN. */
  regionStateMachineArn: string;
  /** Who runs it (`local:<host>:<pid>` or an execution ARN), for the service's lock. */
  owner: string;
  /** 'rollback': this release only rolls back `rollbackOf` (the rollback verb). */
  mode: 'release' | 'rollback';
  rollbackOf?: string;
  /** The break-glass lane: short bakes, a second approver before the first wave (core/entry.ts). */
  emergency?: EmergencyRequest;
}

/**
 * What the release state machine carries of the plan: ids and the few fields its own states read.
 * The plan itself is in the ledger (PlanRelease puts it there) and the handlers look it up: the
 * whole plan of 100 regions with a 2 KB AppSpec each passed Step Functions' 256 KiB state limit.
 */
export interface PlanRef {
  releaseId: string;
  service: string;
  version: string;
  owner: string;
  /** MoreWaves compares the wave index with it. */
  waveCount: number;
  /** DeployWave and RollbackAll start each region's child execution on it. */
  regionStateMachineArn: string;
  /** IsRollbackOnly routes on it. */
  mode: ReleasePlan['mode'];
  rollbackOf?: string;
  /** BakeWait waits this long between gate checks. */
  gate: Pick<GateSettings, 'intervalSeconds'>;
}

/**
 * One region's job as the parent hands it to a child execution: ids only. The child looks up the
 * task (target, revision, settings) from the plan and the release record in the ledger.
 */
export interface RegionRef {
  releaseId: string;
  service: string;
  region: string;
  wave: number;
  action: RegionTask['action'];
  /**
   * A deploy whose region nothing was staged in, as EnterWave saw the record: its task is the
   * plan's alone, and the child reads nothing of the record. Absent: the child looks the region up.
   */
  staged?: false;
}

/** Probe results for one region, accumulated over a bake. `missing` never counts toward a pass. */
export interface SampleCounts {
  ok: number;
  errors: number;
  missing: number;
  /** The latest error or missing-sample message, for the alert. */
  lastProblem?: string;
}

/**
 * A wave's bake in progress, kept where its watchers find it (the local HTTP prober; on AWS the
 * scheduled prober and the alarm-event handler): the task token to fail when a signal turns bad,
 * what to probe, and the samples the watchers gathered for the final check.
 */
export interface BakeWatch {
  service: string;
  releaseId: string;
  wave: number;
  token: string;
  startedAt: number;
  bakeUntil: number;
  /** An adaptive bake: from here on a watcher that sees the evidence in ends the wait (core/bake.ts). */
  bakeMinUntil?: number;
  /** The version every region must report. */
  version: string;
  gate: GateSettings;
  /**
   * Every region deployed so far in the release, with what to probe, and the wave's new hosts by
   * name; `newHost`: the handle of one its launcher probes (NewHostRef `probedBy: 'launcher'`).
   */
  regions: { region: string; target: RegionTarget; newHost?: Record<string, string | number> }[];
  /** Samples the watchers gathered during this wait, by region. */
  samples: Record<string, SampleCounts>;
}

/**
 * A region's deployment waited on (core/deploy-wait.ts): the child's task token, kept under the
 * deployment's id so that its state change (CodeDeploy's event on AWS, the local fleet) finds the
 * waiting child, and what the waker needs to read the deployment and settle the wait.
 */
export interface DeployWait {
  deploymentId: string;
  /** The token of the child's current wait (each round of the wait has its own on AWS). */
  token: string;
  service: string;
  releaseId: string;
  region: string;
  target: RegionTarget;
  deploy: Pick<DeploySettings, 'pollSeconds' | 'maxPollSeconds'>;
  /** The child's handle as of this wait, which the waker settles. */
  handle: DeploymentHandle;
  /** When the wait began (ISO). */
  at: string;
}

/** Gate verdicts, best to worst. */
export type Verdict = 'Passed' | 'Inconclusive' | 'Failed';

export type GateEvaluation =
  | { kind: 'Baking'; remainingMs: number }
  | { kind: 'Passed'; early?: EarlyEnd }
  | { kind: 'Inconclusive'; signals: string[] }
  | { kind: 'Failed'; signals: string[] };

/**
 * An adaptive bake that ended at its min because the evidence was in (core/bake.ts `evidenceIn`):
 * what it had, for the events, the terminal, the dashboard and Slack.
 */
export interface EarlyEnd {
  /** Seconds into the bake it ended. */
  afterSeconds: number;
  /** The bake's max: how long it would have run. */
  maxSeconds: number;
  /** How many regions (every one deployed so far) had passed, the wave's new hosts not counted. */
  regions: number;
  /** How many of the wave's new hosts had passed beside them (core/new-host.ts). */
  newHosts: number;
  /** The fewest answered samples any of them (regions and new hosts) had. */
  samples: number;
  /** One line: "bake ended early at 5m of 1h: 1 region and its new host × ≥10 samples, all under threshold". */
  text: string;
}

/** What the parent state machine does next after a gate check ('hold': wait for a human). */
export type GateDecision = 'continue' | 'next-wave' | 'rollback' | 'hold';

/** A release manager's action that decided a gate or a wave entry, for the record. */
export interface ControlAction {
  kind: 'Aborted' | 'Promoted';
  actor: string;
  reason: string;
}

/** The bake of one wave, carried in the parent's state between checks. */
export interface GateState {
  wave: number;
  startedAt: number;
  bakeUntil: number;
  /** An adaptive bake: from here on the bake ends as soon as the evidence is in. */
  bakeMinUntil?: number;
  /** Every region deployed so far in this release, not only this wave's. */
  regions: Record<string, SampleCounts>;
  evaluation: GateEvaluation;
  decision: GateDecision;
  /** Keep baking: the bake's wait lasts this many whole seconds (what is left of the bake). */
  waitSeconds?: number;
  /** Set when a human decided instead of the signals (abort, promote). */
  control?: ControlAction;
  /** How many intents (the release's and the global ones) this decision saw: a hold wakes on more. */
  intentsSeen: number;
  /** The wave's new hosts (core/new-host.ts), gated on with the regions until the gate passes or fails. */
  newHosts?: NewHostRef[];
  /** Why the wave asked for a new host and has none (its platform has none here): said in every gate event. */
  noNewHost?: string;
}

/** A new host the gate counts: what the launcher started, as the release's state carries it. */
export interface NewHostRef {
  /** How it shows in signals, events and views: `new host (eu-west-1)`. */
  name: string;
  /** The region whose build and settings it was started from. */
  region: string;
  wave: number;
  /** What the ordinary health prober probes (a local process on its spare port); none: only its launch samples count. */
  target?: RegionTarget;
  /** The launcher's own handle (a pid and port, a task ARN), passed back to stop it. */
  handle: Record<string, string | number>;
  /**
   * `launcher`: each probe round asks the launcher (NewHostLauncher.probe), which first asks its
   * platform whether the host is up yet (a one-off ECS task launched without waiting), not the
   * ordinary prober. Absent: the ordinary prober probes `target`.
   */
  probedBy?: 'launcher';
  /** The samples gathered from it so far. */
  counts: SampleCounts;
}

/**
 * The entry check of a wave. Clear carries the regions to deploy (skipped ones left out); Hold
 * waits (paused, frozen, a window closed, an approval) and is re-checked after `holdSeconds` or
 * as soon as someone acts; Blocked (a region already unhealthy) and Abort roll back.
 */
export type WaveEntry =
  /** `maxParallel`: how many of the wave's regions deploy at once (DeployWave's MaxConcurrencyPath). */
  | { kind: 'Clear'; regions: RegionRef[]; skipped: string[]; maxParallel: number }
  | { kind: 'Blocked'; signals: string[] }
  | { kind: 'Hold'; reasons: string[]; holdSeconds: number; intentsSeen: number; approvalOnly: boolean }
  | { kind: 'Abort'; control: ControlAction }
  /** Waiting for an approval while a newer build is queued: the approval moves to the newer build. */
  | { kind: 'Superseded'; by: string };

/** How a region's job ended, in the one region-state vocabulary (core/model.ts RegionPhase). */
export type RegionOutcome = Extract<RegionPhase, 'deployed' | 'failed' | 'rolled-back' | 'rollback-failed'>;

/** What a child execution returns. */
export interface RegionResult {
  region: string;
  action: 'deploy' | 'rollback';
  outcome: RegionOutcome;
  /** The version the region was left on, as far as the deployer knows (null: none or unknown). */
  version: string | null;
  /** The deployment succeeded, so the region now runs the task's revision (even if unhealthy). */
  changed: boolean;
  /** The deployment failed and the deployer knows nothing in the region changed: it needs no rollback. */
  untouched?: boolean;
  message?: string;
  samples: SampleCounts;
}

/** Why a release is being rolled back. */
export type RollbackCause =
  | { kind: 'Aborted'; wave: number; actor: string; reason: string }
  | { kind: 'Requested'; wave: number; of: string }
  | { kind: 'GateFailed'; wave: number; signals: string[] }
  | { kind: 'GateInconclusive'; wave: number; signals: string[] }
  | { kind: 'WaveBlocked'; wave: number; signals: string[] }
  | { kind: 'Error'; wave: number; error: string; cause: string };

export interface RollbackPlan {
  cause: RollbackCause;
  /** Every region touched by the release, earlier waves included, each back to its own `before`. */
  steps: RegionTask[];
}

/** The rollback as the state machine carries it: the same regions, as ids (RollbackAll's items). */
export interface RollbackSteps {
  cause: RollbackCause;
  steps: RegionRef[];
}

/** The end of a release: status and, region by region, what runs there now. */
export interface ReleaseOutcome {
  releaseId: string;
  service: string;
  version: string;
  status: ReleaseStatus;
  reason: string;
  regions: { region: string; version: string | null; phase: RegionPhase; message?: string }[];
}

/** What starts a release execution (PlanRelease's input): the same on both backends. */
export interface StartReleaseInput {
  releaseId: string;
  version: string;
  artifact: string;
  /** Region name → its own artifact, overriding `artifact` there (core/artifacts.ts). */
  artifacts?: Record<string, string>;
  /** An S3 bundle the deployer copies into each Server region's bucket (core/artifacts.ts). */
  copyFrom?: string;
  /** The release config; validated here again and rejected with every problem listed. */
  config: unknown;
  /** Who started it, for the lock: `local:<host>:<pid>` or an execution ARN. */
  owner: string;
  /** The `rollback` verb: this release only puts back what that release changed (core/rollback.ts `planRollbackOf`). */
  rollbackOf?: string;
  /** The break-glass lane (`release --emergency --reason R`): who asks, and why. */
  emergency?: EmergencyRequest;
  /**
   * Resume a release already in the ledger as QUEUED, with its stored plan, whose execution died
   * with the process that ran it (the local backend: a killed `flotilla release` or `up`). PlanRelease
   * plans nothing anew and records nothing: it hands the stored plan, under this `owner`, to ClaimTurn
   * (core/queue.ts `resumeQueued`). `version` must be the queued one's.
   */
  resume?: true;
}
