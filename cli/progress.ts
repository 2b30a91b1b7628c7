/**
 * Live progress of a release on a terminal: a block redrawn in place, one line per wave with each
 * region's state, the bake countdown and the hold the release waits at, then the latest notes.
 * The release's state is folded from its events by the same fold the Slack message uses
 * (adapters/slack/view.ts `foldEvent`), so a region keeps its last verdict, a skipped one says so
 * and one a failed release never reached says it was not deployed, in both places alike; labels
 * and colours are core/region-display.ts. Elsewhere (CI logs, pipes) the CLI prints plain lines
 * (cli/progress-plain.ts).
 */

import { foldEvent, type ReleaseView } from '../adapters/slack/view.ts';
import { controlLine } from '../core/event-line.ts';
import { printableLine } from '../core/printable.ts';
import { REGION_LOOK, type RegionDisplay, regionLabel } from '../core/region-display.ts';
import type { Stamped } from '../ports/events.ts';
import type { ProgressWriter } from '../ports/writer.ts';

/**
 * Whether to colour a terminal's output: FORCE_COLOR decides when set (`0` or `false` turn colour
 * off, anything else on), as in Node and most CLIs; else NO_COLOR (any non-empty value, see
 * no-color.org) turns it off; else only a terminal gets colour.
 */
export function colorEnabled(env: Readonly<Record<string, string | undefined>>, isTTY: boolean): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return isTTY;
}

export interface TerminalProgressOptions {
  /** ANSI colours (default: on); cli/context.ts decides with colorEnabled. */
  color?: boolean;
}

/** How many notes stay under the table. */
const NOTES_SHOWN = 6;

/** Redraws a per-wave table on a TTY; the final outcome and any failure detail stay printed below it. */
export class TerminalProgress {
  private view: ReleaseView | undefined;
  private readonly notes: string[] = [];
  /** The bake in progress: its wave and when it ends (ms). */
  private bake: { wave: number; untilMs: number } | undefined;
  /** The hold the release waits at now (wave-held), replaced at every re-check. */
  private hold: { wave: number; reasons: string[] } | undefined;
  /** Waves whose gate said it has no new host (noted once, with why). */
  private readonly noNewHostSaid = new Set<number>();
  /** The time the countdown is drawn at: the latest event's, or a tick's. */
  private nowMs = 0;
  private drawn = 0;
  private readonly out: ProgressWriter & { columns?: number };
  private readonly color: boolean;

  /** `out.columns` (a TTY's width) keeps every line from wrapping, which would break the redraw. */
  constructor(out: ProgressWriter & { columns?: number }, options: TerminalProgressOptions = {}) {
    this.out = out;
    this.color = options.color ?? true;
  }

  /** Whether a bake is counting down (the sink then ticks every second). */
  get baking(): boolean {
    return this.bake !== undefined;
  }

  emit(event: Stamped): void {
    this.view = foldEvent(this.view, event);
    this.nowMs = Math.max(this.nowMs, Date.parse(event.at) || 0);
    switch (event.kind) {
      case 'gate': {
        const evaluation = event.evaluation;
        const wave = `wave ${event.wave + 1} gate`;
        if (event.noNewHost && !this.noNewHostSaid.has(event.wave)) {
          this.noNewHostSaid.add(event.wave);
          this.notes.push(`${wave}: no new host: ${event.noNewHost}`);
        }
        if (event.control) {
          this.bake = undefined;
          this.notes.push(`${wave}: ${controlLine(event.control, evaluation)}`);
        } else if (evaluation.kind === 'Baking') {
          this.bake = { wave: event.wave, untilMs: (Date.parse(event.at) || 0) + evaluation.remainingMs };
        } else {
          this.bake = undefined;
          const hosts = event.newHosts && event.newHosts.length > 0 ? ` (with ${event.newHosts.join(', ')})` : '';
          if (evaluation.kind === 'Passed')
            this.notes.push(
              evaluation.early ? `${wave} passed${hosts}: ${evaluation.early.text}` : `${wave} passed${hosts}`,
            );
          else {
            const verdict = evaluation.kind.toLowerCase();
            if (evaluation.signals.length === 0) this.notes.push(`${wave} ${verdict}`);
            for (const signal of evaluation.signals) this.notes.push(`${wave} ${verdict}: ${signal}`);
          }
        }
        break;
      }
      case 'wave-started':
        this.bake = undefined;
        this.hold = undefined;
        break;
      case 'wave-blocked':
        this.notes.push(`wave ${event.wave + 1} blocked: ${event.signals.join('; ')}`);
        break;
      case 'wave-held':
        this.hold = { wave: event.wave, reasons: event.reasons };
        break;
      case 'rollback-started':
        this.bake = undefined;
        this.hold = undefined;
        this.notes.push(
          `rolling back ${event.regions.length > 0 ? event.regions.join(', ') : '(nothing was touched)'}`,
        );
        break;
      case 'release-finished':
        this.bake = undefined;
        this.hold = undefined;
        this.notes.push(event.outcome.status);
        break;
      case 'release-started':
      case 'region':
        break;
    }
    this.draw();
  }

  /** Redraws the countdown at `nowMs` (between two gate checks). */
  tick(nowMs: number): void {
    if (!this.bake) return;
    this.nowMs = Math.max(this.nowMs, nowMs);
    this.draw();
  }

  /** A line of its own among the notes under the table (an intent recorded, a release started). */
  note(text: string): void {
    this.notes.push(text);
    this.draw();
  }

  private paint(state: RegionDisplay, text: string): string {
    return this.color ? `\x1b[${REGION_LOOK[state].color}m${text}\x1b[0m` : text;
  }

  private draw(): void {
    const width = Math.max(40, (this.out.columns ?? 120) - 1);
    // Names, messages and reasons come from outside: escaped before any colour of ours is added.
    const clip = (raw: string) => {
      const text = printableLine(raw);
      return text.length > width ? `${text.slice(0, width - 1)}…` : text;
    };
    const view = this.view;
    const lines: string[] = [];
    if (view) {
      lines.push(clip(`${view.service} ${view.version ?? ''} (${view.releaseId})`));
      for (const wave of view.waves) {
        let visible = `  wave ${wave.index + 1} ${printableLine(wave.name ?? '').padEnd(10)}`;
        let line = visible;
        for (const region of wave.regions) {
          const cell = view.regions[region] ?? { state: 'waiting' as const, version: null };
          const version = cell.state === 'rolled-back' ? cell.version : undefined;
          const text = printableLine(`${region} ${regionLabel(cell.state, version)}`);
          if (visible.length + text.length + 3 > width) {
            line += ' …';
            break;
          }
          visible += ` ${text}`;
          line += ` ${this.paint(cell.state, text)}`;
        }
        lines.push(line);
      }
    }
    if (this.bake) {
      const left = Math.max(0, Math.ceil((this.bake.untilMs - this.nowMs) / 1000));
      lines.push(clip(`  wave ${this.bake.wave + 1} baking: ${left}s left`));
    }
    if (this.hold) lines.push(clip(`  HELD before wave ${this.hold.wave + 1}: ${this.hold.reasons.join('; ')}`));
    for (const note of this.notes.slice(-NOTES_SHOWN)) lines.push(clip(`  ${note}`));
    const clear = this.drawn > 0 ? `\x1b[${this.drawn}A\x1b[J` : '';
    this.out.write(`${clear}${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}
