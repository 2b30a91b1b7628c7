/**
 * The history budget (AWS fails a Standard execution at 25,000 events), checked on the real ASL:
 * the parent must not grow with deploy time, and one child must survive a day-long deploy.
 */
import { describe, expect, it } from 'vitest';
import { historyFigures, waitFigures } from '../../bench/history.ts';

describe('AWS history budget', () => {
  it('keeps the parent of 40 regions in 4 waves under 3,000 events, the same for 10-minute and 10-hour deploys, and a 24-hour child under 10,000', async () => {
    const figures = await historyFigures();
    expect(figures.statuses).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(figures.history_parent_events_10m).toBeLessThanOrEqual(3000);
    expect(figures.history_parent_events_10h).toBe(figures.history_parent_events_10m);
    expect(figures.history_child_events_24h).toBeLessThanOrEqual(10_000);
    // The child does grow with deploy time (it polls), which is why it is a child.
    expect(figures.history_child_events_24h).toBeGreaterThan(figures.history_child_events_10h);
  }, 120_000);

  it('keeps the parent the same for 10-minute and 24-hour bakes, under 3,100 after 48 h queued, and under 6,000 for 100 regions in 5 waves', async () => {
    const figures = await waitFigures();
    expect(figures.statuses).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(figures.history_parent_events_bake_10m).toBeLessThanOrEqual(3000);
    expect(figures.history_parent_events_bake_24h).toBe(figures.history_parent_events_bake_10m);
    expect(figures.history_parent_events_queue_48h).toBeLessThanOrEqual(3100);
    expect(figures.history_parent_events_100r).toBeLessThanOrEqual(6000);
  }, 300_000);
});
