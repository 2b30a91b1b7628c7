/**
 * One concern, hence its length: one Slack click, from a verified request to an audited intent.
 *
 * SlackInteractivity: the buttons of the release's Slack message (adapters/slack/buttons.ts
 * releaseActions), behind API Gateway (HTTP API, payload format 2.0) as the Slack app's
 * Interactivity Request URL. Not a Task of the state machines: a click becomes an intent, exactly
 * as `flotilla promote|pause|resume|abort|rollback` makes one (services/steering.ts), checked against
 * the release as it is now, recorded with who clicked, and the release acts on it at its next
 * safe point.
 *
 *   body over the limit                                        413
 *   signature or timestamp missing, wrong, or > 5 min off      401  (nothing submitted)
 *   no `payload` form field, not JSON, or not a click of ours  400
 *   another kind of interaction, or a button we do not know    200  (ignored)
 *   the same signed request again (a replay)                   200  ephemeral "already handled", nothing done
 *   the ledger cannot say whether it is a replay               503  (nothing submitted)
 *   a click on one of our buttons                              200  (empty body), then the work
 *
 * Replays: the signature allows a request for 5 minutes, so the same bytes sent twice would verify
 * twice. Each verified click request is claimed once in the ledger (a conditional write keyed on
 * a hash of its timestamp and signature, core/slack-verify.ts slackReplayClaim) before anything is
 * done; a second claim fails, in this container or any other, and the request is refused.
 *
 * Authorization: a signature says only that Slack sent it. Each click is checked against the
 * release config's `slack` section (core/slack-authz.ts authorizeClick): the configured workspace,
 * and a user listed for the verb. A refusal is told to the clicker only ("you may not abort …:
 * ask …"), logged as outcome `unauthorized` with the team, user and why, and submits nothing.
 *
 * The work: authorize, then submit the intent (verb = the button's action_id, release from its value, actor
 * `slack:<username>`, reason `via Slack button in #<channel>`), then tell the channel through the
 * click's response_url: "<verb> recorded by <user> …", or why not (the release has moved on, say),
 * only to the user who clicked. The work never throws: whatever fails is said and logged.
 *
 * Slack wants the acknowledgement within 3 seconds. `defer` decides when the work runs: with one,
 * the 200 goes first and the work after; without one (the AWS handler as deployed), the work runs
 * before the 200. That is the trade-off made on Lambda: a container is frozen once its handler has
 * returned, so work left behind would stall until (if ever) the next invocation. The work is a few
 * DynamoDB calls, at most one Step Functions call per hold token (or one StartExecution) and one
 * HTTPS POST: well under a second once the container is warm. A cold start (the SSM read included)
 * can come close to the 3 s; then Slack shows the clicker a timeout warning, but the intent is
 * still recorded and the response_url answer (valid for 30 minutes) still arrives. Acknowledging
 * first for real would take a second hop: this function invoking itself asynchronously (another
 * IAM grant and the Lambda client in the bundle) or a queue, and since Lambda retries async events,
 * an idempotency key per click (each intent is an audit line of its own, so a retried click would
 * otherwise record twice).
 *
 * Secrets: the signing secret is never logged or echoed, and neither is the response_url (whoever
 * holds it can post to the channel for 30 minutes).
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { KnownBlock } from '@slack/types';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { StepFunctionsHoldWaker, StepFunctionsReleaseStarter } from '../adapters/aws/step-functions.ts';
import { type ButtonValue, type ButtonVerb, isButtonVerb, parseButtonValue } from '../adapters/slack/buttons.ts';
import { escapeMrkdwn, truncate } from '../adapters/slack/mrkdwn.ts';
import type { FlotillaConfig, SlackSettings } from '../config/types.ts';
import { type Intent, latest } from '../core/control.ts';
import { namedError, REFUSALS, refused } from '../core/errors.ts';
import { authorizeClick, type ClickAuthorization } from '../core/slack-authz.ts';
import {
  SLACK_SIGNATURE_HEADER,
  SLACK_TIMESTAMP_HEADER,
  slackReplayClaim,
  verifySlackRequest,
} from '../core/slack-verify.ts';
import type { Ledger } from '../ports/ledger.ts';
import { type RollbackDeps, startRollback } from '../services/rollback.ts';
import { type IntentRequest, submitIntent } from '../services/steering.ts';
import { configFromSsm, secretFromSsm } from './runtime/env.ts';
import { emptyResponse, type HttpResponse, jsonResponse, readRequest, tooLargeResponse } from './runtime/http.ts';
import { lambda, requireEnv } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';

export interface SlackInteractivityDeps {
  /** The Slack app's signing secret (Basic Information → App Credentials). */
  signingSecret: () => Promise<string>;
  /** Records the intent (and wakes the release if it waits): submitIntent, or a backend's `intent`. */
  submit: (request: IntentRequest) => Promise<unknown>;
  /**
   * Claims a verified request's one-time key until it expires (Ledger.claimRequest): false means
   * the same request was handled already, and it is refused as a replay.
   */
  claimRequest: (key: string, expiresAt: number) => Promise<boolean>;
  /** The release config's `slack` section: who may click what (core/slack-authz.ts). Undefined: nobody. */
  slackSettings: () => Promise<SlackSettings | undefined>;
  /** Posts a message to a click's response_url. */
  respond: (responseUrl: string, message: object) => Promise<void>;
  /** Milliseconds since the epoch: the clock the request timestamp is checked against. */
  now: () => number;
  /**
   * Runs the work of a click after the 200 has gone back. Absent: the work runs before the
   * response (see the header for why that is the AWS default).
   */
  defer?: (work: () => Promise<void>) => void;
  /** One structured line per request. Default: JSON on stdout (CloudWatch Logs on AWS). */
  log?: (entry: Record<string, unknown>) => void;
  /** Larger bodies are refused (413). Default 1 MiB (a click carries the whole message it came from). */
  maxBodyBytes?: number;
}

