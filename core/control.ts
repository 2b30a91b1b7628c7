/**
 * Release managers steer a release by writing intents; the state machine reads them at safe points
 * (before a wave, during a bake, at a hold) and acts. The CLI and Slack never touch a running
 * deploy: an intent is data, applied by the release itself (the Argo Rollouts way).
 */

export type Verb =
  | 'pause'
  | 'resume'
  | 'promote'
  | 'abort'
  | 'rollback'
  | 'skip-region'
  | 'freeze'
  | 'unfreeze'
  | 'force';

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
