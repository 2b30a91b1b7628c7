/**
 * The events of the releases this process runs, kept so that a client can follow one from
 * another terminal (`flotilla status --watch`, a `release` submitted to `flotilla up`) and see
 * what this terminal sees: wave names, every gate check, holds. A bounded log per release (its
 * first event, `release-started`, always kept), read by position; a read with nothing new waits
 * for the next event or the timeout (a long poll).
 */
import type { EventSink, Stamped } from '../ports/events.ts';

/** Events kept per release besides its first (a day of 1 s gate checks is 86,400: the oldest go). */
const KEPT = 2_000;
/** Releases kept (the oldest forgotten first). */
const RELEASES = 20;

export interface EventPage {
  /** The events from position `after` on (or from the oldest still kept). */
  events: Stamped[];
  /** The position to ask for next. */
  next: number;
}

interface Entry {
  first: Stamped | undefined;
  /** Events 1.. (position = offset + index + 1). */
  rest: Stamped[];
  offset: number;
  waiters: Set<() => void>;
}

export class EventLog implements EventSink {
  readonly #releases = new Map<string, Entry>();
  #lastReadAt = Number.NEGATIVE_INFINITY;

  /** Whether someone read the log in the last `ms` (a follower that should see the end before the server closes). */
  readSince(ms: number, now = Date.now()): boolean {
    return now - this.#lastReadAt <= ms;
  }

  #entry(releaseId: string): Entry {
    let entry = this.#releases.get(releaseId);
    if (!entry) {
      entry = { first: undefined, rest: [], offset: 0, waiters: new Set() };
      this.#releases.set(releaseId, entry);
      if (this.#releases.size > RELEASES) {
        const oldest = this.#releases.keys().next().value as string;
        this.#releases.delete(oldest);
      }
    }
    return entry;
  }

  emit(event: Stamped): void {
    const entry = this.#entry(event.releaseId);
    if (entry.first === undefined) entry.first = event;
    else {
      entry.rest.push(event);
      if (entry.rest.length > KEPT) {
        entry.rest.shift();
        entry.offset += 1;
      }
    }
    for (const wake of entry.waiters) wake();
    entry.waiters.clear();
  }

  /** The events at positions `after` and later, without waiting. */
  since(releaseId: string, after: number): EventPage {
    const entry = this.#releases.get(releaseId);
    if (!entry?.first) return { events: [], next: after };
    const total = 1 + entry.offset + entry.rest.length;
    const events: Stamped[] = [];
    if (after <= 0) events.push(entry.first);
    const from = Math.max(0, after - 1 - entry.offset);
    events.push(...entry.rest.slice(from));
    return { events, next: total };
  }

  /** As `since`, but waits up to `waitMs` for an event when there is none yet. */
  async wait(releaseId: string, after: number, waitMs: number): Promise<EventPage> {
    this.#lastReadAt = Date.now();
    const now = this.since(releaseId, after);
    if (now.events.length > 0 || waitMs <= 0) return now;
    const entry = this.#entry(releaseId);
    await new Promise<void>((ok) => {
      const timer = setTimeout(() => {
        entry.waiters.delete(done);
        ok();
      }, waitMs);
      const done = () => {
        clearTimeout(timer);
        ok();
      };
      entry.waiters.add(done);
    });
    return this.since(releaseId, after);
  }
}