export type SlackHttpResponse = HttpResponse;

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** One click on one of our buttons, as the work needs it. */
export interface Click {
  verb: ButtonVerb;
  target: ButtonValue;
  /** `slack:<username>` (or `slack:<user id>`): the audit's actor. */
  actor: string;
  /** How the reply names the user. */
  who: string;
  /** The Slack user id of who clicked ('' when Slack sent none): what authorization checks. */
  userId: string;
  /** The workspace the click came from (team.id, else the user's team_id). */
  team: string | undefined;
  /** `via Slack button in #<channel>`: the audit's reason. */
  reason: string;
  responseUrl: string;
}

export type ParsedInteraction =
  | { kind: 'clicks'; clicks: Click[] }
  | { kind: 'ignored'; why: string }
  | { kind: 'malformed'; why: string };

const reply = jsonResponse;

/** The acknowledgement Slack waits for: 200, empty body (an empty body changes nothing in the message). */
const ACK: SlackHttpResponse = emptyResponse(200);

const logJson = (entry: Record<string, unknown>) => console.log(JSON.stringify(entry));

const nameOf = (error: unknown) => (error instanceof Error ? error.name : 'Error');
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value : undefined;

/** A Slack user or channel name as it may appear in the audit: no spaces or control characters, bounded. */
const tidy = (name: string) => name.replace(/[^\w.@-]/g, '_').slice(0, 80);

/**
 * The clicks a `payload` asks for. Only `block_actions` with a button of ours (action_id one of
 * the verbs, a value naming a release) count; other interactions and unknown buttons are ignored.
 */
export function parseInteraction(payload: unknown): ParsedInteraction {
  if (!isRecord(payload)) return { kind: 'malformed', why: 'the payload is not a JSON object' };
  if (payload.type !== 'block_actions') {
    return { kind: 'ignored', why: `interaction ${String(payload.type ?? '(no type)')} is not a button click` };
  }
  const actions = payload.actions;
  if (!Array.isArray(actions)) return { kind: 'malformed', why: 'block_actions without actions' };
  const ours = actions.filter((a): a is Record<string, unknown> => isRecord(a) && isButtonVerb(a.action_id));
  if (ours.length === 0) return { kind: 'ignored', why: 'no button of ours was clicked' };

  const user = isRecord(payload.user) ? payload.user : {};
  const name = text(user.username) ?? text(user.id);
  if (name === undefined) return { kind: 'malformed', why: 'the payload names no user' };
  const responseUrl = text(payload.response_url);
  if (responseUrl === undefined) return { kind: 'malformed', why: 'the payload has no response_url' };
  const channel = isRecord(payload.channel) ? payload.channel : {};
  const channelName = text(channel.name);
  const team = text(isRecord(payload.team) ? payload.team.id : undefined) ?? text(user.team_id);
  const where = channelName ? `#${tidy(channelName)}` : text(channel.id) ? tidy(text(channel.id) as string) : 'Slack';

  const clicks: Click[] = [];
  for (const action of ours) {
    const target = parseButtonValue(action.value);
    if (target === null)
      return { kind: 'malformed', why: `button ${String(action.action_id)} has no release in its value` };
    clicks.push({
      verb: action.action_id as ButtonVerb,
      target,
      actor: `slack:${tidy(name)}`,
      who: tidy(text(user.username) ?? text(user.name) ?? name),
      userId: text(user.id) ?? '',
      team,
      reason: `via Slack button in ${where}`,
      responseUrl,
    });
  }
  return { kind: 'clicks', clicks };
}

