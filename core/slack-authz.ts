/**
 * Who may steer a release from Slack. A valid signature only says the request came from Slack;
 * it says nothing about which workspace the click came from (one Slack app can be installed in
 * several) or whether that person is a release manager. This decides both, from the release
 * config's `slack` section:
 *
 *   slack:
 *     teamId: T0123ABCD              the one workspace whose clicks count
 *     allow:                         Slack user ids (U…/W…) per verb; '*' for every verb
 *       promote: [U01ALICE, U02BOB]
 *       abort: [U01ALICE]
 *       pause: ['*']                 '*' as a user: anyone in that workspace
 *       '*': [U09ONCALL]
 *
 * Safe defaults: no `slack` section or no `teamId` refuses every click (telling the admin what to
 * set), and a verb with nobody listed (under it or under '*') is refused to everyone. User ids, not
 * names: a Slack username can be changed by its owner, an id cannot.
 *
 * Pure: no I/O, no clock.
 */

/** The verbs Slack's buttons carry (adapters/slack/buttons.ts BUTTON_VERBS), which `allow` may name. */
export const SLACK_VERBS = ['promote', 'pause', 'resume', 'abort', 'rollback', 'approve'] as const;
export type SlackVerb = (typeof SLACK_VERBS)[number];

/** The `slack` section of the release config. */
export interface SlackSettings {
  /** The workspace (team) id whose clicks count, e.g. T0123ABCD. Absent: every click is refused. */
  teamId?: string;
  /** Per verb (or '*', every verb), the Slack user ids who may use it; '*' as an id: anyone in the workspace. */
  allow: Partial<Record<SlackVerb | '*', string[]>>;
}

/** One click, as the authorization needs it. */
export interface ClickIdentity {
  /** The workspace the click came from (payload `team.id`, or the user's `team_id`); undefined when Slack sent none. */
  team: string | undefined;
  /** The Slack user id of who clicked. */
  user: string;
  verb: string;
}

export type ClickAuthorization =
  | { ok: true }
  | {
      ok: false;
      /** no-team: the config names no workspace; other-team: the click is from another one; not-allowed: the user may not use this verb. */
      reason: 'no-team' | 'other-team' | 'not-allowed';
      /** Why, for the log and for the person who clicked. */
      why: string;
      /** Who may use this verb (user ids, '*' for anyone in the workspace): whom to ask. Empty for no-team/other-team. */
      mayAsk: string[];
    };

/** Anyone in the configured workspace, as a user entry; every verb, as a verb key. */
export const ANYONE = '*';

/** The user ids allowed to use `verb`: those listed under it and under '*', in that order, once each. */
export function allowedFor(verb: string, settings: SlackSettings | undefined): string[] {
  const allow: Partial<Record<string, string[]>> = settings?.allow ?? {};
  return [...new Set([...(allow[verb] ?? []), ...(allow[ANYONE] ?? [])])];
}

/** Whether this click may be acted on. */
export function authorizeClick(click: ClickIdentity, settings: SlackSettings | undefined): ClickAuthorization {
  const teamId = settings?.teamId;
  if (teamId === undefined || teamId === '') {
    return {
      ok: false,
      reason: 'no-team',
      why: 'Slack steering is not configured: an admin must set slack.teamId (and slack.allow) in the release config',
      mayAsk: [],
    };
  }
  if (click.team !== teamId) {
    return {
      ok: false,
      reason: 'other-team',
      why: `this Slack workspace (${click.team ?? 'unknown'}) may not steer releases; only ${teamId} may`,
      mayAsk: [],
    };
  }
  const allowed = allowedFor(click.verb, settings);
  if (allowed.includes(click.user) || allowed.includes(ANYONE)) return { ok: true };
  return {
    ok: false,
    reason: 'not-allowed',
    why:
      allowed.length === 0
        ? `no one may ${click.verb} from Slack: an admin lists user ids under slack.allow.${click.verb} in the release config`
        : `${click.user} is not listed under slack.allow.${click.verb} (or slack.allow.'*')`,
    mayAsk: allowed,
  };
}
