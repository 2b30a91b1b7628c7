/**
 * The rollback decision, whole: *whether* a release rolls back (a gate verdict, an abort, a
 * promote that passes a bake, a failed deploy, a blocked wave, an error), *which* regions go back,
 * each *to what*, and *why*. Pure. The state machine's Choice states only route on what these
 * functions return; the `rollback` verb's rules (which regions a rollback of a finished release
 * may put back) are here too, so the verb and the release agree.
 */

import type { GateSettings } from './config.ts';
import { type ControlState, type Intent, latest } from './control.ts';
import { REFUSALS, type Refusal } from './errors.ts';
import type { LockHolder, ReleaseRecord, ReleaseRegion, Revision } from './model.ts';
import type {
  ControlAction,
  GateDecision,
  GateEvaluation,
  GateState,
  RegionTask,
  ReleasePlan,
  RollbackCause,
  RollbackPlan,
  WaveEntry,
} from './types.ts';

export interface AfterCheck {
  decision: GateDecision;
  /** Set when a person decided instead of the signals (abort, promote). */
  control?: ControlAction;
  /** A promote was used up deciding this. */
  usesPromotion: boolean;
}

/**
 * What a wave does after a gate check. An abort rolls back whatever the signals say; a Failed
 * gate rolls back (a promote never passes a failure); a promote ends a bake or passes an
 * Inconclusive hold, and is used up doing so; otherwise the verdict decides: baking goes on,
 * Passed moves on, Inconclusive rolls back or holds for a human as the config says.
 */
export function afterCheck(input: {
  evaluation: GateEvaluation;
  onInconclusive: GateSettings['onInconclusive'];
  control: ControlState;
  intents: readonly Intent[];
}): AfterCheck {
  const { evaluation, control, intents } = input;
  const person = (kind: ControlAction['kind'], intent: Intent | undefined): ControlAction => ({
    kind,
    actor: intent?.actor ?? 'unknown',
    reason: intent?.reason ?? '',
  });
  const byVerdict: GateDecision =
    evaluation.kind === 'Baking'
      ? 'continue'
      : evaluation.kind === 'Passed'
        ? 'next-wave'
        : evaluation.kind === 'Failed'
          ? 'rollback'
          : input.onInconclusive === 'pause'
            ? 'hold'
            : 'rollback';
  if (evaluation.kind === 'Failed') return { decision: 'rollback', usesPromotion: false };
  if (control.abort) {
    return { decision: 'rollback', control: person('Aborted', latest(intents, 'abort')), usesPromotion: false };
  }
  if (control.promotions > 0 && (byVerdict === 'continue' || byVerdict === 'hold')) {
    return { decision: 'next-wave', control: person('Promoted', latest(intents, 'promote')), usesPromotion: true };
  }
  return { decision: byVerdict, usesPromotion: false };
}

/** The parent's state when it turns to rollback: whichever of these led here is set. */
export interface RollbackInput {
  plan: Pick<ReleasePlan, 'mode' | 'rollbackOf'>;
  /** Absent when a rollback-only release goes straight from PlanRelease to here. */
  waveIndex?: number;
  entry?: WaveEntry | { kind: 'Abort'; control: ControlAction };
  gate?: Pick<GateState, 'evaluation' | 'control'>;
  error?: { Error: string; Cause?: string };
}

/** Why the release rolls back, from the state the parent was in. An error wins: it is the latest thing that happened. */
export function rollbackCause(input: RollbackInput): RollbackCause {
  const wave = input.waveIndex ?? 0;
  if (input.plan.mode === 'rollback')
    return { kind: 'Requested', wave, of: input.plan.rollbackOf ?? 'an earlier release' };
  if (input.error) return { kind: 'Error', wave, error: input.error.Error, cause: input.error.Cause ?? '' };
  if (input.entry?.kind === 'Blocked') return { kind: 'WaveBlocked', wave, signals: input.entry.signals };
  if (input.entry?.kind === 'Abort')
    return { kind: 'Aborted', wave, actor: input.entry.control.actor, reason: input.entry.control.reason };
  if (input.gate?.control?.kind === 'Aborted') {
    return { kind: 'Aborted', wave, actor: input.gate.control.actor, reason: input.gate.control.reason };
  }
  const evaluation = input.gate?.evaluation;
  if (evaluation?.kind === 'Failed') return { kind: 'GateFailed', wave, signals: evaluation.signals };
  if (evaluation?.kind === 'Inconclusive') return { kind: 'GateInconclusive', wave, signals: evaluation.signals };
  return {
    kind: 'Error',
    wave,
    error: 'UnknownCause',
    cause: 'rollback requested without a failed gate, block or error',
  };
}

