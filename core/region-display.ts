/**
 * How a region's state is shown to a human, in the terminal and in Slack alike. The one
 * translation from the state vocabulary (core/model.ts RegionPhase, core/events.ts RegionProgress,
 * a gate's verdict) to a display: its label, its emoji (Slack), its colour (terminal) and how bad
 * it is (the worst are named first when a line cannot name every region). Pure data and functions.
 */
import type { RegionProgress } from './events.ts';
import type { RegionPhase, ReleaseStatus } from './model.ts';
import type { GateEvaluation } from './types.ts';

/** What one region shows: its progress, or what a gate, a blocked wave or the release's end made of it. */
export type RegionDisplay =
  | 'waiting'
  | RegionProgress
  | 'baking'
  | 'passed'
  /** Named by a failed gate or a blocked wave. */
  | 'unhealthy'
  /** Named by an inconclusive gate: not enough health data. */
  | 'no-data'
  /** The release ended before this region's wave. */
  | 'untouched'
  /** Left out of the release by a release manager (skip-region): it keeps its version. */
  | 'skipped';

export interface RegionLook {
  /** Slack emoji shortcode. */
  emoji: string;
  /** ANSI SGR parameters for the terminal. */
  color: string;
  /** Worst first: 0 is the worst. */
  severity: number;
}

export const REGION_LOOK: Readonly<Record<RegionDisplay, RegionLook>> = {
  'rollback-failed': { emoji: ':rotating_light:', color: '41;97', severity: 0 },
  unhealthy: { emoji: ':red_circle:', color: '31', severity: 1 },
  failed: { emoji: ':x:', color: '31', severity: 2 },
  'no-data': { emoji: ':grey_question:', color: '31', severity: 3 },
  'rolling-back': { emoji: ':rewind:', color: '35', severity: 4 },
  'rolled-back': { emoji: ':leftwards_arrow_with_hook:', color: '35', severity: 5 },
  deploying: { emoji: ':arrows_counterclockwise:', color: '36', severity: 6 },
  baking: { emoji: ':hourglass:', color: '33', severity: 7 },
  deployed: { emoji: ':large_blue_circle:', color: '36', severity: 8 },
  passed: { emoji: ':large_green_circle:', color: '32', severity: 9 },
  waiting: { emoji: ':white_circle:', color: '2', severity: 10 },
  untouched: { emoji: ':white_circle:', color: '2', severity: 11 },
  skipped: { emoji: ':fast_forward:', color: '2', severity: 12 },
};

/** The displays of a region on its way back (or back) to its last-known-good. */
export const ROLLBACK_DISPLAYS: ReadonlySet<RegionDisplay> = new Set([
  'rolling-back',
  'rolled-back',
  'rollback-failed',
]);

/**
 * The words for a region's display. `version` is what the region runs after a rollback: null when
 * nothing was there before, undefined when not known.
 */
export function regionLabel(state: RegionDisplay, version?: string | null): string {
  switch (state) {
    case 'rolled-back':
      if (version === undefined) return 'rolled back';
      return version ? `rolled back to ${version}` : 'rolled back (nothing was there before)';
    case 'rollback-failed':
      return 'rollback FAILED';
    case 'failed':
      return 'deploy FAILED';
    case 'no-data':
      return 'no health data';
    case 'untouched':
      return 'not deployed';
    default:
      return state;
  }
}

/** A region's display from a region event's progress. */
export function displayOfProgress(state: RegionProgress): RegionDisplay {
  return state;
}

/** What a gate's verdict makes of a region it judged (for Failed and Inconclusive: one its signals name). */
export function displayOfVerdict(kind: GateEvaluation['kind']): RegionDisplay {
  switch (kind) {
    case 'Baking':
      return 'baking';
    case 'Passed':
      return 'passed';
    case 'Failed':
      return 'unhealthy';
    case 'Inconclusive':
      return 'no-data';
  }
}

/**
 * A region's display from its ledger phase (core/model.ts RegionPhase) in the release's outcome.
 * `previous` is what it showed before: a deployed region a gate judged unhealthy stays so, and a
 * phase this version does not know shows as before.
 */
export function displayOfPhase(phase: RegionPhase, status: ReleaseStatus, previous: RegionDisplay): RegionDisplay {
  switch (phase) {
    case 'pending':
      return 'untouched';
    case 'skipped':
      return 'skipped';
    case 'deploying':
      return 'deploying';
    case 'deployed':
      if (status === 'SUCCEEDED') return 'passed';
      return previous === 'unhealthy' || previous === 'no-data' ? previous : 'deployed';
    case 'failed':
      return 'failed';
    case 'rolling-back':
      return 'rolling-back';
    case 'rolled-back':
      return 'rolled-back';
    case 'rollback-failed':
      return 'rollback-failed';
    default:
      return previous;
  }
}
