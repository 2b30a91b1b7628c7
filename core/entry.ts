/**
 * Wave entry: whether a wave may start now, and if not why. Pure: the caller passes the intents,
 * the freeze, each region's window state and, after probing, each region's health; `now` is in
 * the windows' state the caller computed with core/windows.ts.
 */

import type { GateSettings } from './config.ts';
import { byWhom, type ControlState, type Intent, latest } from './control.ts';
import { describeCounts } from './gate.ts';
import type { HoldReason } from './model.ts';
import type { SampleCounts } from './types.ts';

export interface EntryContext {
  wave: number;
  control: ControlState;
  intents: readonly Intent[];
  frozen: Intent | null;
  approvalNeeded: boolean;
  /** Regions of the wave whose window is closed now, with seconds until each opens (null: never). */
  closed: { region: string; window: string; opensInSeconds: number | null }[];
  /** How long a hold for a human waits before looking again (it also wakes when someone acts). */
  recheckSeconds: number;
  /** An emergency release: who asked for it (its first approval); the approvers are in `control`. */
  emergency?: { requester: string };
}

export type EntryDecision =
  | { kind: 'Go'; usesPromotion: boolean; usesForce: boolean }
  | { kind: 'Hold'; reasons: HoldReason[]; holdSeconds: number; approvalOnly: boolean }
  | { kind: 'Abort'; actor: string; reason: string };

/**
 * Whether a wave may start. Abort wins; a pause holds until resume; a freeze or a closed window
 * holds unless a force was given for this wave's hold (audited, once); an approval needs a
 * promote. A force never carries over to a later wave: it was given for the hold in front of it.
 * An emergency release holds until a second person (not the one who asked) approves it; once
 * approved, freezes and closed windows no longer hold it (both approvals are in the audit).
 */
export function entryDecision(ctx: EntryContext): EntryDecision {
  if (ctx.control.abort) {
    const abort = latest(ctx.intents, 'abort');
    return { kind: 'Abort', actor: abort?.actor ?? 'unknown', reason: abort?.reason ?? '' };
  }
  const reasons: HoldReason[] = [];
  let holdSeconds = ctx.recheckSeconds;
  if (ctx.control.paused) {
    const pause = latest(ctx.intents, 'pause');
    reasons.push({ kind: 'paused', text: `paused${byWhom(pause)}`, ...(pause ? { actor: pause.actor } : {}) });
  }
  // The break-glass lane: two people (who asked, and a second, distinct approver) before the first
  // wave; with both approvals it passes freezes and closed windows, without them nothing.
  const emergencyApproved =
    ctx.emergency !== undefined && ctx.control.approvers.some((a) => a !== ctx.emergency?.requester);
  const overridable = ctx.frozen !== null || ctx.closed.length > 0;
  const forced = overridable && ctx.control.forcedWaves.includes(ctx.wave);
  if (!forced && !emergencyApproved) {
    if (ctx.frozen) reasons.push({ kind: 'frozen', text: `frozen${byWhom(ctx.frozen)}`, actor: ctx.frozen.actor });
    for (const c of ctx.closed) {
      reasons.push({ kind: 'window', text: `${c.region} is outside its window (${c.window})` });
      if (c.opensInSeconds !== null) holdSeconds = Math.min(holdSeconds, Math.max(1, c.opensInSeconds));
    }
  }
  const awaitingApproval = ctx.approvalNeeded && ctx.control.promotions === 0;
  if (awaitingApproval) reasons.push({ kind: 'approval', text: 'waiting for approval (promote)' });
  if (ctx.emergency && !emergencyApproved) {
    reasons.push({
      kind: 'approval',
      text: `emergency release asked for by ${ctx.emergency.requester}: waiting for a second, distinct approver (flotilla approve)`,
      actor: ctx.emergency.requester,
    });
  }
  if (reasons.length > 0) {
    return { kind: 'Hold', reasons, holdSeconds, approvalOnly: awaitingApproval && reasons.length === 1 };
  }
  return { kind: 'Go', usesPromotion: ctx.approvalNeeded, usesForce: forced };
}

/**
 * Before a wave deploys, each of its regions that already runs a version must be healthy:
 * deploying onto an existing fire would blame the new build for it, or hide it.
 * Regions with nothing deployed yet have nothing to check.
 */
export function healthAtEntry(
  regions: readonly { region: string; currentVersion: string | null; counts: SampleCounts }[],
  gate: GateSettings,
): { kind: 'Clear' } | { kind: 'Blocked'; signals: string[] } {
  const signals: string[] = [];
  for (const { region, currentVersion, counts } of regions) {
    if (currentVersion === null) continue;
    const answered = counts.ok + counts.errors;
    if (answered === 0) {
      signals.push(
        `${region}: no health data before the wave (${counts.missing} probes unanswered${counts.lastProblem ? `; last: ${counts.lastProblem}` : ''})`,
      );
    } else if (counts.errors / answered > gate.maxErrorRate) {
      signals.push(
        `${region} was already unhealthy on ${currentVersion} before the wave: ${describeCounts(region, counts, gate)}`,
      );
    }
  }
  return signals.length > 0 ? { kind: 'Blocked', signals } : { kind: 'Clear' };
}
