/**
 * A release as data. Everything the state machines pass between states is one of these plain
 * JSON shapes; the pure functions in this folder decide, the functions in `functions/` act.
 */
import type { DeploySettings, GateSettings, RegionTarget } from '../config/types.ts';
import type { ReleaseStatus } from '../ports/ledger.ts';
import type { Revision } from '../ports/region-deployer.ts';

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
  target: RegionTarget;
  gate: GateSettings;
  deploy: DeploySettings;
}

export interface WavePlan {
  index: number;
  name: string;
  bakeSeconds: number;
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
}

/** Probe results for one region, accumulated over a bake. `missing` never counts toward a pass. */
export interface SampleCounts {
  ok: number;
  errors: number;
  missing: number;
  /** The latest error or missing-sample message, for the alert. */
  lastProblem?: string;
}

/** Gate verdicts, best to worst. */
export type Verdict = 'Passed' | 'Inconclusive' | 'Failed';

export type GateEvaluation =
  | { kind: 'Baking'; remainingMs: number }
  | { kind: 'Passed' }
  | { kind: 'Inconclusive'; signals: string[] }
  | { kind: 'Failed'; signals: string[] };

/** What the parent state machine does next after a gate check. */
export type GateDecision = 'continue' | 'next-wave' | 'rollback';

/** The bake of one wave, carried in the parent's state between checks. */
export interface GateState {
  wave: number;
  startedAt: number;
  bakeUntil: number;
  /** Every region deployed so far in this release, not only this wave's. */
  regions: Record<string, SampleCounts>;
  evaluation: GateEvaluation;
  decision: GateDecision;
}

/** The pre-deploy check of a wave: a region already unhealthy blocks it. */
export type WaveEntry = { kind: 'Clear' } | { kind: 'Blocked'; signals: string[] };

export type RegionOutcome = 'Deployed' | 'Failed' | 'RolledBack' | 'RollbackFailed';

/** What a child execution returns. */
export interface RegionResult {
  region: string;
  action: 'deploy' | 'rollback';
  outcome: RegionOutcome;
  /** The version the region was left on, as far as the deployer knows (null: none or unknown). */
  version: string | null;
  /** The deployment succeeded, so the region now runs the task's revision (even if unhealthy). */
  changed: boolean;
  message?: string;
  samples: SampleCounts;
}

/** Why a release is being rolled back. */
export type RollbackCause =
  | { kind: 'GateFailed'; wave: number; signals: string[] }
  | { kind: 'GateInconclusive'; wave: number; signals: string[] }
  | { kind: 'WaveBlocked'; wave: number; signals: string[] }
  | { kind: 'Error'; wave: number; error: string; cause: string };

export interface RollbackPlan {
  cause: RollbackCause;
  /** Every region touched by the release, earlier waves included, each back to its own `before`. */
  steps: RegionTask[];
}

/** The end of a release: status and, region by region, what runs there now. */
export interface ReleaseOutcome {
  releaseId: string;
  service: string;
  version: string;
  status: ReleaseStatus;
  reason: string;
  regions: { region: string; version: string | null; phase: string; message?: string }[];
}
