/**
 * Live progress as plain lines (CI logs, pipes, `--watch` into a file): one line per event
 * (core/event-line.ts), except the checks that repeat while nothing changes. A bake is checked
 * every gate interval and a hold re-checked every few seconds; printing each would bury the log
 * (a 10-minute bake is 600 lines), so a gate line is printed when its verdict changes and a hold
 * when its reasons do, plus a heartbeat line while they go on. Times are the events' own.
 */
import { plainLine } from '../core/event-line.ts';
import { printableLine } from '../core/printable.ts';
import type { Stamped } from '../ports/events.ts';
import type { ProgressWriter } from '../ports/writer.ts';

/** How often an unchanged bake or hold is said again. */
export const HEARTBEAT_MS = 30_000;

export class PlainProgress {
  private readonly out: ProgressWriter;
  private readonly heartbeatMs: number;
  /** Per release: what the last repeating line said (without its time), and when it was printed. */
  private readonly last = new Map<string, { key: string; atMs: number }>();

  constructor(out: ProgressWriter, options: { heartbeatMs?: number } = {}) {
    this.out = out;
    this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  }

  emit(event: Stamped): void {
    const key = repeatKey(event);
    if (key !== undefined) {
      const atMs = Date.parse(event.at) || 0;
      const seen = this.last.get(event.releaseId);
      if (seen && seen.key === key && atMs - seen.atMs < this.heartbeatMs) return;
      this.last.set(event.releaseId, { key, atMs });
    } else {
      this.last.delete(event.releaseId);
    }
    this.out.write(`${plainLine(event)}\n`);
  }

  note(text: string, at = new Date().toISOString()): void {
    this.out.write(`${at.slice(11, 19)} ${printableLine(text)}\n`);
  }
}

/**
 * What makes a repeating check a change: a Baking gate of the same wave is the same line whatever
 * time it has left; a hold is the same while its reasons are. Undefined for every other event.
 */
function repeatKey(event: Stamped): string | undefined {
  if (event.kind === 'gate' && event.evaluation.kind === 'Baking' && !event.control) {
    return `gate ${event.wave} ${event.regions.join(',')}`;
  }
  if (event.kind === 'wave-held') return `held ${event.wave} ${JSON.stringify(event.reasons)}`;
  return undefined;
}
