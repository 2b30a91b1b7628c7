/**
 * Release managers steer a release by writing intents; the state machine reads them at safe points
 * (before a wave, during a bake, at a hold) and acts. The CLI and Slack never touch a running
 * deploy: an intent is data, applied by the release itself (the Argo Rollouts way).
 */

import type { Verb } from './verbs.ts';

export type { Verb };

/** One action of a release manager, as recorded: who, when, why. */
export interface Intent {
  service: string;
  /** The release it is about; freeze/unfreeze are global and carry none. */
  releaseId: string | null;
  verb: Verb;
  actor: string;
  reason: string;
  at: string;
  /** skip-region: the region. */
  region?: string;
  /** Unique per intent (time-ordered), so two equal clicks are two audit lines. */
  id: string;
}

/** What the recorded intents add up to for one release, at a moment. */
export interface ControlState {
  paused: boolean;
  abort: boolean;
  /** Promotions not yet used up by the release (each passes one bake, approval or hold). */
  promotions: number;
  skipped: string[];
  /** A forced pass through closed windows or a freeze, for the next wave only. */
  forced: boolean;
}

/** Folds a release's intents, oldest first, into its control state. Pure. */
export function controlState(intents: readonly Intent[], used: { promotions: number; forces: number }): ControlState {
  let paused = false;
  let abort = false;
  let promotions = 0;
  let forces = 0;
  const skipped = new Set<string>();
  for (const intent of intents) {
    switch (intent.verb) {
      case 'pause':
        paused = true;
        break;
      case 'resume':
        paused = false;
        break;
      case 'promote':
        promotions += 1;
        break;
      case 'abort':
        abort = true;
        break;
      case 'skip-region':
        if (intent.region) skipped.add(intent.region);
        break;
      case 'force':
        forces += 1;
        break;
      case 'rollback':
      case 'freeze':
      case 'unfreeze':
        break;
    }
  }
  return {
    paused,
    abort,
    promotions: Math.max(0, promotions - used.promotions),
    skipped: [...skipped].sort(),
    forced: forces > used.forces,
  };
}

/** Whether releases are frozen: the latest global freeze/unfreeze decides. */
export function freezeOf(globalIntents: readonly Intent[]): Intent | null {
  let frozen: Intent | null = null;
  for (const intent of globalIntents) {
    if (intent.verb === 'freeze') frozen = intent;
    if (intent.verb === 'unfreeze') frozen = null;
  }
  return frozen;
}

/** The latest intent of a verb, for saying who did it and why. */
export function latest(intents: readonly Intent[], verb: Verb): Intent | undefined {
  return [...intents].reverse().find((i) => i.verb === verb);
}

export interface EntryContext {
  control: ControlState;
  intents: readonly Intent[];
  frozen: Intent | null;
  approvalNeeded: boolean;
  /** Regions of the wave whose window is closed now, with seconds until each opens (null: never). */
  closed: { region: string; window: string; opensInSeconds: number | null }[];
  /** How long a hold for a human waits before looking again (it also wakes when someone acts). */
  recheckSeconds: number;
}

export type EntryDecision =
  | { kind: 'Go'; usesPromotion: boolean; usesForce: boolean }
  | { kind: 'Hold'; reasons: string[]; holdSeconds: number; approvalOnly: boolean }
  | { kind: 'Abort'; actor: string; reason: string };

/**
 * Whether a wave may start, and if not why. Abort wins; a pause holds until resume; a freeze or a
 * closed window holds unless a force was given (audited); an approval needs a promote.
 */
export function entryDecision(ctx: EntryContext): EntryDecision {
  const who = (intent: Intent | undefined) => (intent ? ` by ${intent.actor}: ${intent.reason}` : '');
  if (ctx.control.abort) {
    const abort = latest(ctx.intents, 'abort');
    return { kind: 'Abort', actor: abort?.actor ?? 'unknown', reason: abort?.reason ?? '' };
  }
  const reasons: string[] = [];
  let holdSeconds = ctx.recheckSeconds;
  if (ctx.control.paused) reasons.push(`paused${who(latest(ctx.intents, 'pause'))}`);
  const overridable = ctx.frozen !== null || ctx.closed.length > 0;
  const forced = ctx.control.forced && overridable;
  if (!forced) {
    if (ctx.frozen) reasons.push(`frozen${who(ctx.frozen)}`);
    for (const c of ctx.closed) {
      reasons.push(`${c.region} is outside its window (${c.window})`);
      if (c.opensInSeconds !== null) holdSeconds = Math.min(holdSeconds, Math.max(1, c.opensInSeconds));
    }
  }
  const awaitingApproval = ctx.approvalNeeded && ctx.control.promotions === 0;
  if (awaitingApproval) reasons.push('waiting for approval (promote)');
  if (reasons.length > 0) {
    return { kind: 'Hold', reasons, holdSeconds, approvalOnly: awaitingApproval && reasons.length === 1 };
  }
  return { kind: 'Go', usesPromotion: ctx.approvalNeeded, usesForce: forced };
}
