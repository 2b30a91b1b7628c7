/**
 * A wave's bake as one wait: the release sleeps on a task token whose timeout is the bake's
 * length (an adaptive bake's max), and is woken early only by evidence (a signal turning bad in any
 * region deployed so far; for an adaptive bake past its min, the evidence being in) or by a person
 * (promote, abort). These are the rules of that wait; the gate's verdict itself is
 * core/gate.ts `evaluateGate`, used here unchanged. Pure: `now` is passed in.
 */
import type { GateSettings } from './config.ts';
import { emptyCounts, evaluateGate, mergeCounts } from './gate.ts';
import { isNewHostName } from './new-host.ts';
import type { EarlyEnd, GateEvaluation, SampleCounts } from './types.ts';

/** What a watcher (the local HTTP prober, the scheduled prober or an alarm event on AWS) does with what it saw. */
export type BakeWake =
  /** Nothing decisive yet: the release keeps sleeping. */
  | { kind: 'keep-baking' }
  /** A signal went bad: fail the wait now, the final check rolls back. */
  | { kind: 'fail'; signals: string[] }
  /** An adaptive bake past its min with the evidence in: wake the wait now, the final check passes it. */
  | { kind: 'evidence-in'; early: EarlyEnd };

/** A bake's times: when it started, its end (the max of an adaptive bake) and, adaptive, its min. */
export interface BakeTiming {
  startedAt: number;
  bakeUntil: number;
  bakeMinUntil?: number;
}

/** A wave's bake times from its plan, started at `startedAt`: a fixed bake, or an adaptive one's min and max. */
export function bakeTiming(
  wave: { bakeSeconds: number; bakeMinSeconds?: number } | undefined,
  startedAt: number,
): BakeTiming {
  const bakeUntil = startedAt + (wave?.bakeSeconds ?? 0) * 1000;
  if (wave?.bakeMinSeconds === undefined) return { startedAt, bakeUntil };
  return { startedAt, bakeUntil, bakeMinUntil: Math.min(bakeUntil, startedAt + wave.bakeMinSeconds * 1000) };
}

/** Whether what the watchers have seen so far ends the bake now. */
export function bakeWake(
  input: {
    regions: readonly string[];
    samples: Readonly<Record<string, SampleCounts>>;
    gate: GateSettings;
    now: number;
  } & BakeTiming,
): BakeWake {
  const evaluation = evaluateBake(input);
  if (evaluation.kind === 'Failed') return { kind: 'fail', signals: evaluation.signals };
  if (evaluation.kind === 'Passed' && evaluation.early) return { kind: 'evidence-in', early: evaluation.early };
  return { kind: 'keep-baking' };
}

/**
 * The gate's verdict for a bake that may end early: `evaluateGate` unchanged, except that an
 * adaptive bake still Baking at or past its min Passes as soon as the evidence is in
 * (`evidenceIn`). A fixed bake (no `bakeMinUntil`) is exactly `evaluateGate`.
 */
export function evaluateBake(
  input: Parameters<typeof evaluateGate>[0] & {
    startedAt: number;
    bakeMinUntil?: number;
    /**
     * The samples the early end is judged on, when not `samples`: the final check passes the ones
     * the watcher judged (this wait's), so the two agree and a refused wake does not repeat.
     */
    evidence?: Readonly<Record<string, SampleCounts>>;
  },
): GateEvaluation {
  const evaluation = evaluateGate(input);
  const { bakeMinUntil, now } = input;
  if (evaluation.kind !== 'Baking' || bakeMinUntil === undefined || now < bakeMinUntil) return evaluation;
  const early = evidenceIn({ ...input, samples: input.evidence ?? input.samples });
  return early ? { kind: 'Passed', early } : evaluation;
}

/**
 * Whether the evidence is in: every region deployed so far has at least `minSamples` answered
 * probes and its bad share is within `maxErrorRate`, where an unanswered probe counts as bad (missing
 * data never passes, and never ends a bake early). No regions at all is no evidence. Null when not.
 */
export function evidenceIn(input: {
  regions: readonly string[];
  samples: Readonly<Record<string, SampleCounts>>;
  gate: GateSettings;
  now: number;
  startedAt: number;
  bakeUntil: number;
}): EarlyEnd | null {
  const { regions, samples, gate, now, startedAt, bakeUntil } = input;
  if (regions.length === 0) return null;
  let fewest = Number.POSITIVE_INFINITY;
  for (const region of regions) {
    const c = samples[region] ?? emptyCounts();
    const answered = c.ok + c.errors;
    if (answered < gate.minSamples) return null;
    if ((c.errors + c.missing) / (answered + c.missing) > gate.maxErrorRate) return null;
    fewest = Math.min(fewest, answered);
  }
  const afterSeconds = Math.max(0, Math.round((now - startedAt) / 1000));
  const maxSeconds = Math.max(0, Math.round((bakeUntil - startedAt) / 1000));
  // The gate judges a wave's new host as one more region; the record says which is which.
  const newHosts = regions.filter(isNewHostName).length;
  const regionCount = regions.length - newHosts;
  return {
    afterSeconds,
    maxSeconds,
    regions: regionCount,
    newHosts,
    samples: fewest,
    text: `bake ended early at ${duration(afterSeconds)} of ${duration(maxSeconds)}: ${judged(regionCount, newHosts)} × ≥${fewest} samples, all under threshold`,
  };
}

/** "1 region and its new host", "2 regions and the wave's new host", "3 regions and 2 new hosts". */
function judged(regions: number, newHosts: number): string {
  const counted = `${regions} region${regions === 1 ? '' : 's'}`;
  if (newHosts === 0) return counted;
  if (regions === 0) return newHosts === 1 ? 'the new host' : `${newHosts} new hosts`;
  if (newHosts > 1) return `${counted} and ${newHosts} new hosts`;
  return `${counted} and ${regions === 1 ? 'its' : "the wave's"} new host`;
}

/** 300 → "5m", 90 → "1m30s", 3600 → "1h", 7 → "7s". */
export function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const parts = [h > 0 ? `${h}h` : '', m > 0 ? `${m}m` : '', s > 0 || seconds === 0 ? `${s}s` : ''];
  return parts.join('');
}

/**
 * The bake wait's timeout in whole seconds (Step Functions takes an integer ≥ 1): the bake's end,
 * rounded up, so the final check never lands before it.
 */
export function bakeSecondsLeft(now: number, bakeUntil: number): number {
  return Math.max(1, Math.ceil((bakeUntil - now) / 1000));
}

/** The samples the final check counts: those carried in the release's state plus the watchers'. */
export function withWatched(
  carried: Readonly<Record<string, SampleCounts>>,
  watched: Readonly<Record<string, SampleCounts>>,
): Record<string, SampleCounts> {
  const next: Record<string, SampleCounts> = { ...carried };
  for (const [region, counts] of Object.entries(watched)) {
    const before = next[region];
    next[region] = before ? mergeCounts(before, counts) : { ...counts };
  }
  return next;
}