const PAST: Record<ButtonVerb, string> = {
  promote: 'the release goes on past its next bake, approval or hold',
  pause: 'the release holds before its next wave until someone resumes it',
  resume: 'a pause no longer holds the release',
  abort: 'the release stops at its next safe point and puts back every region it touched',
  rollback: 'the rollback is recorded',
  approve: 'the emergency release has its second approval and goes on; it stays marked for review',
};

/**
 * What a click's response_url is sent: Slack's message payload (text, optional Block Kit typed by
 * @slack/types) and where it goes. Types only: nothing of @slack/types is in the bundle.
 */
export interface ResponseMessage {
  replace_original: boolean;
  response_type: 'ephemeral' | 'in_channel';
  text: string;
  blocks?: KnownBlock[];
}

/** A rollback started on AWS says which release does it. */
function startedOf(result: unknown): string | undefined {
  return isRecord(result) && typeof result.started === 'string' ? result.started : undefined;
}

/** What the channel sees after a click went through. */
export function recordedMessage(click: Click, result: unknown): ResponseMessage {
  const started = startedOf(result);
  const what = started ? `rollback release \`${escapeMrkdwn(started)}\` started` : PAST[click.verb];
  return {
    replace_original: false,
    response_type: 'in_channel',
    text: truncate(
      `${click.verb} recorded by ${escapeMrkdwn(click.who)} for \`${escapeMrkdwn(click.target.releaseId)}\`: ${what}.`,
      3000,
    ),
  };
}

/** Errors whose message is ours and meant for the person who acted. */
const TOLD_AS_IS: ReadonlySet<string> = new Set([...Object.keys(REFUSALS), 'WakeFailed', 'RollbackNotStarted']);

/** Failures after the intent was recorded: saying "not recorded" would be false. */
const RECORDED_THEN_FAILED: ReadonlySet<string> = new Set(['WakeFailed', 'RollbackNotStarted']);

/** What only the clicker sees when the click could not be acted on. */
export function refusedMessage(click: Click, error: unknown): ResponseMessage {
  const why = TOLD_AS_IS.has(nameOf(error))
    ? messageOf(error)
    : `flotilla could not record it (${nameOf(error)}); the function's log says more`;
  const what = RECORDED_THEN_FAILED.has(nameOf(error)) ? '' : ' was not recorded';
  return {
    replace_original: false,
    response_type: 'ephemeral',
    text: truncate(
      `:warning: ${click.verb} of \`${escapeMrkdwn(click.target.releaseId)}\`${what}: ${escapeMrkdwn(why)}`,
      3000,
    ),
  };
}

/** What only the clicker sees when they may not do what they clicked. */
export function unauthorizedMessage(
  click: Click,
  refusal: Extract<ClickAuthorization, { ok: false }>,
): ResponseMessage {
  const ask =
    refusal.mayAsk.length > 0
      ? `ask ${refusal.mayAsk.map((id) => `<@${id}>`).join(' or ')}`
      : escapeMrkdwn(refusal.why);
  return {
    replace_original: false,
    response_type: 'ephemeral',
    text: truncate(
      `:no_entry: you may not ${click.verb} \`${escapeMrkdwn(click.target.releaseId)}\`: ${ask}. Nothing was recorded.`,
      3000,
    ),
  };
}

/** The answer to a replayed request: only the sender sees it, and nothing is done. */
export const REPLAY_RESPONSE: SlackHttpResponse = jsonResponse(200, {
  replace_original: false,
  response_type: 'ephemeral',
  text: 'this request was already handled',
});

