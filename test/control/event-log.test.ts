/**
 * The event log a control server keeps for followers (status --watch): read by position, bounded
 * with the release's first event always kept, and a read with nothing new waits for the next one.
 */
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../control/event-log.ts';
import type { Stamped } from '../../ports/events.ts';

const event = (releaseId: string, n: number): Stamped =>
  ({
    kind: n === 0 ? 'release-started' : 'wave-held',
    service: 'shop',
    releaseId,
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    ...(n === 0 ? { version: '1.0.0', waves: [] } : { wave: 0, reasons: [`check ${n}`] }),
  }) as Stamped;

describe('EventLog', () => {
  it('gives the events from a position on, and the position to ask next', () => {
    const log = new EventLog();
    for (let n = 0; n < 3; n++) log.emit(event('a', n));
    log.emit(event('b', 0));
    expect(log.since('a', 0)).toEqual({ events: [event('a', 0), event('a', 1), event('a', 2)], next: 3 });
    expect(log.since('a', 2)).toEqual({ events: [event('a', 2)], next: 3 });
    expect(log.since('a', 3)).toEqual({ events: [], next: 3 });
    expect(log.since('nope', 0)).toEqual({ events: [], next: 0 });
  });

  it('keeps the first event of a release however long it runs, and the latest ones', () => {
    const log = new EventLog();
    for (let n = 0; n < 5_000; n++) log.emit(event('a', n));
    const page = log.since('a', 0);
    expect(page.events[0]).toEqual(event('a', 0));
    expect(page.events.at(-1)).toEqual(event('a', 4_999));
    expect(page.events.length).toBeLessThan(5_000);
    expect(page.next).toBe(5_000);
    // A follower that fell behind gets what is still kept, not what was dropped.
    expect(log.since('a', 1).events[0]).toEqual(page.events[1]);
  });

  it('wakes a waiting read with the next event, and answers empty after the wait', async () => {
    const log = new EventLog();
    log.emit(event('a', 0));
    const waiting = log.wait('a', 1, 60_000);
    log.emit(event('a', 1));
    expect(await waiting).toEqual({ events: [event('a', 1)], next: 2 });
    expect(await log.wait('a', 2, 10)).toEqual({ events: [], next: 2 });
    expect(log.readSince(60_000)).toBe(true);
  });
});
