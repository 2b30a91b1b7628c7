/**
 * The release as its Slack message shows it: a small `ReleaseView` folded from the release's
 * events. The events may come from the local engine (all of them) or from SNS on AWS (only the
 * notable ones, core/notable.ts, and not necessarily in order, maybe twice). Plain JSON, so it can
 * be stored between Lambda invocations (DynamoMessageStore). No I/O, no clock: blocks.ts renders
 * a view, buttons.ts says which buttons apply to it.
 */
import type { Stamped } from '../../core/events.ts';
import type { ReleaseStatus } from '../../core/model.ts';
import {
  displayOfPhase,
  displayOfProgress,
  displayOfVerdict,
  type RegionDisplay,
  ROLLBACK_DISPLAYS,
} from '../../core/region-display.ts';

export type WaveDisplay =
  | 'waiting'
  | 'deploying'
  | 'baking'
  | 'passed'
  | 'failed'
  | 'inconclusive'
  | 'blocked'
  /** The release ended before this wave. */
  | 'not-reached';

export interface WaveView {
  index: number;
  /** Unknown when only SNS events were seen (AWS publishes no release-started). */
  name: string | null;
  regions: string[];
  state: WaveDisplay;
  /** Its adaptive bake ended early: the evidence it had ("bake ended early at 5m of 1h: …"). */
  early?: string;
}

export interface RegionView {
  /** Null when no event said which wave the region is in. */
  wave: number | null;
  state: RegionDisplay;
  /** The version the latest event names: being deployed, deployed, or rolled back to (what runs now at the end). */
  version: string | null;
  message?: string;
}

export interface FailureView {
  kind: 'gate-failed' | 'gate-inconclusive' | 'wave-blocked';
  wave: number;
  /** The regions the signals name (all the gate's regions when no signal names one). */
  regions: string[];
  signals: string[];
}

export interface RollbackView {
  /** Every region going back (earlier waves included). Each one's result is in `regions`. */
  regions: string[];
  reason: string;
}

/** A release as the message shows it. Plain JSON, so it can be stored between Lambda invocations. */
export interface ReleaseView {
  service: string;
  releaseId: string;
  version: string | null;
  status: ReleaseStatus;
  /** A rollback has started and the release has not ended yet. */
  rollingBack: boolean;
  /** `at` of the first and the latest event seen. */
  firstAt: string;
  updatedAt: string;
  /** Known waves, by index. */
  waves: WaveView[];
  /** Every region heard of, in the order first heard of. */
  regions: Record<string, RegionView>;
  failure: FailureView | null;
  rollback: RollbackView | null;
  /** The outcome's reason, once the release ended. */
  reason: string | null;
  /**
   * The wave the release is held at before it starts (a `wave-held` event), and whether a pause is
   * among the reasons. Absent when no hold was seen since the last wave started: then the view
   * cannot tell whether a pause is pending (SNS carries no `wave-held`, so on AWS it is always absent).
   */
  held?: { wave: number; paused: boolean };
  /**
   * An emergency release (the break-glass lane): marked for review from the first event that says
   * so; `awaitingApprover` while it waits for its second, distinct approver (the Approve button).
   */
  emergency?: { requester: string; reason: string; awaitingApprover: boolean };
}

// ---------------------------------------------------------------------------------------------
// Folding events into a view

function emptyView(event: Stamped): ReleaseView {
  return {
    service: event.service,
    releaseId: event.releaseId,
    version: null,
    status: 'RUNNING',
    rollingBack: false,
    firstAt: event.at,
    updatedAt: event.at,
    waves: [],
    regions: {},
    failure: null,
    rollback: null,
    reason: null,
  };
}

/** The regions the signals are about: each gate and wave-entry signal starts with its region's name. */
export function regionsNamedBy(signals: readonly string[], candidates: readonly string[]): string[] {
  // Longest names first, so `eu-west-1` does not claim a signal about `eu-west-10`.
  const sorted = [...candidates].sort((a, b) => b.length - a.length);
  const named: string[] = [];
  for (const signal of signals) {
    const region = sorted.find((r) => signal.startsWith(`${r}:`) || signal.startsWith(`${r} `));
    if (region !== undefined && !named.includes(region)) named.push(region);
  }
  return named;
}