export const createSlackInteractivity = (deps: SlackInteractivityDeps) => {
  const limit = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = deps.log ?? logJson;

  const say = async (click: Click, message: object) => {
    try {
      await deps.respond(click.responseUrl, message);
    } catch (error) {
      // The message, not the URL: a fetch error may quote it.
      log({
        outcome: 'respond-failed',
        verb: click.verb,
        releaseId: click.target.releaseId,
        error: nameOf(error),
        message: messageOf(error).split(click.responseUrl).join('[response_url]'),
      });
    }
  };

  const act = async (click: Click): Promise<void> => {
    const about = {
      verb: click.verb,
      service: click.target.service,
      releaseId: click.target.releaseId,
      actor: click.actor,
    };
    let authorization: ClickAuthorization;
    try {
      authorization = authorizeClick(
        { team: click.team, user: click.userId, verb: click.verb },
        await deps.slackSettings(),
      );
    } catch (error) {
      // The settings could not be read (no or a bad config): nothing is allowed.
      log({ ...about, outcome: 'refused', error: nameOf(error), message: messageOf(error) });
      await say(click, refusedMessage(click, error));
      return;
    }
    if (!authorization.ok) {
      log({
        ...about,
        outcome: 'unauthorized',
        reason: authorization.reason,
        team: click.team ?? null,
        user: click.userId,
        why: authorization.why,
      });
      await say(click, unauthorizedMessage(click, authorization));
      return;
    }
    let result: unknown;
    try {
      result = await deps.submit({
        service: click.target.service,
        verb: click.verb,
        releaseId: click.target.releaseId,
        actor: click.actor,
        reason: click.reason,
      });
    } catch (error) {
      log({ ...about, outcome: 'refused', error: nameOf(error), message: messageOf(error) });
      await say(click, refusedMessage(click, error));
      return;
    }
    log({ ...about, outcome: 'recorded', ...(startedOf(result) ? { started: startedOf(result) } : {}) });
    await say(click, recordedMessage(click, result));
  };

  return async (event: APIGatewayProxyEventV2): Promise<SlackHttpResponse> => {
    const { header, body: raw } = readRequest(event, limit);
    if (!raw) {
      log({ outcome: 'too-large', limit });
      return tooLargeResponse(limit);
    }

    let signingSecret: string;
    try {
      signingSecret = await deps.signingSecret();
    } catch (error) {
      log({ outcome: 'no-secret', error: nameOf(error) });
      return reply(500, { error: 'the signing secret is unavailable' });
    }
    const verified = verifySlackRequest({
      signingSecret,
      timestamp: header(SLACK_TIMESTAMP_HEADER),
      signature: header(SLACK_SIGNATURE_HEADER),
      rawBody: raw,
      now: deps.now(),
    });
    if (!verified.ok) {
      log({ outcome: 'bad-signature', why: verified.why });
      return reply(401, { error: 'not signed by Slack' });
    }

    let payload: unknown;
    try {
      const field = new URLSearchParams(raw.toString('utf8')).get('payload');
      if (field === null) throw new SyntaxError('no payload field');
      payload = JSON.parse(field);
    } catch {
      log({ outcome: 'malformed', why: 'no payload form field holding JSON' });
      return reply(400, { error: 'expected a form with a payload field holding JSON' });
    }
    const parsed = parseInteraction(payload);
    if (parsed.kind === 'malformed') {
      log({ outcome: 'malformed', why: parsed.why });
      return reply(400, { error: parsed.why });
    }
    if (parsed.kind === 'ignored') {
      log({ outcome: 'ignored', why: parsed.why });
      return ACK;
    }
    // Verified, so both headers are there.
    const claim = slackReplayClaim(header(SLACK_TIMESTAMP_HEADER) ?? '', header(SLACK_SIGNATURE_HEADER) ?? '');
    let first: boolean;
    try {
      first = await deps.claimRequest(claim.key, claim.expiresAt);
    } catch (error) {
      log({ outcome: 'claim-failed', error: nameOf(error), message: messageOf(error) });
      return reply(503, { error: 'could not check the request against replays; nothing was done' });
    }
    if (!first) {
      log({ outcome: 'replay', clicks: parsed.clicks.map((c) => ({ verb: c.verb, releaseId: c.target.releaseId })) });
      return REPLAY_RESPONSE;
    }
    const work = async () => {
      for (const click of parsed.clicks) await act(click);
    };
    if (deps.defer) deps.defer(work);
    else await work();
    return ACK;
  };
};

// ---------------------------------------------------------------------------------------------
// AWS

export interface AwsSteeringDeps {
  ledger: Ledger;
  sfn: Pick<SFNClient, 'send'>;
  /** The release state machine (FLOTILLA_RELEASE_STATE_MACHINE_ARN). */
  stateMachineArn: string;
  /** The release config (the SSM parameter FLOTILLA_CONFIG_PARAM names): only the rollback verb needs it. */
  config: () => Promise<FlotillaConfig>;
  now: () => number;
}

/**
 * `submit` on AWS: the same services as every other entry point (services/steering.ts,
 * services/rollback.ts), with the DynamoDB ledger and Step Functions to wake holds and start
 * rollback releases. Nothing is recorded when the config is missing or names another service.
 */