/** A region counts as touched once it was marked for deploying, whatever came of it; skipped ones never are. */
export function touchedRegions(record: Pick<ReleaseRecord, 'regions'>): string[] {
  return Object.values(record.regions)
    .filter((r) => r.phase !== 'pending' && r.phase !== 'skipped')
    .sort((a, b) => a.wave - b.wave || a.region.localeCompare(b.region))
    .map((r) => r.region);
}

/**
 * Which regions go back, and to what: every region this release touched, earlier waves included,
 * each to the revision it ran before the release (its last-known-good). Re-running it gives the
 * same plan: idempotent.
 */
/**
 * The regions a rollback puts back: every touched one but those whose deployment failed without
 * changing anything there (the deployer said so): they still run their last-known-good, and a
 * rollback of them could only fail (or churn) a healthy region.
 */
export function regionsToPutBack(record: ReleaseRecord): string[] {
  return touchedRegions(record).filter((region) => {
    const entry = record.regions[region];
    return !(entry?.phase === 'failed' && entry.untouched === true);
  });
}

export function planRollback(plan: ReleasePlan, record: ReleaseRecord, cause: RollbackCause): RollbackPlan {
  const tasks = new Map<string, RegionTask>();
  for (const wave of plan.waves) for (const task of wave.regions) tasks.set(task.region, task);
  const steps: RegionTask[] = [];
  for (const region of regionsToPutBack(record)) {
    const task = tasks.get(region);
    const entry = record.regions[region];
    if (!task || !entry) continue;
    steps.push(rollbackTask(task, entry));
  }
  return { cause, steps };
}

/** A region's rollback job: its task in the plan, back to what it ran before this release (its last-known-good). */
export function rollbackTask(task: RegionTask, entry: Pick<ReleaseRegion, 'before'>): RegionTask {
  return { ...task, action: 'rollback', revision: entry.before };
}

/**
 * Whether two revisions are the same build. The version names the build: the artifact is where
 * its bits were found, and differs between the build given and the copy a platform keeps of it.
 */
export const sameRevision = (a: Revision | null | undefined, b: Revision | null | undefined): boolean =>
  (a ?? null) === null ? (b ?? null) === null : a?.version === b?.version;

export type RollbackOfDecision =
  | {
      kind: 'Plan';
      /** Each region that goes back, to what it ran before the release (null: it ran nothing, see below). */
      regions: { region: string; wave: number; to: Revision | null }[];
      /** What the audit records with who and why: when it was decided and which regions go back. */
      audit: { at: string; regions: string[] };
    }
  | { kind: 'Refused'; refusal: Refusal; message: string };

/**
 * The `rollback` verb: whether a rollback of a finished release may run now, and which regions it
 * puts back, each to what. Only regions that still run what that release deployed go back, each to
 * what it ran before; regions already back are left alone. That makes it the way back for a release
 * that ended ROLLBACK_FAILED (a region's redeploy of its last good build failed, and the region still
 * runs the bad build, which wave entry then refuses to deploy over) and for one that ended FAILED
 * (interrupted, or its execution died) with regions left on its build: the same request retries
 * exactly the regions not back yet, and can be run again until every region is.
 *
 * `current` must say what each region runs as the regions themselves report it where they can (the
 * caller reads them; the ledger only where it cannot): a release that died may have switched a
 * region without the ledger hearing of it.
 *
 * Refused: a release still running (abort it instead); a rollback release (roll back its target);
 * one already rolled back or being rolled back (says by which release); any release while another
 * holds the service's lock (Busy: a rollback never deploys beside a release in flight); a region
 * that moved on since (a newer release: roll that one back instead), naming it; a region that ran
 * nothing before (a rollback never leaves a region with nothing where something ran), except when
 * the release's own rollback had already set out to take it out again (ROLLBACK_FAILED): finishing
 * that is what the retry is for; and nothing left to put back.
 */