/**
 * The view after one more event. Pure, and idempotent per event (the same event twice gives the
 * same view), since SNS may deliver twice. Events after the release ended (SNS does not keep order)
 * may add the failure detail they carry, but never change the terminal status or a region's end state.
 */
export function foldEvent(view: ReleaseView | undefined, event: Stamped): ReleaseView {
  const base = view ?? emptyView(event);
  const next: ReleaseView = structuredClone(base);
  if (event.at > next.updatedAt) next.updatedAt = event.at;
  if (event.at < next.firstAt) next.firstAt = event.at;
  const ended = next.status !== 'RUNNING';

  const waveAt = (index: number): WaveView => {
    let wave = next.waves.find((w) => w.index === index);
    if (!wave) {
      wave = { index, name: null, regions: [], state: 'waiting' };
      next.waves.push(wave);
      next.waves.sort((a, b) => a.index - b.index);
    }
    return wave;
  };
  const regionAt = (region: string, wave: number | null): RegionView => {
    let entry = next.regions[region];
    if (!entry) {
      entry = { wave, state: 'waiting', version: null };
      next.regions[region] = entry;
    }
    if (entry.wave === null && wave !== null) entry.wave = wave;
    if (entry.wave !== null) {
      const w = waveAt(entry.wave);
      if (!w.regions.includes(region)) w.regions.push(region);
    }
    return entry;
  };

  switch (event.kind) {
    case 'release-started': {
      next.version = event.version;
      if (event.emergency) {
        next.emergency = {
          requester: event.emergency.requester,
          reason: event.emergency.reason,
          awaitingApprover: next.emergency?.awaitingApprover ?? false,
        };
      }
      event.waves.forEach((w, index) => {
        const wave = waveAt(index);
        wave.name = w.name;
        for (const region of w.regions) regionAt(region, index);
      });
      break;
    }
    case 'wave-started': {
      if (next.held && event.wave >= next.held.wave) delete next.held;
      // A wave started: whatever approval the release waited for, it has it.
      if (next.emergency) next.emergency.awaitingApprover = false;
      const wave = waveAt(event.wave);
      wave.name = event.name;
      for (const region of event.regions) regionAt(region, event.wave);
      // A region of the wave that the wave starts without was skipped (skip-region): it keeps its version.
      if (!ended) {
        for (const region of wave.regions) {
          const entry = next.regions[region];
          if (entry && entry.state === 'waiting' && !event.regions.includes(region)) entry.state = 'skipped';
        }
      }
      if (!ended && wave.state === 'waiting') wave.state = 'deploying';
      break;
    }
    case 'wave-blocked': {
      const wave = waveAt(event.wave);
      const named = regionsNamedBy(event.signals, wave.regions.length > 0 ? wave.regions : Object.keys(next.regions));
      const failure: FailureView = {
        kind: 'wave-blocked',
        wave: event.wave,
        regions: named.length > 0 ? named : [...wave.regions],
        signals: [...event.signals],
      };
      // While running the latest failure is the one that matters; after the end only a missing one is filled in.
      if (!ended || next.failure === null) next.failure = failure;
      if (!ended) {
        wave.state = 'blocked';
        for (const region of named) {
          const entry = regionAt(region, event.wave);
          if (!ROLLBACK_DISPLAYS.has(entry.state)) entry.state = 'unhealthy';
        }
      }
      break;
    }
    case 'region': {
      const entry = regionAt(event.region, event.wave);
      if (ended) break;
      const progress = displayOfProgress(event.state);
      // A late deploy event never overwrites a rollback result (events of one region can interleave).
      const isRollbackEvent = ROLLBACK_DISPLAYS.has(progress);
      const settled = entry.state === 'rolled-back' || entry.state === 'rollback-failed';
      if (settled && progress === 'rolling-back') break;
      if (ROLLBACK_DISPLAYS.has(entry.state) && !isRollbackEvent) break;
      entry.state = progress;
      entry.version = event.version;
      if (event.message !== undefined) entry.message = event.message;
      else if (isRollbackEvent) delete entry.message;
      const wave = waveAt(event.wave);
      if (!isRollbackEvent && wave.state === 'waiting') wave.state = 'deploying';
      break;
    }
    case 'gate': {
      const wave = waveAt(event.wave);
      const evaluation = event.evaluation;
      // The gate's regions are every region deployed so far, earlier waves included.
      for (const region of event.regions) {
        const entry = regionAt(region, null);
        if (!ended && (entry.state === 'waiting' || entry.state === 'deploying')) entry.state = 'deployed';
      }
      if (evaluation.kind === 'Failed' || evaluation.kind === 'Inconclusive') {
        const named = regionsNamedBy(evaluation.signals, event.regions);
        const failure: FailureView = {
          kind: evaluation.kind === 'Failed' ? 'gate-failed' : 'gate-inconclusive',
          wave: event.wave,
          regions: named.length > 0 ? named : [...event.regions],
          signals: [...evaluation.signals],
        };
        if (!ended || next.failure === null) next.failure = failure;
        if (ended) break;
        wave.state = evaluation.kind === 'Failed' ? 'failed' : 'inconclusive';
        // No signal names a region: the verdict is about the wave's own deployed regions.
        const judged =
          named.length > 0
            ? named
            : wave.regions.filter((r) => next.regions[r]?.state === 'deployed' || next.regions[r]?.state === 'baking');
        for (const region of judged) {
          const entry = regionAt(region, null);
          if (!ROLLBACK_DISPLAYS.has(entry.state)) entry.state = displayOfVerdict(evaluation.kind);
        }
        break;
      }
      if (evaluation.kind === 'Passed' && evaluation.early) wave.early = evaluation.early.text;
      if (ended || wave.state === 'failed' || wave.state === 'inconclusive' || wave.state === 'blocked') break;
      // A promote ends the bake: the wave passed by a person's decision (the event says whose).
      const verdict = evaluation.kind === 'Baking' && event.control?.kind === 'Promoted' ? 'Passed' : evaluation.kind;
      // A Baking check that arrives after the Passed one (SNS order) does not undo it.
      if (!(wave.state === 'passed' && verdict === 'Baking')) wave.state = verdict === 'Baking' ? 'baking' : 'passed';
      const state = displayOfVerdict(verdict);
      for (const region of wave.regions) {
        const entry = next.regions[region];
        if (entry && (entry.state === 'deployed' || entry.state === 'baking')) entry.state = state;
      }
      break;
    }
    case 'wave-held': {
      if (event.emergency) {
        // A hold that arrives after its wave started (SNS does not keep order) no longer waits.
        const started = next.waves.some((w) => w.index >= event.wave && w.state !== 'waiting');
        next.emergency = {
          requester: event.emergency.requester,
          reason: event.emergency.reason,
          awaitingApprover: !ended && !started && event.emergency.awaitingApprover,
        };
      }
      if (ended) break;
      next.held = { wave: event.wave, paused: event.reasons.some((r) => r.startsWith('paused')) };
      break;
    }
    case 'rollback-started': {
      delete next.held;
      next.rollback ??= { regions: [...event.regions], reason: event.reason };
      if (ended) break;
      next.rollingBack = true;
      for (const region of event.regions) {
        const entry = regionAt(region, null);
        if (!ROLLBACK_DISPLAYS.has(entry.state)) {
          entry.state = 'rolling-back';
          delete entry.message;
        }
      }
      break;
    }
    case 'release-finished': {
      const { outcome } = event;
      next.status = outcome.status;
      next.version = outcome.version;
      next.reason = outcome.reason;
      next.rollingBack = false;
      delete next.held;
      if (next.emergency) next.emergency.awaitingApprover = false;
      for (const r of outcome.regions) {
        const entry = regionAt(r.region, null);
        entry.version = r.version;
        entry.state = displayOfPhase(r.phase, outcome.status, entry.state);
        if (r.message !== undefined) entry.message = r.message;
      }
      // Waves the release never reached (or whose gate it never judged) say so.
      for (const wave of next.waves) {
        if (outcome.status === 'SUCCEEDED') wave.state = 'passed';
        else if (wave.state === 'waiting') wave.state = 'not-reached';
      }
      for (const entry of Object.values(next.regions)) {
        if (outcome.status !== 'SUCCEEDED' && entry.state === 'waiting') entry.state = 'untouched';
      }
      break;
    }
    default:
      // An event kind this version does not know (a newer producer): nothing to show for it.
      break;
  }
  return next;
}
