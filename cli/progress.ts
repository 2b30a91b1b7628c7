/**
 * Live progress of a release on a terminal: a block redrawn in place, one line per wave with each
 * region's state (labels and colours from core/region-display.ts, as Slack shows them). Elsewhere
 * (CI logs, pipes) the CLI prints one plain line per event (core/event-line.ts).
 */

import { printableLine } from '../core/printable.ts';
import {
  displayOfProgress,
  displayOfVerdict,
  REGION_LOOK,
  type RegionDisplay,
  regionLabel,
} from '../core/region-display.ts';
import type { Stamped } from '../ports/events.ts';
import type { ProgressWriter } from '../ports/writer.ts';

/** What the table shows of one region: its display and, after a rollback, what it runs. */
interface RegionCell {
  state: RegionDisplay;
  version?: string | null;
}

/** Redraws a per-wave table on a TTY; the final outcome and any failure detail stay printed below it. */
export class TerminalProgress {
  private waves: { name: string; regions: string[] }[] = [];
  private readonly state = new Map<string, RegionCell>();
  private readonly notes: string[] = [];
  private header = '';
  private drawn = 0;
  private readonly out: ProgressWriter & { columns?: number };

  /** `out.columns` (a TTY's width) keeps every line from wrapping, which would break the redraw. */
  constructor(out: ProgressWriter & { columns?: number }) {
    this.out = out;
  }

  emit(event: Stamped): void {
    switch (event.kind) {
      case 'release-started':
        this.waves = event.waves;
        this.header = `${event.service} ${event.version} (${event.releaseId})`;
        for (const w of event.waves) for (const r of w.regions) this.state.set(r, { state: 'waiting' });
        break;
      case 'region':
        this.state.set(event.region, { state: displayOfProgress(event.state), version: event.version });
        if (event.message) this.notes.push(`${event.region}: ${event.message}`);
        break;
      case 'gate':
        for (const region of event.regions) {
          const current = this.state.get(region)?.state;
          if (current === 'deployed' || current === 'baking' || current === 'passed') {
            this.state.set(region, { state: displayOfVerdict(event.evaluation.kind) });
          }
        }
        if (event.evaluation.kind === 'Failed' || event.evaluation.kind === 'Inconclusive') {
          const verdict = event.evaluation.kind.toLowerCase();
          for (const signal of event.evaluation.signals) this.notes.push(`gate ${verdict}: ${signal}`);
        }
        break;
      case 'wave-blocked':
        this.notes.push(`wave ${event.wave + 1} blocked: ${event.signals.join('; ')}`);
        break;
      case 'wave-held':
        this.notes.push(`wave ${event.wave + 1} held: ${event.reasons.join('; ')}`);
        break;
      case 'rollback-started':
        this.notes.push(
          `rolling back ${event.regions.length > 0 ? event.regions.join(', ') : '(nothing was touched)'}`,
        );
        break;
      case 'release-finished':
        this.notes.push(event.outcome.status);
        break;
      case 'wave-started':
        break;
    }
    this.draw();
  }

  /** A line of its own among the notes under the table (an intent recorded, a release started). */
  note(text: string): void {
    this.notes.push(text);
    this.draw();
  }

  private draw(): void {
    const width = Math.max(40, (this.out.columns ?? 120) - 1);
    // Names, messages and reasons come from outside: escaped before any colour of ours is added.
    const clip = (raw: string) => {
      const text = printableLine(raw);
      return text.length > width ? `${text.slice(0, width - 1)}…` : text;
    };
    const lines = [clip(this.header)];
    this.waves.forEach((wave, i) => {
      let visible = `  wave ${i + 1} ${printableLine(wave.name).padEnd(10)}`;
      let line = visible;
      for (const region of wave.regions) {
        const cell = this.state.get(region) ?? { state: 'waiting' };
        const text = printableLine(`${region} ${regionLabel(cell.state, cell.version)}`);
        if (visible.length + text.length + 3 > width) {
          line += ' …';
          break;
        }
        visible += ` ${text}`;
        line += ` \x1b[${REGION_LOOK[cell.state].color}m${text}\x1b[0m`;
      }
      lines.push(line);
    });
    for (const note of this.notes.slice(-6)) lines.push(clip(`  ${note}`));
    const clear = this.drawn > 0 ? `\x1b[${this.drawn}A\x1b[J` : '';
    this.out.write(`${clear}${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}
