/**
 * A wave's bake as one wait: the release sleeps on a task token whose timeout is the bake's
 * length, and is woken early only by evidence (a signal turning bad in any region deployed so far)
 * or by a person (promote, abort). These are the rules of that wait; the gate's verdict itself is
 * core/gate.ts `evaluateGate`, used here unchanged. Pure: `now` is passed in.
 */
import type { GateSettings } from './config.ts';
import { evaluateGate, mergeCounts } from './gate.ts';
import type { SampleCounts } from './types.ts';

/** What a watcher (the local HTTP prober, the scheduled prober or an alarm event on AWS) does with what it saw. */
export type BakeWake =
  /** Nothing decisive yet: the release keeps sleeping. */
  | { kind: 'keep-baking' }
  /** A signal went bad: fail the wait now, the final check rolls back. */
  | { kind: 'fail'; signals: string[] };

/** Whether what the watchers have seen so far ends the bake now. */
export function bakeWake(input: {
  regions: readonly string[];
  samples: Readonly<Record<string, SampleCounts>>;
  gate: GateSettings;
  now: number;
  bakeUntil: number;
}): BakeWake {
  const evaluation = evaluateGate(input);
  return evaluation.kind === 'Failed' ? { kind: 'fail', signals: evaluation.signals } : { kind: 'keep-baking' };
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
