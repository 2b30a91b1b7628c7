/**
 * Live progress of a release. On a terminal: a block redrawn in place, one line per wave with
 * each region's state. Elsewhere (CI logs, pipes): one plain line per event.
 */
import type { RegionProgress, Stamped } from '../ports/events.ts';

type RegionView = RegionProgress | 'waiting' | 'baking' | 'passed' | 'failed';

const colors: Record<RegionView, string> = {
  waiting: '2',
  deploying: '36',
  deployed: '36',
  baking: '33',
  passed: '32',
  failed: '31',
  'deploy-failed': '31',
  'rolling-back': '35',
  'rolled-back': '35',
  'rollback-failed': '41;97',
};

export interface ProgressWriter {
  write(text: string): void;
}

export function plainLine(event: Stamped): string {
  const time = event.at.slice(11, 19);
  switch (event.kind) {
    case 'release-started':
      return `${time} release ${event.releaseId}: ${event.service} ${event.version} in ${event.waves.length} waves (${event.waves.map((w) => `${w.name}: ${w.regions.join(', ')}`).join(' | ')})`;
    case 'wave-started':
      return `${time} wave ${event.wave + 1} (${event.name}): ${event.regions.join(', ')}`;
    case 'wave-blocked':
      return `${time} wave ${event.wave + 1} BLOCKED: ${event.signals.join('; ')}`;
    case 'wave-held':
      return `${time} wave ${event.wave + 1} HELD: ${event.reasons.join('; ')}`;
    case 'region':
      return `${time}   ${event.region}: ${event.state}${event.version ? ` ${event.version}` : ''}${event.message ? ` (${event.message})` : ''}`;
    case 'gate': {
      const e = event.evaluation;
      const detail =
        e.kind === 'Baking'
          ? `baking, ${Math.ceil(e.remainingMs / 1000)}s left`
          : e.kind === 'Passed'
            ? 'passed'
            : `${e.kind.toUpperCase()}: ${e.signals.join('; ')}`;
      return `${time} wave ${event.wave + 1} gate (${event.regions.length} regions): ${detail}`;
    }
    case 'rollback-started':
      return `${time} ROLLING BACK ${event.regions.length > 0 ? event.regions.join(', ') : '(nothing was touched)'}: ${event.reason}`;
    case 'release-finished':
      return `${time} ${event.outcome.status}: ${event.outcome.reason}`;
  }
}

/** Redraws a per-wave table on a TTY; the final outcome and any failure detail stay printed below it. */
export class TerminalProgress {
  private waves: { name: string; regions: string[] }[] = [];
  private readonly state = new Map<string, RegionView>();
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
        for (const w of event.waves) for (const r of w.regions) this.state.set(r, 'waiting');
        break;
      case 'region':
        this.state.set(event.region, event.state);
        if (event.message) this.notes.push(`${event.region}: ${event.message}`);
        break;
      case 'gate':
        for (const region of event.regions) {
          const current = this.state.get(region);
          if (current === 'deployed' || current === 'baking' || current === 'passed') {
            const kind = event.evaluation.kind;
            this.state.set(region, kind === 'Baking' ? 'baking' : kind === 'Passed' ? 'passed' : 'failed');
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
    const clip = (text: string) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);
    const lines = [clip(this.header)];
    this.waves.forEach((wave, i) => {
      let visible = `  wave ${i + 1} ${wave.name.padEnd(10)}`;
      let line = visible;
      for (const region of wave.regions) {
        const view = this.state.get(region) ?? 'waiting';
        const cell = ` ${region} ${view}`;
        if (visible.length + cell.length + 2 > width) {
          line += ' …';
          break;
        }
        visible += cell;
        line += ` \x1b[${colors[view]}m${region} ${view}\x1b[0m`;
      }
      lines.push(line);
    });
    for (const note of this.notes.slice(-6)) lines.push(clip(`  ${note}`));
    const clear = this.drawn > 0 ? `\x1b[${this.drawn}A\x1b[J` : '';
    this.out.write(`${clear}${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}
