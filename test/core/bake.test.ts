/**
 * Adaptive bakes (`bake: {min, max}`): the bake ends at min once the evidence is in, and runs to
 * max otherwise. Missing data never passes and never ends a bake early.
 */
import { describe, expect, it } from 'vitest';
import { bakeTiming, bakeWake, duration, evaluateBake, evidenceIn } from '../../core/bake.ts';
import { notableKey } from '../../core/notable.ts';
import type { SampleCounts } from '../../core/types.ts';
import { gate } from '../helpers/fixtures.ts';

const counts = (ok: number, errors: number, missing = 0): SampleCounts => ({ ok, errors, missing });
const g = gate({ maxErrorRate: 0.1, minSamples: 10, probes: 5 });
/** A bake from 0 to 3,600 s whose min is 300 s. */
const timing = { startedAt: 0, bakeUntil: 3_600_000, bakeMinUntil: 300_000 };
const healthy = { a: counts(10, 0), b: counts(12, 0), c: counts(10, 1) };

describe('evaluateBake', () => {
  it('passes at min once every region has minSamples and no signal above its threshold', () => {
    const e = evaluateBake({ regions: ['a', 'b', 'c'], samples: healthy, gate: g, now: 300_000, ...timing });
    expect(e.kind).toBe('Passed');
    expect(e.kind === 'Passed' && e.early).toEqual({
      afterSeconds: 300,
      maxSeconds: 3600,
      regions: 3,
      newHosts: 0,
      samples: 10,
      text: 'bake ended early at 5m of 1h: 3 regions × ≥10 samples, all under threshold',
    });
  });

  it('keeps baking before min, however good the evidence', () => {
    const e = evaluateBake({ regions: ['a', 'b', 'c'], samples: healthy, gate: g, now: 299_999, ...timing });
    expect(e.kind).toBe('Baking');
  });

  it('keeps baking past min while one region has fewer than minSamples answered', () => {
    const samples = { ...healthy, c: counts(9, 0) };
    const e = evaluateBake({ regions: ['a', 'b', 'c'], samples, gate: g, now: 600_000, ...timing });
    expect(e).toEqual({ kind: 'Baking', remainingMs: 3_000_000 });
  });

  it('keeps baking when a region deployed so far has no samples at all', () => {
    const e = evaluateBake({ regions: ['a', 'b', 'c', 'd'], samples: healthy, gate: g, now: 600_000, ...timing });
    expect(e.kind).toBe('Baking');
  });

  it('counts unanswered probes as bad for an early end: missing data never ends a bake early', () => {
    // 10 answered and healthy, but 2 of 12 went unanswered: over the 10 % the gate allows.
    const samples = { a: counts(10, 0, 2) };
    expect(evaluateBake({ regions: ['a'], samples, gate: g, now: 600_000, ...timing }).kind).toBe('Baking');
    // The same region at max passes on the ordinary rule (answered ones only), as a fixed bake would.
    expect(evaluateBake({ regions: ['a'], samples, gate: g, now: 3_600_000, ...timing })).toEqual({ kind: 'Passed' });
  });

  it('still fails at once on a bad signal, before or after min', () => {
    const samples = { ...healthy, b: counts(5, 5) };
    expect(evaluateBake({ regions: ['a', 'b'], samples, gate: g, now: 10_000, ...timing }).kind).toBe('Failed');
    expect(evaluateBake({ regions: ['a', 'b'], samples, gate: g, now: 400_000, ...timing }).kind).toBe('Failed');
  });

  it('runs to max and is Inconclusive there when the evidence never came in', () => {
    const samples = { a: counts(3, 0, 30) };
    const e = evaluateBake({ regions: ['a'], samples, gate: g, now: 3_600_000, ...timing });
    expect(e.kind).toBe('Inconclusive');
  });

  it('is evaluateGate unchanged for a fixed bake (no min)', () => {
    const { bakeMinUntil: _, ...fixed } = timing;
    expect(evaluateBake({ regions: ['a'], samples: healthy, gate: g, now: 600_000, ...fixed }).kind).toBe('Baking');
    expect(evaluateBake({ regions: ['a'], samples: healthy, gate: g, now: 3_600_000, ...fixed })).toEqual({
      kind: 'Passed',
    });
  });

  it('judges the early end on the evidence given (the watcher’s window), the failure on every sample', () => {
    const all = { a: counts(10, 0, 2) }; // an old unanswered round: not evidence enough on its own
    const window = { a: counts(10, 0) };
    const input = { regions: ['a'], samples: all, gate: g, now: 600_000, ...timing };
    expect(evaluateBake(input).kind).toBe('Baking');
    expect(evaluateBake({ ...input, evidence: window }).kind).toBe('Passed');
    // No window (the watcher saw nothing this wait): no early end, whatever was carried.
    expect(evaluateBake({ ...input, samples: healthy, regions: ['a', 'b'], evidence: {} }).kind).toBe('Baking');
    // A bad signal anywhere still fails it, whatever the window says.
    expect(evaluateBake({ ...input, samples: { a: counts(5, 5) }, evidence: window }).kind).toBe('Failed');
  });

  it('a failed deployment fails it whatever the samples', () => {
    const e = evaluateBake({
      regions: ['a'],
      samples: healthy,
      gate: g,
      now: 600_000,
      ...timing,
      failedDeploys: [{ region: 'a', message: 'boom' }],
    });
    expect(e.kind).toBe('Failed');
  });
});

