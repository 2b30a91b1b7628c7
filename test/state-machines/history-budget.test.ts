/**
 * The history budget (AWS fails a Standard execution at 25,000 events), checked on the real ASL:
 * the parent must not grow with deploy time, and one child must survive a day-long deploy with
 * few events (it waits on its deployment's event; only the fallback re-check costs over time).
 */
import { describe, expect, it } from 'vitest';
import { historyFigures, waitFigures } from '../../bench/history.ts';

describe('AWS history budget', () => {
  it('keeps the parent of 40 regions in 4 waves under 3,000 events, the same for 10-minute and 10-hour deploys, and a 24-hour child under 2,000 even with its event missed', async () => {
    const figures = await historyFigures();
    expect(figures.statuses).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(figures.history_parent_events_10m).toBeLessThanOrEqual(3000);
    expect(figures.history_parent_events_10h).toBe(figures.history_parent_events_10m);
    // The child waits on its deployment's event: only the slow re-check for a missed one (every
    // 15 minutes once it has slowed down) grows with deploy time, not a poll every minute.
    expect(figures.history_child_events_10m).toBeLessThanOrEqual(100);
    expect(figures.history_child_events_24h).toBeLessThanOrEqual(2_000);
    expect(figures.history_child_events_24h_missed_event).toBeLessThanOrEqual(2_000);
    expect(figures.history_child_events_24h).toBeGreaterThan(figures.history_child_events_10m);
  }, 300_000);

  it('keeps the parent the same for 10-minute and 24-hour bakes, under 3,100 after 48 h queued, and under 6,000 for 100 regions in 5 waves', async () => {
    const figures = await waitFigures();
    expect(figures.statuses).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(figures.history_parent_events_bake_10m).toBeLessThanOrEqual(3000);
    expect(figures.history_parent_events_bake_24h).toBe(figures.history_parent_events_bake_10m);
    expect(figures.history_parent_events_queue_48h).toBeLessThanOrEqual(3100);
    expect(figures.history_parent_events_100r).toBeLessThanOrEqual(6000);
  }, 300_000);
});
