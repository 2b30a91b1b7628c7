/**
 * The Slack message of a release, as data. Pure: no I/O, no clock.
 *
 * One message per release, edited in place as the release moves. `foldEvent` turns the release's
 * events into a small `ReleaseView` (the events may come from the local engine, all of them, or
 * from SNS on AWS, only the notable ones and not necessarily in order), and `renderReleaseMessage`
 * turns a view into Block Kit:
 *
 *   header    <emoji> <service> <version> — <STATUS>
 *   section   release id, version (a link to the commit when known), status, the outcome's reason
 *   divider
 *   section   one per wave: "Wave 2 · eu (gate FAILED)" and each region with its state
 *   section   when a gate failed / was inconclusive / a wave was blocked: which wave, which
 *             region(s), the failing signals (alarm name and state, or probe results)
 *   section   when rolling back: what goes back, and each region's rollback result
 *   actions   the buttons that apply now (`releaseActions`), passed in `options.actions`
 *   context   execution link, release id, time of the latest event
 *
 * Slack's limits are kept here, not hoped for: at most 50 blocks, a header's text at most 150
 * characters, a section's text at most 3,000; long lists end with "…and N more regions".
 */
import type { RegionProgress, Stamped } from './events.ts';
import type { ReleaseStatus } from './model.ts';

/** Block Kit: "a maximum of 50 blocks" per message. */
export const MAX_BLOCKS = 50;
/** Block Kit: a header block's text, at most 150 characters. */
export const MAX_HEADER_CHARS = 150;
/** Block Kit: a section block's text, at most 3,000 characters. */
export const MAX_SECTION_CHARS = 3000;
/** The message's top-level `text` (the notification and screen-reader fallback); Slack advises under 4,000. */
export const MAX_FALLBACK_CHARS = 3000;
/** One signal line in the failure section; the full text stays in the ledger and the logs. */
const MAX_SIGNAL_CHARS = 600;
/** Signals listed in the failure section before "…and N more". */
const MAX_SIGNALS = 8;
/** Regions named in one line before "…and N more regions": keeps a wide wave readable. */
const MAX_REGIONS_PER_LINE = 25;
const MAX_REASON_CHARS = 800;

/** What one region shows in the message. */
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
  | 'untouched';

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
}

export interface ReleaseLinks {
  executionUrl?: string;
  commitUrl?: string;
}

export interface RenderOptions {
  /**
   * An `actions` block (buttons) for the interactive part, rendered between the details and the
   * context block. One block is always kept free for it within the 50-block limit.
   */
  actions?: object;
}