describe('evidenceIn', () => {
  it('is no evidence with no regions', () => {
    expect(evidenceIn({ regions: [], samples: {}, gate: g, now: 400_000, startedAt: 0, bakeUntil: 3_600_000 })).toBe(
      null,
    );
  });
});

describe('bakeWake', () => {
  it('wakes the wait with the evidence once past min, and only then', () => {
    const input = { regions: ['a', 'b'], samples: healthy, gate: g, ...timing };
    expect(bakeWake({ ...input, now: 100_000 })).toEqual({ kind: 'keep-baking' });
    const wake = bakeWake({ ...input, now: 301_000 });
    expect(wake.kind).toBe('evidence-in');
    expect(wake.kind === 'evidence-in' && wake.early.afterSeconds).toBe(301);
  });

  it('fails on a bad signal as before', () => {
    const wake = bakeWake({ regions: ['a'], samples: { a: counts(1, 4) }, gate: g, now: 5_000, ...timing });
    expect(wake.kind).toBe('fail');
  });
});

describe('bakeTiming', () => {
  it('gives a fixed bake no min and an adaptive one its min, never past its max', () => {
    expect(bakeTiming({ bakeSeconds: 60 }, 1000)).toEqual({ startedAt: 1000, bakeUntil: 61_000 });
    expect(bakeTiming({ bakeSeconds: 60, bakeMinSeconds: 5 }, 1000)).toEqual({
      startedAt: 1000,
      bakeUntil: 61_000,
      bakeMinUntil: 6000,
    });
    expect(bakeTiming({ bakeSeconds: 2, bakeMinSeconds: 5 }, 0).bakeMinUntil).toBe(2000);
  });
});

describe('the early end names the regions and the new hosts apart', () => {
  const host = (region: string) => `new host (${region})`;
  const end = (regions: string[]) =>
    evidenceIn({
      regions,
      samples: Object.fromEntries(regions.map((r) => [r, counts(10, 0)])),
      gate: g,
      now: 300_000,
      ...timing,
    });

  it('says "1 region and its new host", never "2 regions"', () => {
    expect(end(['us-east-1', host('us-east-1')])).toMatchObject({
      regions: 1,
      newHosts: 1,
      text: 'bake ended early at 5m of 1h: 1 region and its new host × ≥10 samples, all under threshold',
    });
  });

  it("says the wave's new host apart from every region deployed so far", () => {
    expect(end(['us-east-1', 'eu-west-1', host('eu-west-1')])).toMatchObject({
      regions: 2,
      newHosts: 1,
      text: "bake ended early at 5m of 1h: 2 regions and the wave's new host × ≥10 samples, all under threshold",
    });
  });

  it('counts several new hosts as new hosts', () => {
    const regions = ['a', 'b', 'c', host('b'), host('c')];
    expect(end(regions)).toMatchObject({
      regions: 3,
      newHosts: 2,
      text: 'bake ended early at 5m of 1h: 3 regions and 2 new hosts × ≥10 samples, all under threshold',
    });
  });

  it('says regions alone when the wave has no new host', () => {
    expect(end(['a'])?.text).toBe('bake ended early at 5m of 1h: 1 region × ≥10 samples, all under threshold');
  });
});

describe('duration', () => {
  it('reads as people write it', () => {
    expect([0, 7, 90, 300, 3600, 3725].map(duration)).toEqual(['0s', '7s', '1m30s', '5m', '1h', '1h2m5s']);
  });
});

describe('the early end is notable', () => {
  it('so SNS carries it to Slack on AWS, once per wave', () => {
    const early = evidenceIn({ regions: ['a'], samples: healthy, gate: g, now: 300_000, ...timing });
    if (!early) throw new Error('expected evidence');
    const event = {
      kind: 'gate' as const,
      wave: 1,
      regions: ['a'],
      evaluation: { kind: 'Passed' as const, early },
      service: 's',
      releaseId: 'r',
      at: '2026-01-01T00:00:00Z',
    };
    expect(notableKey(event)).toBe('r|gate-Passed|1');
    expect(notableKey({ ...event, evaluation: { kind: 'Passed' } })).toBe(null);
  });
});
