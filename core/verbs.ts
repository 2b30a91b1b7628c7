/**
 * The steering verbs, listed once. The CLI's commands, the control API's routes, the Slack
 * buttons and the AWS CLI all take their list (and what each one needs) from here.
 */

export const VERBS = [
  'pause',
  'resume',
  'promote',
  'abort',
  'rollback',
  'skip-region',
  'freeze',
  'unfreeze',
  'force',
  'approve',
] as const;

export type Verb = (typeof VERBS)[number];

/** What a verb applies to: one release, or every release of the service (freeze, unfreeze). */
export type VerbScope = 'release' | 'service';

export interface VerbInfo {
  scope: VerbScope;
  /** skip-region names a region. */
  needsRegion: boolean;
  /** One line for help texts. */
  summary: string;
}

export const VERB_INFO: Readonly<Record<Verb, VerbInfo>> = {
  pause: {
    scope: 'release',
    needsRegion: false,
    summary: 'no new wave starts until resume (a wave in flight finishes)',
  },
  resume: { scope: 'release', needsRegion: false, summary: 'let a paused release go on' },
  promote: {
    scope: 'release',
    needsRegion: false,
    summary: 'end the current bake now, approve a wave waiting for approval, or pass an Inconclusive gate',
  },
  abort: { scope: 'release', needsRegion: false, summary: 'roll back every region touched so far (ABORTED)' },
  rollback: {
    scope: 'release',
    needsRegion: false,
    summary: 'put back what a finished release changed (after ROLLBACK_FAILED: retry what is not back)',
  },
  'skip-region': { scope: 'release', needsRegion: true, summary: 'leave a region out; it keeps its version' },
  freeze: { scope: 'service', needsRegion: false, summary: 'no release of the service starts a new wave' },
  unfreeze: { scope: 'service', needsRegion: false, summary: 'end a freeze' },
  force: {
    scope: 'release',
    needsRegion: false,
    summary: 'take the wave held now past a freeze or a closed window, once',
  },
  approve: {
    scope: 'release',
    needsRegion: false,
    summary: 'be the second, distinct approver an emergency release waits for',
  },
};

export function isVerb(value: string): value is Verb {
  return (VERBS as readonly string[]).includes(value);
}