export function submitOnAws(
  deps: AwsSteeringDeps,
): (request: IntentRequest) => Promise<{ intent: Intent; started?: string }> {
  return async (request) => {
    if (!request.releaseId) throw refused(REFUSALS.InvalidInput, `${request.verb} from Slack names no release`);
    if (request.verb === 'rollback') {
      const config = await deps.config();
      if (config.service !== request.service) {
        throw refused(REFUSALS.InvalidInput, `this stack releases ${config.service}, not ${request.service}`);
      }
      const started = await startRollback(
        {
          ledger: deps.ledger,
          now: deps.now,
          starter: new StepFunctionsReleaseStarter(deps.sfn, deps.stateMachineArn),
          config: config as unknown as RollbackDeps['config'],
          owner: 'slack',
        },
        { releaseId: request.releaseId, actor: request.actor, reason: request.reason },
      );
      const intents = await deps.ledger.listIntents(request.service, request.releaseId);
      const intent = latest(intents, 'rollback');
      if (!intent) throw namedError('RollbackNotStarted', `the rollback of ${request.releaseId} was not recorded`);
      return { intent, started: started.releaseId };
    }
    const intent = await submitIntent(
      { ledger: deps.ledger, now: deps.now, waker: new StepFunctionsHoldWaker(deps.sfn) },
      request,
    );
    return { intent };
  };
}

/** Slack's response_url hosts (commercial and GovSlack); anything else is refused. */
export const isSlackResponseUrl = (url: URL): boolean =>
  url.protocol === 'https:' && (url.hostname === 'hooks.slack.com' || url.hostname === 'hooks.slack-gov.com');

/**
 * `respond`: POSTs the message as JSON to the click's response_url, within `timeoutMs`. Only to a
 * URL `allow` accepts (Slack's hosts by default: the payload is signed, but a function that POSTs
 * wherever a request says would be a gift if the secret ever leaked). Throws on a refusal or a
 * non-2xx answer (the handler logs it, without the URL).
 */
export function respondOverHttp(
  options: { timeoutMs?: number; allow?: (url: URL) => boolean } = {},
): (responseUrl: string, message: object) => Promise<void> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const allow = options.allow ?? isSlackResponseUrl;
  return async (responseUrl, message) => {
    const url = new URL(responseUrl);
    if (!allow(url)) throw namedError('ResponseUrlRefused', `response_url on ${url.host} is not Slack's`);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    await response.text();
    if (!response.ok) throw namedError('RespondFailed', `response_url answered HTTP ${response.status}`);
  };
}

/** What a test (or another wiring) puts in place of the defaults. */
export interface SlackInteractivityOverrides {
  ssm?: SSMClient;
  sfn?: Pick<SFNClient, 'send'>;
  ledger?: Ledger;
  respond?: (responseUrl: string, message: object) => Promise<void>;
  now?: () => number;
  log?: (entry: Record<string, unknown>) => void;
}

/**
 * The handler wired to AWS from the environment serverless.yml sets: FLOTILLA_SLACK_SIGNING_SECRET_PARAM
 * (an SSM SecureString, read once per container), FLOTILLA_TABLE (the ledger),
 * FLOTILLA_RELEASE_STATE_MACHINE_ARN, and FLOTILLA_CONFIG_PARAM, the SSM parameter with the release
 * config (its `slack` section says who may click what, and a rollback needs the rest; without it
 * every click is refused).
 */
export function slackInteractivityFromEnv(overrides: SlackInteractivityOverrides = {}) {
  const secretParam = requireEnv('FLOTILLA_SLACK_SIGNING_SECRET_PARAM');
  const stateMachineArn = requireEnv('FLOTILLA_RELEASE_STATE_MACHINE_ARN');
  const now = overrides.now ?? Date.now;
  const ssm = overrides.ssm ?? new SSMClient({});
  // A missing or bad config is read again on the next click, not kept for the container's life.
  const loadConfig = configFromSsm(ssm, now);
  const ledger = overrides.ledger ?? ledgerFromEnv();
  return createSlackInteractivity({
    signingSecret: secretFromSsm(ssm, secretParam),
    claimRequest: (key, expiresAt) => ledger.claimRequest(key, expiresAt),
    slackSettings: async () => (await loadConfig()).slack,
    submit: submitOnAws({
      ledger,
      sfn: overrides.sfn ?? new SFNClient({}),
      stateMachineArn,
      config: loadConfig,
      now,
    }),
    respond: overrides.respond ?? respondOverHttp(),
    now,
    ...(overrides.log ? { log: overrides.log } : {}),
  });
}

/** The Lambda entry point on AWS (API Gateway HTTP API, `POST /slack/interactivity`). */
export const handler = lambda(() => slackInteractivityFromEnv());
