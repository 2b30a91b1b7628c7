/**
 * Release managers steer a release by writing intents; the state machine reads them at safe points
 * (before a wave, during a bake, at a hold) and acts. The CLI and Slack never touch a running
 * deploy: an intent is data, applied by the release itself (the Argo Rollouts way). This file
 * folds intents into state; the rules of each verb are core/steering.ts, what a wave does with
 * that state core/entry.ts, and what a bake does with it core/rollback.ts.
 */

import type { Verb } from './verbs.ts';

export type { Verb };

/** One action of a release manager, as recorded: who, when, why. */
export interface Intent {
  service: string;
  /** The release it is about; freeze/unfreeze are global and carry none. */
  releaseId: string | null;
  /** A steering verb, or `unlock`: an operator freeing a dead release's lock (audited like the verbs). */
  verb: Verb | 'unlock';
  actor: string;
  reason: string;
  at: string;
  /** skip-region: the region. */
  region?: string;
  /** force: the wave whose hold it was given for; it passes that hold only, once. */
  wave?: number;
  /** rollback: the regions it set out to put back (core/rollback.ts `planRollbackOf`). */
  regions?: string[];
  /** Unique per intent (time-ordered), so two equal clicks are two audit lines. */
  id: string;
}

/** How many promote intents the release has acted on (each acts once). */
export interface Used {
  promotions: number;
  forces: number;
}

/** What the recorded intents add up to for one release, at a moment. */
export interface ControlState {
  paused: boolean;
  abort: boolean;
  /** Promotions not yet used up by the release (each passes one bake, approval or hold). */
  promotions: number;
  skipped: string[];
  /** Waves a force was given for (while each was held by a freeze or a closed window). */
  forcedWaves: number[];
  /** Who approved (an emergency release), each once. */
  approvers: string[];
}

/** Folds a release's intents, oldest first, into its control state. Pure. */
export function controlState(intents: readonly Intent[], used: Pick<Used, 'promotions'>): ControlState {
  let paused = false;
  let abort = false;
  let promotions = 0;
  const skipped = new Set<string>();
  const forced = new Set<number>();
  const approvers = new Set<string>();
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
        if (intent.wave !== undefined) forced.add(intent.wave);
        break;
      case 'approve':
        approvers.add(intent.actor);
        break;
      case 'rollback':
      case 'freeze':
      case 'unfreeze':
      case 'unlock':
        break;
    }
  }
  return {
    paused,
    abort,
    promotions: Math.max(0, promotions - used.promotions),
    skipped: [...skipped].sort(),
    forcedWaves: [...forced].sort((a, b) => a - b),
    approvers: [...approvers].sort(),
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

/** "by ops@host: reason", for saying who caused something. */
export const byWhom = (intent: Intent | undefined | null): string =>
  intent ? ` by ${intent.actor}: ${intent.reason}` : '';