export interface SlackMessage {
  text: string;
  blocks: object[];
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

const ROLLBACK_STATES: ReadonlySet<RegionDisplay> = new Set(['rolling-back', 'rolled-back', 'rollback-failed']);

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
      event.waves.forEach((w, index) => {
        const wave = waveAt(index);
        wave.name = w.name;
        for (const region of w.regions) regionAt(region, index);
      });
      break;
    }
    case 'wave-started': {
      if (next.held && event.wave >= next.held.wave) delete next.held;
      const wave = waveAt(event.wave);
      wave.name = event.name;
      for (const region of event.regions) regionAt(region, event.wave);
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
          if (!ROLLBACK_STATES.has(entry.state)) entry.state = 'unhealthy';
        }
      }
      break;
    }
    case 'region': {
      const entry = regionAt(event.region, event.wave);
      if (ended) break;
      // A late deploy event never overwrites a rollback result (events of one region can interleave).
      const isRollbackEvent = ROLLBACK_STATES.has(event.state);
      const settled = entry.state === 'rolled-back' || entry.state === 'rollback-failed';
      if (settled && event.state === 'rolling-back') break;
      if (ROLLBACK_STATES.has(entry.state) && !isRollbackEvent) break;
      entry.state = event.state;
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
        for (const region of named) {
          const entry = regionAt(region, null);
          if (!ROLLBACK_STATES.has(entry.state)) entry.state = evaluation.kind === 'Failed' ? 'unhealthy' : 'no-data';
        }
        break;
      }
      if (ended || wave.state === 'failed' || wave.state === 'inconclusive' || wave.state === 'blocked') break;
      const state: RegionDisplay = evaluation.kind === 'Baking' ? 'baking' : 'passed';
      // A Baking check that arrives after the Passed one (SNS order) does not undo it.
      if (!(wave.state === 'passed' && evaluation.kind === 'Baking')) wave.state = state;
      for (const region of wave.regions) {
        const entry = next.regions[region];
        if (entry && (entry.state === 'deployed' || entry.state === 'baking')) entry.state = state;
      }
      break;
    }
    case 'wave-held': {
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
        if (!ROLLBACK_STATES.has(entry.state)) {
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

/** A region's display from its ledger phase in the outcome. */
function displayOfPhase(phase: string, status: ReleaseStatus, previous: RegionDisplay): RegionDisplay {
  switch (phase) {
    case 'pending':
      return 'untouched';
    case 'deploying':
      return 'deploying';
    case 'deployed':
      if (status === 'SUCCEEDED') return 'passed';
      return previous === 'unhealthy' || previous === 'no-data' ? previous : 'deployed';
    case 'failed':
      return 'deploy-failed';
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

// ---------------------------------------------------------------------------------------------
// Notable events: what an incoming webhook posts and what gets a threaded reply

/**
 * The dedupe key of a notable event (one a human should hear about: a gate that failed or was
 * inconclusive, a blocked wave, a rollback starting, a release ending), or null. The same events
 * the SNS sink publishes on AWS.
 */
export function notableKey(event: Stamped): string | null {
  switch (event.kind) {
    case 'gate':
      if (event.evaluation.kind !== 'Failed' && event.evaluation.kind !== 'Inconclusive') return null;
      return `${event.releaseId}|gate-${event.evaluation.kind}|${event.wave}`;
    case 'wave-blocked':
      return `${event.releaseId}|wave-blocked|${event.wave}`;
    case 'rollback-started':
      return `${event.releaseId}|rollback-started|`;
    case 'release-finished':
      return `${event.releaseId}|release-finished|`;
    default:
      return null;
  }
}

/** One line for a notable event (the notification text of its post), or null. */
export function notableHeadline(view: ReleaseView, event: Stamped): string | null {
  const who = `${view.service} ${view.version ?? event.releaseId}`;
  switch (event.kind) {
    case 'gate':
      if (event.evaluation.kind !== 'Failed' && event.evaluation.kind !== 'Inconclusive') return null;
      return `${who}: ${waveName(view, event.wave)} gate ${event.evaluation.kind.toUpperCase()}`;
    case 'wave-blocked':
      return `${who}: ${waveName(view, event.wave)} BLOCKED`;
    case 'rollback-started':
      return `${who}: ROLLING BACK ${plural(event.regions.length, 'region')}`;
    case 'release-finished':
      return `${event.service} ${event.outcome.version}: ${event.outcome.status}`;
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

const statusEmoji: Record<ReleaseStatus, string> = {
  RUNNING: ':hourglass_flowing_sand:',
  SUCCEEDED: ':white_check_mark:',
  ROLLED_BACK: ':leftwards_arrow_with_hook:',
  ROLLBACK_FAILED: ':rotating_light:',
  ABORTED: ':octagonal_sign:',
  BLOCKED: ':no_entry:',
  FAILED: ':x:',
  QUEUED: ':double_vertical_bar:',
  SUPERSEDED: ':fast_forward:',
};

const regionEmoji: Record<RegionDisplay, string> = {
  waiting: ':white_circle:',
  deploying: ':arrows_counterclockwise:',
  deployed: ':large_blue_circle:',
  'deploy-failed': ':x:',
  baking: ':hourglass:',
  passed: ':large_green_circle:',
  unhealthy: ':red_circle:',
  'no-data': ':grey_question:',
  'rolling-back': ':rewind:',
  'rolled-back': ':leftwards_arrow_with_hook:',
  'rollback-failed': ':rotating_light:',
  untouched: ':white_circle:',
};

const waveLabel: Record<WaveDisplay, string> = {
  waiting: 'waiting',
  deploying: 'deploying',
  baking: 'baking',
  passed: 'gate passed',
  failed: 'gate FAILED',
  inconclusive: 'gate INCONCLUSIVE',
  blocked: 'BLOCKED',
  'not-reached': 'not reached',
};

/** Worst first: when a line cannot name every region, the ones in trouble are named. */
const severity: Record<RegionDisplay, number> = {
  'rollback-failed': 0,
  unhealthy: 1,
  'deploy-failed': 2,
  'no-data': 3,
  'rolling-back': 4,
  'rolled-back': 5,
  deploying: 6,
  baking: 7,
  deployed: 8,
  passed: 9,
  waiting: 10,
  untouched: 11,
};

/** Slack mrkdwn: &, < and > are control characters and must be escaped in any text we did not write. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts text to `max` characters, ending with an ellipsis; never leaves half an escape behind. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, Math.max(0, max - 1)).replace(/&[a-z]*$/, '');
  return `${cut}…`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const code = (text: string) => `\`${escapeMrkdwn(text.replace(/`/g, "'"))}\``;

function waveName(view: ReleaseView, index: number): string {
  const name = view.waves.find((w) => w.index === index)?.name;
  return name ? `wave ${index + 1} (${name})` : `wave ${index + 1}`;
}

function statusText(view: ReleaseView): string {
  if (view.status === 'RUNNING' && view.rollingBack) return 'RUNNING · rolling back';
  return view.status;
}

function emojiOf(view: ReleaseView): string {
  return view.status === 'RUNNING' && view.rollingBack ? ':rewind:' : statusEmoji[view.status];
}

function regionLabel(entry: RegionView): string {
  switch (entry.state) {
    case 'rolled-back':
      return entry.version ? `rolled back to ${entry.version}` : 'rolled back (nothing was there before)';
    case 'rollback-failed':
      return 'rollback FAILED';
    case 'deploy-failed':
      return 'deploy FAILED';
    case 'no-data':
      return 'no health data';
    case 'untouched':
      return 'not deployed';
    default:
      return entry.state;
  }
}

const section = (text: string): object => ({
  type: 'section',
  text: { type: 'mrkdwn', text: truncate(text, MAX_SECTION_CHARS) },
});

/**
 * `head` then as many `items` as fit (worst first when not all fit), then "…and N more <noun>".
 * Items are joined with `separator`; the whole stays under the section limit.
 */
function listWithin(
  head: string,
  items: { text: string; rank: number }[],
  separator: string,
  noun: string,
  maxItems = MAX_REGIONS_PER_LINE,
): string {
  const budget = MAX_SECTION_CHARS - 60;
  const ordered = items.length > maxItems ? [...items].sort((a, b) => a.rank - b.rank) : items;
  const shown: string[] = [];
  let length = head.length;
  for (const item of ordered) {
    if (shown.length >= maxItems || length + separator.length + item.text.length > budget) break;
    shown.push(item.text);
    length += separator.length + item.text.length;
  }
  const more = items.length - shown.length;
  const tail = more > 0 ? `${shown.length > 0 ? separator : ''}…and ${more} more ${noun}${more === 1 ? '' : 's'}` : '';
  return `${head}${shown.join(separator)}${tail}`;
}

function regionItem(region: string, entry: RegionView): { text: string; rank: number } {
  const label = regionLabel(entry);
  const text = `${regionEmoji[entry.state]} ${code(region)} ${label}`;
  return { text, rank: severity[entry.state] };
}

function waveBlocks(view: ReleaseView, maxBlocks: number): object[] {
  const lines: string[] = [];
  for (const wave of view.waves) {
    const name = wave.name ? ` · ${escapeMrkdwn(wave.name)}` : '';
    const failed = wave.state === 'failed' || wave.state === 'inconclusive' || wave.state === 'blocked';
    const label = failed ? `*${waveLabel[wave.state]}*` : waveLabel[wave.state];
    const head = `*Wave ${wave.index + 1}*${name} — ${label}\n`;
    const items = wave.regions.map((region) =>
      regionItem(region, view.regions[region] ?? { wave: wave.index, state: 'waiting', version: null }),
    );
    lines.push(listWithin(head, items, '   ', 'region'));
  }
  const unplaced = Object.entries(view.regions).filter(([, entry]) => entry.wave === null);
  if (unplaced.length > 0) {
    const head = `*${view.waves.length > 0 ? 'Other regions' : 'Regions'}*\n`;
    lines.push(
      listWithin(
        head,
        unplaced.map(([region, entry]) => regionItem(region, entry)),
        '   ',
        'region',
      ),
    );
  }
  if (lines.length <= maxBlocks) return lines.map(section);
  const kept = lines.slice(0, maxBlocks - 1);
  const hidden = view.waves.slice(maxBlocks - 1);
  const hiddenRegions = hidden.reduce((n, w) => n + w.regions.length, 0);
  kept.push(`…and ${plural(lines.length - kept.length, 'more wave')} (${plural(hiddenRegions, 'region')})`);
  return kept.map(section);
}

function failureText(view: ReleaseView, failure: FailureView): string {
  const where = waveName(view, failure.wave);
  const title =
    failure.kind === 'wave-blocked'
      ? `:no_entry: *${escapeMrkdwn(where)} BLOCKED* before deploying (a region was already unhealthy)`
      : failure.kind === 'gate-failed'
        ? `:red_circle: *Gate FAILED in ${escapeMrkdwn(where)}*`
        : `:grey_question: *Gate INCONCLUSIVE in ${escapeMrkdwn(where)}* (missing data is never a pass)`;
  const regions = listWithin(
    `*${failure.regions.length === 1 ? 'Region' : 'Regions'}:* `,
    failure.regions.map((r) => ({ text: code(r), rank: 0 })),
    ', ',
    'region',
  );
  const shown = failure.signals.slice(0, MAX_SIGNALS).map((s) => `• ${escapeMrkdwn(truncate(s, MAX_SIGNAL_CHARS))}`);
  const more = failure.signals.length - shown.length;
  if (more > 0) shown.push(`…and ${plural(more, 'more signal')}`);
  return `${title}\n${regions}\n*Signals:*\n${shown.join('\n')}`;
}

function rollbackText(view: ReleaseView, rollback: RollbackView): string {
  const done = !view.rollingBack && view.status !== 'RUNNING';
  const head = done
    ? `:rewind: *Rollback* of ${plural(rollback.regions.length, 'region')} (each to its last-known-good):\n`
    : `:rewind: *Rolling back* ${plural(rollback.regions.length, 'region')} (each to its last-known-good):\n`;
  const items = rollback.regions.map((region) => {
    const entry = view.regions[region] ?? { wave: null, state: 'rolling-back', version: null };
    const message =
      entry.state === 'rollback-failed' && entry.message ? `: ${escapeMrkdwn(truncate(entry.message, 300))}` : '';
    return {
      text: `${regionEmoji[entry.state]} ${code(region)} ${regionLabel(entry)}${message}`,
      rank: severity[entry.state],
    };
  });
  if (rollback.regions.length === 0) return `:rewind: *Rollback*: nothing had been touched`;
  return listWithin(head, items, '\n', 'region');
}

function fallbackText(view: ReleaseView): string {
  const parts = [`${emojiOf(view)} ${view.service} ${view.version ?? view.releaseId}: ${statusText(view)}`];
  const failure = view.failure;
  // The outcome's reason, once there is one, already says what failed.
  if (view.reason) parts.push(view.reason);
  else if (failure) {
    const what =
      failure.kind === 'wave-blocked'
        ? 'blocked'
        : failure.kind === 'gate-failed'
          ? 'gate failed'
          : 'gate inconclusive';
    parts.push(
      `${waveName(view, failure.wave)} ${what} in ${failure.regions.join(', ')}: ${failure.signals.join('; ')}`,
    );
  }
  // The top-level text is mrkdwn too: escaped like the blocks.
  return truncate(escapeMrkdwn(parts.join(' — ')), MAX_FALLBACK_CHARS);
}

// ---------------------------------------------------------------------------------------------
// Buttons: the verbs a release manager can use from the message

/** The verbs the message's buttons carry: each button's `action_id` is its verb. */
export const BUTTON_VERBS = ['promote', 'pause', 'resume', 'abort', 'rollback'] as const;
export type ButtonVerb = (typeof BUTTON_VERBS)[number];

/** A button's `value`, as JSON: the release it acts on. Kept small (Slack allows 2,000 characters). */
export interface ButtonValue {
  service: string;
  releaseId: string;
}

/** Block Kit: a button's `value` is at most 2,000 characters. */
const MAX_BUTTON_VALUE_CHARS = 2000;

export const isButtonVerb = (verb: unknown): verb is ButtonVerb =>
  typeof verb === 'string' && (BUTTON_VERBS as readonly string[]).includes(verb);

/** A button's `value` back as data, or null when it is not one of ours. */
export function parseButtonValue(value: unknown): ButtonValue | null {
  if (typeof value !== 'string' || value.length > MAX_BUTTON_VALUE_CHARS) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const { service, releaseId } = parsed as Record<string, unknown>;
  if (typeof service !== 'string' || service === '' || typeof releaseId !== 'string' || releaseId === '') return null;
  return { service, releaseId };
}

const plainText = (text: string, max: number) => ({ type: 'plain_text', text: truncate(text, max), emoji: true });

/** Block Kit confirmation dialog: title ≤ 100 characters, text ≤ 300, each button ≤ 30. */
function confirmDialog(title: string, text: string, confirm: string): object {
  return {
    title: plainText(title, 100),
    text: plainText(text, 300),
    confirm: plainText(confirm, 30),
    deny: plainText('Cancel', 30),
    style: 'danger',
  };
}

function button(verb: ButtonVerb, label: string, value: string, extra: Record<string, unknown> = {}): object {
  return { type: 'button', action_id: verb, text: plainText(label, 75), value, ...extra };
}

/**
 * The `actions` block for the release as the view shows it, or undefined when no button applies.
 *
 * - RUNNING (not rolling back): Promote (passes a bake, an approval or an Inconclusive hold),
 *   Pause and/or Resume, Abort (behind a confirmation dialog). Resume alone when the view knows
 *   the release is held by a pause, Pause alone when it is held for other reasons only, both when
 *   it cannot tell (a pause may be pending, or the events say nothing about holds).
 * - SUCCEEDED: Roll back (behind a confirmation dialog).
 * - Anything else (ended otherwise, or rolling back already): no buttons.
 *
 * The buttons only ask: whoever handles the click checks the intent against the release as it is
 * then (a message may be minutes old), and records who clicked.
 */
export function releaseActions(view: ReleaseView): object | undefined {
  const value = JSON.stringify({ service: view.service, releaseId: view.releaseId } satisfies ButtonValue);
  if (value.length > MAX_BUTTON_VALUE_CHARS) return undefined;
  const what = `${view.service} ${view.version ?? view.releaseId}`;
  const elements: object[] = [];
  if (view.status === 'RUNNING' && !view.rollingBack) {
    elements.push(button('promote', 'Promote', value, { style: 'primary' }));
    const paused = view.held?.paused;
    if (paused !== true) elements.push(button('pause', 'Pause', value));
    if (paused !== false) elements.push(button('resume', 'Resume', value));
    elements.push(
      button('abort', 'Abort', value, {
        style: 'danger',
        confirm: confirmDialog(
          `Abort ${what}?`,
          `Every region ${view.releaseId} has touched goes back to its last-known-good, and the release ends ABORTED.`,
          'Abort',
        ),
      }),
    );
  } else if (view.status === 'SUCCEEDED') {
    elements.push(
      button('rollback', 'Roll back', value, {
        style: 'danger',
        confirm: confirmDialog(
          `Roll back ${what}?`,
          `Starts a rollback release that puts every region ${view.releaseId} changed back on what it ran before.`,
          'Roll back',
        ),
      }),
    );
  }
  return elements.length > 0 ? { type: 'actions', elements } : undefined;
}

/**
 * The release's message: Block Kit plus the plain-text fallback. Never more than 50 blocks, and
 * one is always left for `options.actions`.
 */
export function renderReleaseMessage(
  state: ReleaseView,
  links: ReleaseLinks = {},
  options: RenderOptions = {},
): SlackMessage {
  // On AWS the first event seen may not say the version (SNS carries no release-started).
  const version = state.version ?? `release ${state.releaseId}`;
  const header = {
    type: 'header',
    text: {
      type: 'plain_text',
      text: truncate(`${emojiOf(state)} ${state.service} ${version} — ${statusText(state)}`, MAX_HEADER_CHARS),
      emoji: true,
    },
  };
  const shownVersion =
    state.version && links.commitUrl && !/[<>|\s]/.test(links.commitUrl)
      ? `<${links.commitUrl}|${escapeMrkdwn(state.version)}>`
      : escapeMrkdwn(version);
  const summaryLines = [
    `*Service* ${escapeMrkdwn(state.service)}   *Version* ${shownVersion}   *Status* ${emojiOf(state)} *${statusText(state)}*`,
  ];
  if (state.reason) summaryLines.push(escapeMrkdwn(truncate(state.reason, MAX_REASON_CHARS)));

  const top: object[] = [header, section(summaryLines.join('\n')), { type: 'divider' }];
  const details: object[] = [];
  if (state.failure) details.push(section(failureText(state, state.failure)));
  if (state.rollback) details.push(section(rollbackText(state, state.rollback)));

  const contextParts = [
    links.executionUrl && !/[<>|\s]/.test(links.executionUrl) ? `<${links.executionUrl}|Execution>` : null,
    `release ${code(state.releaseId)}`,
    `updated ${state.updatedAt.slice(0, 19).replace('T', ' ')} UTC`,
  ].filter((p): p is string => p !== null);
  const context = { type: 'context', elements: [{ type: 'mrkdwn', text: contextParts.join(' · ') }] };

  // Fixed blocks, the details, one kept for the actions block, the context: the waves get the rest.
  const reserved = top.length + details.length + 1 + 1;
  const waves = waveBlocks(state, MAX_BLOCKS - reserved);

  // ── The interactive part (buttons: promote, abort, …) goes here, before the context block. ──
  const actions = options.actions ? [options.actions] : [];

  return {
    text: fallbackText(state),
    blocks: [...top, ...waves, ...details, ...actions, context],
  };
}

/**
 * The threaded reply for a notable event: the detail a human acts on (the failing signals, what is
 * being rolled back, each region's rollback result). Null when the event has no such detail (a
 * progress event, or a release that SUCCEEDED: the message itself says so).
 */
export function renderThreadReply(view: ReleaseView, event: Stamped): SlackMessage | null {
  const headline = notableHeadline(view, event);
  if (headline === null) return null;
  let body: string;
  switch (event.kind) {
    case 'gate':
    case 'wave-blocked': {
      const signals =
        event.kind === 'gate' ? ('signals' in event.evaluation ? event.evaluation.signals : []) : event.signals;
      const candidates = event.kind === 'gate' ? event.regions : Object.keys(view.regions);
      const failure: FailureView = {
        kind:
          event.kind === 'wave-blocked'
            ? 'wave-blocked'
            : event.evaluation.kind === 'Failed'
              ? 'gate-failed'
              : 'gate-inconclusive',
        wave: event.wave,
        regions: regionsNamedBy(signals, candidates),
        signals,
      };
      if (failure.regions.length === 0) failure.regions = [...candidates];
      body = failureText(view, failure);
      break;
    }
    case 'rollback-started':
      body = listWithin(
        `:rewind: *Rolling back ${plural(event.regions.length, 'region')}*, each to its last-known-good: `,
        event.regions.map((r) => ({ text: code(r), rank: 0 })),
        ', ',
        'region',
      );
      body += `\n*Why:* ${escapeMrkdwn(truncate(event.reason, MAX_REASON_CHARS))}`;
      break;
    case 'release-finished': {
      if (event.outcome.status === 'SUCCEEDED') return null;
      const head = `${statusEmoji[event.outcome.status]} *${event.outcome.status}*: ${escapeMrkdwn(truncate(event.outcome.reason, MAX_REASON_CHARS))}`;
      body = view.rollback ? `${head}\n${rollbackText(view, view.rollback)}` : head;
      break;
    }
    default:
      return null;
  }
  return {
    text: truncate(escapeMrkdwn(headline), MAX_FALLBACK_CHARS),
    blocks: [section(body)],
  };
}
