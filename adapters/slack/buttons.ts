/**
 * The buttons of the release's message: the verbs a release manager can use from Slack. Each
 * button's `action_id` is its verb and its `value` the release it acts on, as JSON;
 * functions/slack-interactivity.ts parses a click back with `isButtonVerb` and `parseButtonValue`.
 */
import type { ActionsBlock, Button, ConfirmationDialog, PlainTextElement } from '@slack/types';
import { truncate } from './mrkdwn.ts';
import type { ReleaseView } from './view.ts';

/** The verbs the message's buttons carry: each button's `action_id` is its verb. */
export const BUTTON_VERBS = ['promote', 'pause', 'resume', 'abort', 'rollback', 'approve'] as const;
export type ButtonVerb = (typeof BUTTON_VERBS)[number];

/** A button's `value`, as JSON: the release it acts on. Kept small (Slack allows 2,000 characters). */
export interface ButtonValue {
  service: string;
  releaseId: string;
}

/** Block Kit: a button's `value` is at most 2,000 characters. */
const MAX_BUTTON_VALUE_CHARS = 2000;

export const isButtonVerb = (verb: unknown): verb is ButtonVerb =>
  typeof verb === 'string' && (BUTTON_VERBS as readonly string[]).includes(verb);

/** A button's `value` back as data, or null when it is not one of ours. */
export function parseButtonValue(value: unknown): ButtonValue | null {
  if (typeof value !== 'string' || value.length > MAX_BUTTON_VALUE_CHARS) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const { service, releaseId } = parsed as Record<string, unknown>;
  if (typeof service !== 'string' || service === '' || typeof releaseId !== 'string' || releaseId === '') return null;
  return { service, releaseId };
}

/**
 * The verbs that apply to the release as the view shows it, in the order they are shown.
 *
 * - RUNNING (not rolling back): promote (passes a bake, an approval or an Inconclusive hold),
 *   pause and/or resume, abort. Resume alone when the view knows the release is held by a pause,
 *   pause alone when it is held for other reasons only, both when it cannot tell (a pause may be
 *   pending, or the events say nothing about holds).
 * - An emergency release waiting for its second, distinct approver: approve first (core/steering.ts
 *   refuses the one who asked for it, and a second approval).
 * - SUCCEEDED: rollback; ROLLBACK_FAILED: rollback, the retry of the regions not back yet (the
 *   same service as `flotilla rollback`, which refuses, saying why, when nothing is left).
 * - Anything else (ended otherwise, or rolling back already): none.
 */
export function applicableVerbs(view: ReleaseView): ButtonVerb[] {
  if (view.status === 'SUCCEEDED' || view.status === 'ROLLBACK_FAILED') return ['rollback'];
  if (view.status !== 'RUNNING' || view.rollingBack) return [];
  const paused = view.held?.paused;
  return [
    ...(view.emergency?.awaitingApprover === true ? (['approve'] as const) : []),
    'promote',
    ...(paused !== true ? (['pause'] as const) : []),
    ...(paused !== false ? (['resume'] as const) : []),
    'abort',
  ];
}

const plainText = (text: string, max: number): PlainTextElement => ({
  type: 'plain_text',
  text: truncate(text, max),
  emoji: true,
});

/** Block Kit confirmation dialog: title ≤ 100 characters, text ≤ 300, each button ≤ 30. */
function confirmDialog(title: string, text: string, confirm: string): ConfirmationDialog {
  return {
    title: plainText(title, 100),
    text: plainText(text, 300),
    confirm: plainText(confirm, 30),
    deny: plainText('Cancel', 30),
    style: 'danger',
  };
}

function button(verb: ButtonVerb, view: ReleaseView, value: string): Button {
  const what = `${view.service} ${view.version ?? view.releaseId}`;
  const base = (label: string) => ({ type: 'button', action_id: verb, text: plainText(label, 75), value }) as const;
  switch (verb) {
    case 'promote':
      return { ...base('Promote'), style: 'primary' };
    case 'approve':
      return {
        ...base('Approve emergency'),
        style: 'primary',
        confirm: confirmDialog(
          `Approve emergency release ${what}?`,
          `You are the second, distinct approver: ${view.releaseId} then deploys with short bakes, past freezes and closed windows. Asked for by ${view.emergency?.requester ?? 'someone else'}: ${view.emergency?.reason ?? ''}`,
          'Approve',
        ),
      };
    case 'pause':
      return base('Pause');
    case 'resume':
      return base('Resume');
    case 'abort':
      return {
        ...base('Abort'),
        style: 'danger',
        confirm: confirmDialog(
          `Abort ${what}?`,
          `Every region ${view.releaseId} has touched goes back to its last-known-good, and the release ends ABORTED.`,
          'Abort',
        ),
      };
    case 'rollback':
      return {
        ...base('Roll back'),
        style: 'danger',
        confirm: confirmDialog(
          `Roll back ${what}?`,
          view.status === 'ROLLBACK_FAILED'
            ? `Starts a rollback release that retries the regions ${view.releaseId}'s rollback could not put back, each to what it ran before.`
            : `Starts a rollback release that puts every region ${view.releaseId} changed back on what it ran before.`,
          'Roll back',
        ),
      };
  }
}

/**
 * The `actions` block with the buttons that apply now (`applicableVerbs`), abort and roll back
 * behind a confirmation dialog; undefined when none applies.
 *
 * The buttons only ask: whoever handles the click checks the intent against the release as it is
 * then (a message may be minutes old), and records who clicked.
 */
export function releaseActions(view: ReleaseView): ActionsBlock | undefined {
  const value = JSON.stringify({ service: view.service, releaseId: view.releaseId } satisfies ButtonValue);
  if (value.length > MAX_BUTTON_VALUE_CHARS) return undefined;
  const elements = applicableVerbs(view).map((verb) => button(verb, view, value));
  return elements.length > 0 ? { type: 'actions', elements } : undefined;
}