export function planRollbackOf(input: {
  target: ReleaseRecord;
  /** The service's releases (any order), to find an earlier rollback of the target. */
  releases: readonly ReleaseRecord[];
  /** What each region runs now (see above). */
  current: ReadonlyMap<string, Revision | null>;
  /** Who holds the service's release lock, if anyone. */
  lock: Pick<LockHolder, 'releaseId' | 'owner' | 'acquiredAt'> | undefined;
  now: number;
}): RollbackOfDecision {
  const { target } = input;
  const refuse = (refusal: Refusal, message: string): RollbackOfDecision => ({ kind: 'Refused', refusal, message });
  if (target.status === 'RUNNING' || target.status === 'QUEUED') {
    return refuse(
      REFUSALS.NotApplicable,
      `${target.releaseId} is ${target.status}: abort it instead (flotilla abort ${target.releaseId})`,
    );
  }
  if (target.rollbackOf !== undefined) {
    return refuse(
      REFUSALS.NotApplicable,
      target.status === 'ROLLBACK_FAILED'
        ? `${target.releaseId} is itself the rollback of ${target.rollbackOf}: to retry it, roll back ${target.rollbackOf} again (flotilla rollback ${target.rollbackOf})`
        : `${target.releaseId} is itself the rollback of ${target.rollbackOf}: release the build you want instead`,
    );
  }
  const mine = input.releases.filter((r) => r.rollbackOf === target.releaseId);
  const earlier = mine.find(
    (r) => r.status === 'RUNNING' || r.status === 'QUEUED' || r.status === 'SUCCEEDED' || r.status === 'ROLLED_BACK',
  );
  if (earlier) {
    const how =
      earlier.status === 'RUNNING' || earlier.status === 'QUEUED' ? 'being rolled back' : 'already rolled back';
    return refuse(REFUSALS.NoChange, `${target.releaseId} is ${how} by ${earlier.releaseId}`);
  }
  if (input.lock) {
    const { releaseId, owner, acquiredAt } = input.lock;
    const own = releaseId === target.releaseId;
    return refuse(
      REFUSALS.Busy,
      own
        ? `${target.releaseId} still holds ${target.service}'s lock (${owner}, since ${acquiredAt}): if nothing runs it any more, flotilla unlock --reason R first`
        : `${releaseId} holds ${target.service}'s lock (${owner}, since ${acquiredAt}): roll back once it has ended, or abort it`,
    );
  }
  const deployed: Revision = { version: target.version, artifact: target.artifact };
  const regions: { region: string; wave: number; to: Revision | null }[] = [];
  const moved: string[] = [];
  const empty: string[] = [];
  for (const region of touchedRegions(target)) {
    const entry = target.regions[region];
    if (!entry) continue;
    const now = input.current.get(region) ?? null;
    if (sameRevision(now, deployed)) {
      // A ROLLBACK_FAILED release's own rollback already set out to take such a region out again
      // (it ran nothing before): retrying that is what this is for.
      if (entry.before === null && target.status !== 'ROLLBACK_FAILED') empty.push(region);
      else regions.push({ region, wave: entry.wave, to: entry.before });
    } else if (!sameRevision(now, entry.before)) {
      moved.push(`${region} (now ${now?.version ?? 'nothing'})`);
    }
  }
  if (moved.length > 0) {
    return refuse(
      REFUSALS.NotApplicable,
      `cannot roll back ${target.releaseId}: ${moved.join(', ')} moved on since; roll back the newer release instead`,
    );
  }
  if (empty.length > 0) {
    return refuse(
      REFUSALS.NotApplicable,
      `cannot roll back ${target.releaseId}: ${empty.join(', ')} ran nothing before it, and a rollback never leaves a region with nothing; release the build you want there instead`,
    );
  }
  if (regions.length === 0) {
    return refuse(
      REFUSALS.NoChange,
      `nothing to roll back: every region ${target.releaseId} touched already runs what it ran before`,
    );
  }
  return {
    kind: 'Plan',
    regions,
    audit: { at: new Date(input.now).toISOString(), regions: regions.map((r) => r.region) },
  };
}

export function describeCause(cause: RollbackCause): string {
  const wave = `wave ${cause.wave + 1}`;
  switch (cause.kind) {
    case 'Aborted':
      return `aborted in ${wave} by ${cause.actor}: ${cause.reason}`;
    case 'Requested':
      return `rollback of ${cause.of} requested`;
    case 'GateFailed':
      return `gate failed in ${wave}: ${cause.signals.join('; ')}`;
    case 'GateInconclusive':
      return `gate inconclusive in ${wave} (missing data is never a pass): ${cause.signals.join('; ')}`;
    case 'WaveBlocked':
      return `${wave} blocked before deploying: ${cause.signals.join('; ')}`;
    case 'Error':
      return `error in ${wave}: ${cause.error}: ${cause.cause}`;
  }
}
