/**
 * Gate verdicts. Pure: the caller passes samples and `now`.
 * Missing data is never a pass: too few samples at the end of a bake is Inconclusive.
 */
import type { GateSettings } from './config.ts';
import type { ProbeSample } from './model.ts';
import type { GateEvaluation, SampleCounts, Verdict } from './types.ts';

export const emptyCounts = (): SampleCounts => ({ ok: 0, errors: 0, missing: 0 });

/** Adds probe samples to running counts (returns a new object). */
export function addSamples(counts: SampleCounts, samples: readonly ProbeSample[]): SampleCounts {
  const next: SampleCounts = { ...counts };
  for (const sample of samples) {
    if (sample.kind === 'ok') next.ok += 1;
    else if (sample.kind === 'error') {
      next.errors += 1;
      next.lastProblem = sample.message;
    } else {
      next.missing += 1;
      next.lastProblem = sample.message;
    }
  }
  return next;
}

export function mergeCounts(a: SampleCounts, b: SampleCounts): SampleCounts {
  return {
    ok: a.ok + b.ok,
    errors: a.errors + b.errors,
    missing: a.missing + b.missing,
    ...((b.lastProblem ?? a.lastProblem) !== undefined ? { lastProblem: b.lastProblem ?? a.lastProblem } : {}),
  };
}

const rank: Record<Verdict, number> = { Passed: 0, Inconclusive: 1, Failed: 2 };

/** The worse of two verdicts. */
export function worst(a: Verdict, b: Verdict): Verdict {
  return rank[a] >= rank[b] ? a : b;
}

export function describeCounts(region: string, c: SampleCounts, gate: GateSettings): string {
  const answered = c.ok + c.errors;
  const rate = answered === 0 ? 0 : c.errors / answered;
  const base = `${region}: ${c.errors}/${answered} probes of ${gate.healthPath} failed (${(rate * 100).toFixed(0)}% > ${(gate.maxErrorRate * 100).toFixed(0)}% allowed)`;
  return c.lastProblem ? `${base}; last: ${c.lastProblem}` : base;
}

/** One region's verdict from its samples, as if the bake ended now. */
export function regionVerdict(c: SampleCounts, gate: GateSettings): Verdict {
  const answered = c.ok + c.errors;
  const enough = Math.min(gate.minSamples, gate.probes);
  if (answered >= enough && c.errors / answered > gate.maxErrorRate) return 'Failed';
  if (answered < gate.minSamples) return 'Inconclusive';
  return 'Passed';
}

/**
 * Evaluates a wave's bake. A failed deployment fails it outright. A region fails as soon as it has answered at least one probe round
 * and its error rate is over the limit, so a bad build is caught at the first check rather than
 * at the end of the bake. Before the bake ends nothing passes; at the end, a region with fewer
 * than `minSamples` answered probes makes the gate Inconclusive.
 */
export function evaluateGate(input: {
  regions: readonly string[];
  samples: Readonly<Record<string, SampleCounts>>;
  gate: GateSettings;
  now: number;
  bakeUntil: number;
  /** Regions of the wave whose deployment failed, each with why: a failed deploy fails the gate. */
  failedDeploys?: readonly { region: string; message: string }[];
}): GateEvaluation {
  const { regions, samples, gate, now, bakeUntil } = input;
  const failed: string[] = (input.failedDeploys ?? []).map((f) => `${f.region}: deployment failed: ${f.message}`);
  if (failed.length > 0) return { kind: 'Failed', signals: failed };
  const short: string[] = [];
  for (const region of regions) {
    const c = samples[region] ?? emptyCounts();
    const verdict = regionVerdict(c, gate);
    if (verdict === 'Failed') failed.push(describeCounts(region, c, gate));
    else if (verdict === 'Inconclusive') {
      const answered = c.ok + c.errors;
      const why = c.lastProblem ? `; last: ${c.lastProblem}` : '';
      short.push(
        `${region}: only ${answered} of ${gate.minSamples} required samples answered (${c.missing} probes got no answer)${why}`,
      );
    }
  }
  if (failed.length > 0) return { kind: 'Failed', signals: failed };
  if (now < bakeUntil) return { kind: 'Baking', remainingMs: bakeUntil - now };
  if (short.length > 0) return { kind: 'Inconclusive', signals: short };
  return { kind: 'Passed' };
}

/**
 * Whether a rollback's verification shows the region healthy again. Probes that went unanswered
 * are not healthy. No immediate signal at all (a CodeDeploy region gated only by alarms, which
 * lag) leaves the verdict to the rollback deployment's own success.
 */
export function rollbackHealthy(c: SampleCounts, gate: GateSettings): boolean {
  const answered = c.ok + c.errors;
  if (answered + c.missing === 0) return true;
  return answered > 0 && c.errors / answered <= gate.maxErrorRate;
}
