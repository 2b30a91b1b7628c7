/**
 * The release's Slack message, as Block Kit (typed with @slack/types). Pure: no I/O, no clock.
 *
 * One message per release, edited in place as the release moves: `renderReleaseMessage` turns a
 * ReleaseView (view.ts) into
 *
 *   header    <emoji> <service> <version> — <STATUS>
 *   section   release id, version (a link to the commit when known), status, the outcome's reason
 *   divider
 *   section   one per wave: "Wave 2 · eu (gate FAILED)" and each region with its state
 *   section   when a gate failed / was inconclusive / a wave was blocked: which wave, which
 *             region(s), the failing signals (alarm name and state, or probe results)
 *   section   when rolling back: what goes back, and each region's rollback result
 *   actions   the buttons that apply now (buttons.ts `releaseActions`), passed in `options.actions`
 *   context   execution link, release id, time of the latest event
 *
 * `renderThreadReply` is the threaded reply for a notable event (core/notable.ts). Each region's
 * label and emoji come from core/region-display.ts, the same translation the terminal uses.
 *
 * Slack's limits are kept here, not hoped for: at most 50 blocks, a header's text at most 150
 * characters, a section's text at most 3,000; long lists end with "…and N more regions".
 */
import type { ActionsBlock, ContextBlock, HeaderBlock, KnownBlock, SectionBlock } from '@slack/types';
import type { Stamped } from '../../core/events.ts';
import type { ReleaseStatus } from '../../core/model.ts';
import { isNotable } from '../../core/notable.ts';
import { REGION_LOOK, regionLabel } from '../../core/region-display.ts';
import { code, escapeMrkdwn, plural, truncate } from './mrkdwn.ts';
import {
  type FailureView,
  type RegionView,
  type ReleaseView,
  type RollbackView,
  regionsNamedBy,
  type WaveDisplay,
} from './view.ts';

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

export interface ReleaseLinks {
  executionUrl?: string;
  commitUrl?: string;
}

export interface RenderOptions {
  /**
   * An `actions` block (buttons) for the interactive part, rendered between the details and the
   * context block. One block is always kept free for it within the 50-block limit.
   */
  actions?: ActionsBlock;
}

export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

/** One line for a notable event (the notification text of its post), or null. */
export function notableHeadline(view: ReleaseView, event: Stamped): string | null {
  const who = `${view.service} ${view.version ?? event.releaseId}`;
  if (!isNotable(event)) return null;
  switch (event.kind) {
    case 'gate':
      if (event.evaluation.kind === 'Passed' && event.evaluation.early)
        return `${who}: ${waveName(view, event.wave)} ${event.evaluation.early.text}`;
      if (event.noNewHost && event.evaluation.kind !== 'Failed' && event.evaluation.kind !== 'Inconclusive')
        return `${who}: ${waveName(view, event.wave)} has no new host: ${event.noNewHost}`;
      return `${who}: ${waveName(view, event.wave)} gate ${event.evaluation.kind.toUpperCase()}`;
    case 'wave-blocked':
      return `${who}: ${waveName(view, event.wave)} BLOCKED`;
    case 'wave-held':
      return `${who}: EMERGENCY release waits for a second, distinct approver`;
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

function waveName(view: ReleaseView, index: number): string {
  const name = view.waves.find((w) => w.index === index)?.name;
  return name ? `wave ${index + 1} (${name})` : `wave ${index + 1}`;
}

function statusText(view: ReleaseView): string {
  const base = view.status === 'RUNNING' && view.rollingBack ? 'RUNNING · rolling back' : view.status;
  // The break-glass lane stays marked for review, whatever the outcome.
  return view.emergency ? `${base} · EMERGENCY, for review` : base;
}

/** The emergency release's line: who asked, why, and whether it still waits for its second approver. */
function emergencyText(view: ReleaseView): string | null {
  const e = view.emergency;
  if (!e) return null;
  const head = `:rotating_light: *Emergency release, for review*: asked for by ${escapeMrkdwn(e.requester)}: ${escapeMrkdwn(truncate(e.reason, MAX_REASON_CHARS))}`;
  return e.awaitingApprover
    ? `${head}\n*Waiting for a second, distinct approver*: *Approve emergency* below, or \`flotilla approve ${escapeMrkdwn(view.releaseId)} --reason R\``
    : head;
}

function emojiOf(view: ReleaseView): string {
  return view.status === 'RUNNING' && view.rollingBack ? ':rewind:' : statusEmoji[view.status];
}

const section = (text: string): SectionBlock => ({
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
  const look = REGION_LOOK[entry.state];
  return { text: `${look.emoji} ${code(region)} ${regionLabel(entry.state, entry.version)}`, rank: look.severity };
}

function waveBlocks(view: ReleaseView, maxBlocks: number): SectionBlock[] {
  const lines: string[] = [];
  for (const wave of view.waves) {
    const name = wave.name ? ` · ${escapeMrkdwn(wave.name)}` : '';
    const failed = wave.state === 'failed' || wave.state === 'inconclusive' || wave.state === 'blocked';
    const early = wave.early ? ` · :fast_forward: ${escapeMrkdwn(wave.early)}` : '';
    const label = failed ? `*${waveLabel[wave.state]}*` : `${waveLabel[wave.state]}${early}`;
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
      text: `${REGION_LOOK[entry.state].emoji} ${code(region)} ${regionLabel(entry.state, entry.version)}${message}`,
      rank: REGION_LOOK[entry.state].severity,
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
  const header: HeaderBlock = {
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
  const emergency = emergencyText(state);
  if (emergency) summaryLines.push(emergency);

  const top: KnownBlock[] = [header, section(summaryLines.join('\n')), { type: 'divider' }];
  const details: KnownBlock[] = [];
  if (state.failure) details.push(section(failureText(state, state.failure)));
  if (state.rollback) details.push(section(rollbackText(state, state.rollback)));

  const contextParts = [
    links.executionUrl && !/[<>|\s]/.test(links.executionUrl) ? `<${links.executionUrl}|Execution>` : null,
    `release ${code(state.releaseId)}`,
    `updated ${state.updatedAt.slice(0, 19).replace('T', ' ')} UTC`,
  ].filter((p): p is string => p !== null);
  const context: ContextBlock = { type: 'context', elements: [{ type: 'mrkdwn', text: contextParts.join(' · ') }] };

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
  if (event.kind === 'wave-held') {
    const body = emergencyText(view);
    if (!body) return null;
    return { text: truncate(escapeMrkdwn(headline), MAX_FALLBACK_CHARS), blocks: [section(body)] };
  }
  if (
    event.kind === 'gate' &&
    event.noNewHost &&
    event.evaluation.kind !== 'Failed' &&
    event.evaluation.kind !== 'Inconclusive' &&
    !(event.evaluation.kind === 'Passed' && event.evaluation.early)
  ) {
    const body = `:information_source: *${escapeMrkdwn(waveName(view, event.wave))} has no new host:* ${escapeMrkdwn(truncate(event.noNewHost, MAX_REASON_CHARS))}`;
    return { text: truncate(escapeMrkdwn(headline), MAX_FALLBACK_CHARS), blocks: [section(body)] };
  }
  if (event.kind === 'gate' && event.evaluation.kind === 'Passed') {
    const early = event.evaluation.early;
    if (!early) return null;
    const body = `:fast_forward: *${escapeMrkdwn(waveName(view, event.wave))}: ${escapeMrkdwn(early.text)}* (every region deployed so far passed the gate; missing data never passes)`;
    return { text: truncate(escapeMrkdwn(headline), MAX_FALLBACK_CHARS), blocks: [section(body)] };
  }
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
