import { describe, expect, it } from 'vitest';
import { addSamples, emptyCounts, evaluateGate, rollbackHealthy, worst } from '../../core/gate.ts';
import type { SampleCounts, Verdict } from '../../core/types.ts';
import { gate } from '../helpers/fixtures.ts';

const counts = (ok: number, errors: number, missing = 0): SampleCounts => ({ ok, errors, missing });

describe('evaluateGate', () => {
  const g = gate({ maxErrorRate: 0.1, minSamples: 10, probes: 5 });
  const cases: { name: string; samples: Record<string, SampleCounts>; now: number; want: string }[] = [
    {
      name: 'passes a healthy region with enough samples once the bake is over',
      samples: { a: counts(10, 0) },
      now: 100,
      want: 'Passed',
    },
    {
      name: 'keeps baking a healthy region before the bake ends',
      samples: { a: counts(10, 0) },
      now: 50,
      want: 'Baking',
    },
    {
      name: 'fails as soon as one probe round is over the error rate, mid-bake',
      samples: { a: counts(3, 2) },
      now: 10,
      want: 'Failed',
    },
    {
      name: 'does not fail on a partial round below the probe count',
      samples: { a: counts(0, 1) },
      now: 10,
      want: 'Baking',
    },
    { name: 'is Inconclusive, never Passed, with no data at all', samples: {}, now: 100, want: 'Inconclusive' },
    {
      name: 'is Inconclusive when every probe went unanswered',
      samples: { a: counts(0, 0, 40) },
      now: 100,
      want: 'Inconclusive',
    },
    {
      name: 'is Inconclusive with too few samples even if all were ok',
      samples: { a: counts(9, 0) },
      now: 100,
      want: 'Inconclusive',
    },
    { name: 'allows errors up to the rate', samples: { a: counts(9, 1) }, now: 100, want: 'Passed' },
    { name: 'fails just above the rate', samples: { a: counts(17, 3) }, now: 100, want: 'Failed' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = evaluateGate({ regions: ['a'], samples: c.samples, gate: g, now: c.now, bakeUntil: 100 });
      expect(result.kind).toBe(c.want);
    });
  }

  it('counts every region deployed so far: an earlier wave failing fails the gate', () => {
    const result = evaluateGate({
      regions: ['canary', 'new-1', 'new-2'],
      samples: { canary: counts(2, 8), 'new-1': counts(10, 0), 'new-2': counts(10, 0) },
      gate: g,
      now: 100,
      bakeUntil: 100,
    });
    expect(result).toMatchObject({ kind: 'Failed' });
    expect(result.kind === 'Failed' && result.signals.join()).toContain('canary');
  });

  it('never passes when any region lacks data (property: random healthy regions plus one silent one)', () => {
    for (let i = 0; i < 200; i++) {
      const n = 1 + Math.floor(Math.random() * 10);
      const regions = Array.from({ length: n }, (_, k) => `r${k}`);
      const samples: Record<string, SampleCounts> = {};
      for (const r of regions) samples[r] = counts(10 + Math.floor(Math.random() * 50), 0);
      const silent = regions[Math.floor(Math.random() * n)] as string;
      samples[silent] = counts(Math.floor(Math.random() * 10), 0, Math.floor(Math.random() * 50));
      const result = evaluateGate({ regions, samples, gate: g, now: 1000, bakeUntil: 100 });
      expect(result.kind).toBe('Inconclusive');
    }
  });
});

describe('worst', () => {
  it('orders verdicts Passed < Inconclusive < Failed', () => {
    const all: Verdict[] = ['Passed', 'Inconclusive', 'Failed'];
    for (const a of all)
      for (const b of all) expect(all.indexOf(worst(a, b))).toBe(Math.max(all.indexOf(a), all.indexOf(b)));
  });
});

describe('addSamples', () => {
  it('counts ok, error and missing samples and keeps the latest problem', () => {
    const c = addSamples(emptyCounts(), [
      { kind: 'ok', status: 200, version: '1' },
      { kind: 'error', status: 500, message: 'HTTP 500' },
      { kind: 'missing', message: 'timed out' },
    ]);
    expect(c).toEqual({ ok: 1, errors: 1, missing: 1, lastProblem: 'timed out' });
  });
});

describe('rollbackHealthy', () => {
  it('leaves the verdict to the deployment when there is no immediate signal at all', () => {
    expect(rollbackHealthy(emptyCounts(), gate())).toBe(true);
  });
  it('needs at least one answer and an error rate within the limit', () => {
    expect(rollbackHealthy(counts(0, 0, 5), gate())).toBe(false);
    expect(rollbackHealthy(counts(5, 0), gate())).toBe(true);
    expect(rollbackHealthy(counts(0, 5), gate())).toBe(false);
  });
});
