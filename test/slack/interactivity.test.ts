/**
 * The Slack buttons: signed requests only (core/slack-verify.ts), the buttons a message carries
 * (releaseActions), and functions/slack-interactivity.ts turning a click into an audited intent.
 * End to end on the local backend (the real ASL, real regions, dynalite) with a local HTTP server
 * standing in for Slack's response_url; the AWS wiring with SSM and Step Functions mocked at the
 * SDK boundary and the real DynamoDB ledger on dynalite. No network: everything is on 127.0.0.1.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { renderReleaseMessage, renderThreadReply } from '../../adapters/slack/blocks.ts';
import { releaseActions } from '../../adapters/slack/buttons.ts';
import { SlackNotifier } from '../../adapters/slack/notifier.ts';
import { foldEvent, type ReleaseView } from '../../adapters/slack/view.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { openLocalBackend } from '../../backends/local/index.ts';
import type { FlotillaConfig, SlackSettings } from '../../config/types.ts';
import { notableKey } from '../../core/notable.ts';
import {
  MAX_CLOCK_SKEW_SECONDS,
  slackReplayClaim,
  slackSignatureOf,
  verifySlackRequest,
} from '../../core/slack-verify.ts';
import {
  createSlackInteractivity,
  respondOverHttp,
  type SlackInteractivityDeps,
  slackInteractivityFromEnv,
} from '../../functions/slack-interactivity.ts';
import type { Stamped } from '../../ports/events.ts';
import type { IntentRequest } from '../../services/steering.ts';
import { configWith, recordWith } from '../helpers/fixtures.ts';
import { e2eConfig, GOOD_BUILD, tempDir } from '../helpers/local.ts';
import { rolledBackRelease, stamper } from './events.ts';
import { captureWriter, type FakeSlack, startFakeSlack } from './fake-slack.ts';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const seconds = (ms: number) => String(Math.floor(ms / 1000));
const RESPONSE_URL = 'https://hooks.slack.com/actions/T0001/1234567890/abcdefABCDEF0123';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface ClickOptions {
  verb?: string;
  service?: string;
  releaseId?: string;
  username?: string | undefined;
  userId?: string;
  channel?: string;
  responseUrl?: string;
  value?: string;
  /** The workspace the click comes from (T0001 unless said). */
  team?: string;
}

/** Every click Slack sends is a request of its own (its own trigger_id and action_ts), as here. */
let clicks = 0;

/** A block_actions payload as Slack sends it for a button click on a message (the fields we read, and a few more). */
function clickPayload(o: ClickOptions = {}): Record<string, unknown> {
  const service = o.service ?? 'shop';
  const releaseId = o.releaseId ?? 'shop-2.0.0';
  const team = o.team ?? 'T0001';
  clicks += 1;
  return {
    type: 'block_actions',
    user: { id: o.userId ?? 'U0ALICE', username: o.username ?? 'alice', name: o.username ?? 'alice', team_id: team },
    api_app_id: 'A0FLOTILLA',
    team: { id: team, domain: 'example' },
    container: { type: 'message', message_ts: '1700000000.000001', channel_id: 'C0RELEASES', is_ephemeral: false },
    trigger_id: `123.456.${clicks}`,
    channel: { id: 'C0RELEASES', name: o.channel ?? 'releases' },
    response_url: o.responseUrl ?? RESPONSE_URL,
    actions: [
      {
        type: 'button',
        action_id: o.verb ?? 'promote',
        block_id: 'b1',
        text: { type: 'plain_text', text: 'Promote', emoji: true },
        value: o.value ?? JSON.stringify({ service, releaseId }),
        action_ts: `1700000000.${String(clicks).padStart(6, '0')}`,
      },
    ],
  };
}

const formOf = (payload: unknown) => `payload=${encodeURIComponent(JSON.stringify(payload))}`;

/** The API Gateway (HTTP API) event of a POST Slack signed, as Slack signs it. */
function signedEvent(
  body: string,
  o: { secret?: string; timestamp?: string; signature?: string | null; omitTimestamp?: boolean; base64?: boolean } = {},
): APIGatewayProxyEventV2 {
  const timestamp = o.timestamp ?? seconds(NOW);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (!o.omitTimestamp) headers['x-slack-request-timestamp'] = timestamp;
  const signature = o.signature === undefined ? slackSignatureOf(o.secret ?? SECRET, timestamp, body) : o.signature;
  if (signature !== null) headers['x-slack-signature'] = signature;
  return {
    version: '2.0',
    routeKey: 'POST /slack/interactivity',
    rawPath: '/slack/interactivity',
    rawQueryString: '',
    headers,
    body: o.base64 ? Buffer.from(body, 'utf8').toString('base64') : body,
    isBase64Encoded: o.base64 ?? false,
  } as unknown as APIGatewayProxyEventV2;
}

/** Who may click what in these tests: workspace T0001, Alice and Bob anything. */
const SLACK_SETTINGS: SlackSettings = { teamId: 'T0001', allow: { '*': ['U0ALICE', 'U0BOB'] } };

/** The handler with a recording `submit` and `respond`, and claims kept in memory. */
function handlerWith(over: Partial<SlackInteractivityDeps> = {}) {
  const submitted: IntentRequest[] = [];
  const responses: { url: string; message: Record<string, unknown> }[] = [];
  const logs: Record<string, unknown>[] = [];
  const claimed = new Set<string>();
  const handle = createSlackInteractivity({
    signingSecret: async () => SECRET,
    claimRequest: async (key) => !claimed.has(key) && Boolean(claimed.add(key)),
    slackSettings: async () => SLACK_SETTINGS,
    submit: async (request) => {
      submitted.push(request);
      return { intent: { id: 'i1' } };
    },
    respond: async (url, message) => void responses.push({ url, message: message as Record<string, unknown> }),
    now: () => NOW,
    log: (entry) => void logs.push(entry),
    ...over,
  });
  return { handle, submitted, responses, logs };
}

describe('verifySlackRequest', () => {
  const body = formOf(clickPayload());
  const ts = seconds(NOW);
  const base = { signingSecret: SECRET, timestamp: ts, signature: slackSignatureOf(SECRET, ts, body), rawBody: body };

  it("accepts Slack's signature within 5 minutes either way, and the documented example", () => {
    expect(verifySlackRequest({ ...base, now: NOW })).toEqual({ ok: true });
    expect(verifySlackRequest({ ...base, now: NOW + 299_000 })).toEqual({ ok: true });
    expect(verifySlackRequest({ ...base, now: NOW - 299_000 })).toEqual({ ok: true });
    expect(verifySlackRequest({ ...base, rawBody: Buffer.from(body, 'utf8'), now: NOW })).toEqual({ ok: true });
    // https://api.slack.com/authentication/verifying-requests-from-slack, worked example.
    const example =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    expect(
      verifySlackRequest({
        signingSecret: '8f742231b10e8888abcd99yyyzzz85a5',
        timestamp: '1531420618',
        signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
        rawBody: example,
        now: 1531420618 * 1000,
      }),
    ).toEqual({ ok: true });
  });

  it.each([
    ['a wrong secret', { signature: slackSignatureOf('not-the-secret', ts, body) }, /does not match/],
    ['a tampered body', { rawBody: body.replace('promote', 'abort__') }, /does not match/],
    ['a timestamp 6 minutes old', { now: NOW + 360_000 }, /360 s old/],
    ['a timestamp 6 minutes ahead', { now: NOW - 360_000 }, /360 s in the future/],
    ['no timestamp', { timestamp: undefined }, /Timestamp is missing/],
    ['no signature', { signature: undefined }, /Signature is missing/],
    ['a timestamp that is not unix seconds', { timestamp: '1.7e9' }, /not unix seconds/],
    ['a signature of another scheme', { signature: `v1=${'0'.repeat(64)}` }, /not v0=/],
    ['a signature cut short', { signature: slackSignatureOf(SECRET, ts, body).slice(0, 40) }, /not v0=/],
    [
      'an empty secret, even signed with it',
      { signingSecret: '', signature: slackSignatureOf('', ts, body) },
      /no signing secret/,
    ],
  ])('refuses %s', (_, over, why) => {
    const result = verifySlackRequest({ ...base, now: NOW, ...over });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.why).toMatch(why);
    expect(result.ok ? '' : result.why).not.toContain(SECRET);
  });
});

describe('slackReplayClaim', () => {
  const signature = `v0=${'a'.repeat(64)}`;
  it('names one request by its timestamp and signature, never holding the signature itself', () => {
    const claim = slackReplayClaim('1700000000', signature);
    expect(claim).toEqual(slackReplayClaim('1700000000', signature));
    expect(claim.key).toMatch(/^slack:[0-9a-f]{64}$/);
    expect(claim.key).not.toContain('a'.repeat(16));
    expect(slackReplayClaim('1700000001', signature).key).not.toBe(claim.key);
    expect(slackReplayClaim('1700000000', `v0=${'b'.repeat(64)}`).key).not.toBe(claim.key);
  });

  it('is kept past the last moment the request still verifies (its timestamp + 5 minutes)', () => {
    const { expiresAt } = slackReplayClaim('1700000000', signature);
    expect(expiresAt).toBeGreaterThan((1700000000 + MAX_CLOCK_SKEW_SECONDS) * 1000);
    expect(expiresAt).toBeLessThanOrEqual((1700000000 + MAX_CLOCK_SKEW_SECONDS + 120) * 1000);
  });
});

describe('the interactivity handler: who may click', () => {
  const body = formOf(clickPayload());
  const old = seconds(NOW - 6 * 60_000);
  const ahead = seconds(NOW + 6 * 60_000);

  it('acts on a click Slack signed (body base64-encoded by API Gateway or not)', async () => {
    for (const base64 of [false, true]) {
      const { handle, submitted } = handlerWith();
      const response = await handle(signedEvent(body, { base64 }));
      expect(response).toMatchObject({ statusCode: 200, body: '' });
      expect(submitted).toEqual([
        {
          service: 'shop',
          verb: 'promote',
          releaseId: 'shop-2.0.0',
          actor: 'slack:alice',
          reason: 'via Slack button in #releases',
        },
      ]);
    }
  });

  it.each([
    ['signed with a wrong secret', signedEvent(body, { secret: 'guessed-secret' })],
    ['with a tampered body', { ...signedEvent(body), body: body.replace('promote', 'abort__') }],
    ['with a timestamp 6 minutes old', signedEvent(body, { timestamp: old })],
    ['with a timestamp 6 minutes in the future', signedEvent(body, { timestamp: ahead })],
    ['without X-Slack-Request-Timestamp', signedEvent(body, { omitTimestamp: true })],
    ['without X-Slack-Signature', signedEvent(body, { signature: null })],
    ['without any header', { ...signedEvent(body), headers: {} }],
    ['with a garbled signature', signedEvent(body, { signature: 'v0=zz' })],
  ])('answers 401 to a request %s, and submits nothing', async (_, event) => {
    const deferred: (() => Promise<void>)[] = [];
    const { handle, submitted, responses, logs } = handlerWith({ defer: (work) => void deferred.push(work) });
    const response = await handle(event as APIGatewayProxyEventV2);
    expect(response.statusCode).toBe(401);
    expect(deferred).toEqual([]);
    expect(submitted).toEqual([]);
    expect(responses).toEqual([]);
    expect(JSON.stringify(logs)).not.toContain(SECRET);
    expect(logs).toEqual([expect.objectContaining({ outcome: 'bad-signature' })]);
  });

  it('answers 400 to a signed body that is not a click of ours, 200 to interactions it does not handle', async () => {
    const cases: [string, number][] = [
      ['payload=not-json', 400],
      ['text=no-payload-field', 400],
      [formOf(['an', 'array']), 400],
      [formOf({ type: 'block_actions' }), 400],
      [formOf(clickPayload({ value: 'not json' })), 400],
      [formOf(clickPayload({ value: JSON.stringify({ service: 'shop' }) })), 400],
      [formOf({ ...clickPayload(), response_url: undefined }), 400],
      [formOf({ ...clickPayload(), user: {} }), 400],
      [formOf({ type: 'view_closed', user: { id: 'U1' } }), 200],
      [formOf(clickPayload({ verb: 'open_dashboard' })), 200],
    ];
    for (const [body, status] of cases) {
      const { handle, submitted } = handlerWith();
      const response = await handle(signedEvent(body));
      expect(response.statusCode, body).toBe(status);
      expect(submitted, body).toEqual([]);
    }
  });

  it('refuses a body over the limit before reading the secret', async () => {
    const signingSecret = vi.fn(async () => SECRET);
    const { handle, submitted } = handlerWith({ signingSecret, maxBodyBytes: 1000 });
    const response = await handle(signedEvent(formOf(clickPayload({ channel: 'x'.repeat(2000) }))));
    expect(response.statusCode).toBe(413);
    expect(signingSecret).not.toHaveBeenCalled();
    expect(submitted).toEqual([]);
  });

  it('answers 500 (and submits nothing) when the signing secret cannot be read', async () => {
    const { handle, submitted } = handlerWith({
      signingSecret: async () => {
        throw Object.assign(new Error('ParameterNotFound'), { name: 'ParameterNotFound' });
      },
    });
    expect((await handle(signedEvent(formOf(clickPayload())))).statusCode).toBe(500);
    expect(submitted).toEqual([]);
  });

  it('refuses a replay before deferring anything, and does nothing when the ledger cannot tell (503)', async () => {
    const deferred: (() => Promise<void>)[] = [];
    const { handle, submitted, logs } = handlerWith({ defer: (work) => void deferred.push(work) });
    const event = signedEvent(formOf(clickPayload({ verb: 'pause' })));
    expect((await handle(event)).body).toBe('');
    expect((await handle(event)).body).toContain('this request was already handled');
    expect(deferred).toHaveLength(1);
    expect(logs.map((l) => l.outcome)).toEqual(['replay']);

    const down = handlerWith({
      claimRequest: async () => {
        throw Object.assign(new Error('throttled'), { name: 'StoreThrottled' });
      },
    });
    expect((await down.handle(signedEvent(formOf(clickPayload())))).statusCode).toBe(503);
    expect(down.submitted).toEqual([]);
    expect(down.responses).toEqual([]);
    expect(down.logs).toEqual([expect.objectContaining({ outcome: 'claim-failed', error: 'StoreThrottled' })]);
    await deferred[0]?.();
    expect(submitted.map((r) => r.verb)).toEqual(['pause']);
  });

  it('acknowledges at once and does the work after, when given a way to defer it', async () => {
    const deferred: (() => Promise<void>)[] = [];
    const { handle, submitted, responses } = handlerWith({ defer: (work) => void deferred.push(work) });
    const response = await handle(signedEvent(formOf(clickPayload({ verb: 'pause' }))));
    // The 200 is back, and nothing has been submitted or said yet.
    expect(response).toEqual({ statusCode: 200, headers: {}, body: '' });
    expect(deferred).toHaveLength(1);
    expect(submitted).toEqual([]);
    expect(responses).toEqual([]);
    await deferred[0]?.();
    expect(submitted.map((r) => r.verb)).toEqual(['pause']);
    expect(responses).toEqual([
      {
        url: RESPONSE_URL,
        message: expect.objectContaining({
          replace_original: false,
          text: expect.stringMatching(/^pause recorded by alice/),
        }),
      },
    ]);
  });

  it('names the user by id when Slack sends no username, and the channel by id when it has no name', async () => {
    const payload = clickPayload({ verb: 'resume' });
    payload.user = { id: 'U0BOB' };
    payload.channel = { id: 'C0PRIVATE' };
    const { handle, submitted } = handlerWith();
    await handle(signedEvent(formOf(payload)));
    expect(submitted).toEqual([
      expect.objectContaining({ actor: 'slack:U0BOB', reason: 'via Slack button in C0PRIVATE' }),
    ]);
  });

  it('never throws from the work: a refused intent and a failing response_url are told and logged', async () => {
    const { handle, responses, logs } = handlerWith({
      submit: async () => {
        throw Object.assign(new Error('shop-2.0.0 is SUCCEEDED: abort applies to a running release'), {
          name: 'NotApplicable',
        });
      },
    });
    expect((await handle(signedEvent(formOf(clickPayload({ verb: 'abort' }))))).statusCode).toBe(200);
    expect(responses[0]?.message).toMatchObject({
      replace_original: false,
      response_type: 'ephemeral',
      text: expect.stringContaining('abort applies to a running release'),
    });
    expect(logs).toEqual([expect.objectContaining({ outcome: 'refused', verb: 'abort', error: 'NotApplicable' })]);

    const broken = handlerWith({
      respond: async (url) => {
        throw new Error(`connect ECONNREFUSED for ${url}`);
      },
    });
    expect((await broken.handle(signedEvent(formOf(clickPayload())))).statusCode).toBe(200);
    const failed = broken.logs.find((l) => l.outcome === 'respond-failed');
    expect(failed).toBeDefined();
    // The response_url lets anyone post to the channel: it is not logged.
    expect(JSON.stringify(broken.logs)).not.toContain(RESPONSE_URL);
  });

  it('POSTs to response_url on Slack hosts only, unless told otherwise', async () => {
    await expect(respondOverHttp()('https://evil.example/actions/x', { text: 'x' })).rejects.toMatchObject({
      name: 'ResponseUrlRefused',
    });
    await expect(respondOverHttp()('http://hooks.slack.com/actions/x', { text: 'x' })).rejects.toMatchObject({
      name: 'ResponseUrlRefused',
    });
  });
});

describe('the buttons on the message', () => {
  const view = (over: Partial<ReleaseView> = {}): ReleaseView => ({
    service: 'shop',
    releaseId: 'shop-2.0.0',
    version: '2.0.0',
    status: 'RUNNING',
    rollingBack: false,
    firstAt: '2026-01-01T10:00:00.000Z',
    updatedAt: '2026-01-01T10:00:00.000Z',
    waves: [],
    regions: {},
    failure: null,
    rollback: null,
    reason: null,
    ...over,
  });
  type Button = { action_id: string; value: string; style?: string; confirm?: Record<string, { text: string }> };
  const buttons = (v: ReleaseView) =>
    ((releaseActions(v) as { elements: Button[] } | undefined)?.elements ?? []).map((b) => b);
  const verbs = (v: ReleaseView) => buttons(v).map((b) => b.action_id);

  it('offers promote, pause, resume and abort while running; abort asks for confirmation', () => {
    const actions = releaseActions(view()) as { type: string; elements: Button[] };
    expect(actions.type).toBe('actions');
    expect(verbs(view())).toEqual(['promote', 'pause', 'resume', 'abort']);
    for (const b of actions.elements) expect(JSON.parse(b.value)).toEqual({ service: 'shop', releaseId: 'shop-2.0.0' });
    const abort = actions.elements.find((b) => b.action_id === 'abort');
    expect(abort?.style).toBe('danger');
    expect(abort?.confirm).toMatchObject({
      title: { type: 'plain_text', text: 'Abort shop 2.0.0?' },
      text: { type: 'plain_text', text: expect.stringContaining('last-known-good') },
      confirm: { type: 'plain_text', text: 'Abort' },
      deny: { type: 'plain_text', text: 'Cancel' },
      style: 'danger',
    });
    // Block Kit limits: confirm title ≤ 100, text ≤ 300, its buttons ≤ 30; a button's value ≤ 2,000.
    const long = view({ service: 's'.repeat(60), releaseId: 'r'.repeat(80), version: 'v'.repeat(80) });
    for (const b of buttons(long)) {
      expect(b.value.length).toBeLessThanOrEqual(2000);
      if (b.confirm) {
        expect(b.confirm.title?.text.length).toBeLessThanOrEqual(100);
        expect(b.confirm.text?.text.length).toBeLessThanOrEqual(300);
      }
    }
    const promote = actions.elements.find((b) => b.action_id === 'promote');
    expect(promote?.confirm).toBeUndefined();
  });

  it('offers Resume alone while held by a pause, Pause alone while held for other reasons only', () => {
    expect(verbs(view({ held: { wave: 1, paused: true } }))).toEqual(['promote', 'resume', 'abort']);
    expect(verbs(view({ held: { wave: 1, paused: false } }))).toEqual(['promote', 'pause', 'abort']);
    const s = stamper('shop', 'shop-2.0.0');
    let v = foldEvent(view(), s({ kind: 'wave-held', wave: 1, reasons: ['paused by slack:alice: via Slack button'] }));
    expect(verbs(v)).toEqual(['promote', 'resume', 'abort']);
    v = foldEvent(v, s({ kind: 'wave-held', wave: 1, reasons: ['waiting for approval (promote)'] }));
    expect(verbs(v)).toEqual(['promote', 'pause', 'abort']);
    // Once the wave starts the view cannot tell whether a new pause is pending: both again.
    v = foldEvent(v, s({ kind: 'wave-started', wave: 1, name: 'eu', regions: ['eu-west-1'] }));
    expect(verbs(v)).toEqual(['promote', 'pause', 'resume', 'abort']);
  });

  it('offers Approve first while an emergency release waits for its second approver, and marks it for review', () => {
    const s = stamper('shop', 'shop-2.0.0');
    const emergency = { requester: 'slack:ann', reason: 'checkout is down' };
    let v = foldEvent(
      undefined,
      s({ kind: 'release-started', version: '2.0.0', waves: [{ name: 'canary', regions: ['us-east-1'] }], emergency }),
    );
    // Asked for, but not yet held: no Approve (the release has not said it waits).
    expect(verbs(v)).toEqual(['promote', 'pause', 'resume', 'abort']);
    const hold = s({
      kind: 'wave-held',
      wave: 0,
      reasons: ['emergency release asked for by slack:ann: waiting for a second, distinct approver (flotilla approve)'],
      emergency: { ...emergency, awaitingApprover: true },
    });
    v = foldEvent(v, hold);
    expect(verbs(v)).toEqual(['approve', 'promote', 'pause', 'abort']);
    const approve = buttons(v)[0];
    expect(approve?.style).toBe('primary');
    expect(approve?.confirm?.text?.text).toContain('second, distinct approver');
    expect(approve?.confirm?.text?.text).toContain('slack:ann: checkout is down');
    const message = renderReleaseMessage(v);
    expect(message.text).toContain('EMERGENCY, for review');
    expect(JSON.stringify(message.blocks)).toContain('Emergency release, for review');
    expect(JSON.stringify(message.blocks)).toContain('Waiting for a second, distinct approver');
    // The hold is notable (SNS carries it on AWS), threaded once per wave.
    expect(notableKey(hold)).toBe('shop-2.0.0|emergency-approval|0');
    expect(renderThreadReply(v, hold)?.text).toContain('EMERGENCY release waits for a second, distinct approver');

    // Approved: the wave starts and Approve goes; the release stays marked for review, even when it ended.
    v = foldEvent(v, s({ kind: 'wave-started', wave: 0, name: 'canary', regions: ['us-east-1'] }));
    expect(verbs(v)).not.toContain('approve');
    // A hold delivered late (SNS keeps no order) does not bring it back.
    v = foldEvent(v, hold);
    expect(verbs(v)).not.toContain('approve');
    v = foldEvent(
      v,
      s({
        kind: 'release-finished',
        outcome: { status: 'SUCCEEDED', version: '2.0.0', reason: 'all 1 regions run 2.0.0', regions: [] } as never,
      }),
    );
    expect(renderReleaseMessage(v).blocks[0]).toMatchObject({
      text: { text: expect.stringContaining('SUCCEEDED · EMERGENCY, for review') },
    });
    // Not an emergency release: never an Approve button, however it is held.
    const plain = foldEvent(view(), s({ kind: 'wave-held', wave: 1, reasons: ['waiting for approval (promote)'] }));
    expect(verbs(plain)).not.toContain('approve');
    expect(notableKey(s({ kind: 'wave-held', wave: 1, reasons: ['waiting for approval (promote)'] }))).toBe(null);
  });

  it('offers roll back, behind a confirmation, only for a release that SUCCEEDED or ended ROLLBACK_FAILED', () => {
    const [rollback, ...others] = buttons(view({ status: 'SUCCEEDED' }));
    expect(others).toEqual([]);
    expect(rollback?.action_id).toBe('rollback');
    expect(rollback?.confirm).toMatchObject({ confirm: { text: 'Roll back' }, deny: { text: 'Cancel' } });
    // After ROLLBACK_FAILED, the way back for the regions its rollback could not put back.
    const [retry, ...more] = buttons(view({ status: 'ROLLBACK_FAILED' }));
    expect(more).toEqual([]);
    expect(retry?.action_id).toBe('rollback');
    expect(JSON.stringify(retry?.confirm)).toMatch(/retries the regions/);
    for (const status of ['ROLLED_BACK', 'ABORTED', 'BLOCKED', 'FAILED'] as const) {
      expect(releaseActions(view({ status })), status).toBeUndefined();
    }
    // Rolling back already: nothing left to steer.
    expect(releaseActions(view({ rollingBack: true }))).toBeUndefined();
  });

  it('are posted and updated with the message by the notifier (unless turned off)', async () => {
    const fake: FakeSlack = await startFakeSlack();
    cleanups.push(fake.close);
    const settings = { botToken: 'xoxb-1-2-buttonsTestToken', channel: '#releases', apiUrl: fake.apiUrl };
    const notifier = new SlackNotifier(settings, { writer: captureWriter(), minIntervalMs: 0 });
    const events = rolledBackRelease();
    for (const e of events) await notifier.emit(e);
    await notifier.flush();
    const messages = fake.requests.filter((r) => r.body.thread_ts === undefined && r.method !== 'chat.delete');
    const actionsOf = (body: Record<string, unknown>) =>
      (body.blocks as { type: string; elements?: { action_id: string }[] }[]).find((b) => b.type === 'actions');
    expect(actionsOf(messages[0]?.body ?? {})?.elements?.map((e) => e.action_id)).toEqual([
      'promote',
      'pause',
      'resume',
      'abort',
    ]);
    // It ended ROLLED_BACK: the last edit has no buttons left.
    expect(actionsOf(messages.at(-1)?.body ?? {})).toBeUndefined();

    const quiet = await startFakeSlack();
    cleanups.push(quiet.close);
    const off = new SlackNotifier({ ...settings, apiUrl: quiet.apiUrl }, { writer: captureWriter(), buttons: false });
    await off.emit(events[0] as Stamped);
    await off.flush();
    expect(actionsOf(quiet.requests[0]?.body ?? {})).toBeUndefined();
  });
});

describe('end to end on the local backend', () => {
  it('a signed Promote click on a release waiting for approval makes it go on; the audit names the Slack user', async () => {
    const t = await tempDir('flotilla-slack-buttons-');
    cleanups.push(t.cleanup);
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'USD' }],
    ]);
    (config.waves[1] as FlotillaConfig['waves'][number]).approval = true;
    const events: Stamped[] = [];
    let held: () => void = () => {};
    const heldAtApproval = new Promise<void>((resolve) => {
      held = resolve;
    });
    const backend = await openLocalBackend({
      stateDir: t.dir,
      config,
      events: {
        emit(e) {
          events.push(e);
          if (e.kind === 'wave-held' && e.reasons.some((r) => r.includes('approval'))) held();
        },
      },
    });
    cleanups.push(() => backend.close());
    // A local HTTP server stands in for Slack's response_url (127.0.0.1 only: no network).
    const slack = await startFakeSlack();
    cleanups.push(slack.close);
    const responseUrl = `${slack.url}/actions/T0001/1234567890/abcdefABCDEF0123`;

    const deferred: (() => Promise<void>)[] = [];
    const handle = createSlackInteractivity({
      signingSecret: async () => SECRET,
      claimRequest: (key, expiresAt) => backend.ledger.claimRequest(key, expiresAt),
      slackSettings: async () => ({ teamId: 'T0001', allow: { promote: ['U0ALICE'], abort: ['U0ALICE'] } }),
      submit: (request) => backend.intent(request),
      respond: respondOverHttp({ allow: (url) => url.hostname === '127.0.0.1' }),
      now: Date.now,
      defer: (work) => void deferred.push(work),
      log: () => {},
    });
    const click = (verb: string, releaseId: string) => {
      const body = formOf(clickPayload({ verb, releaseId, username: 'alice', responseUrl }));
      return handle(signedEvent(body, { timestamp: seconds(Date.now()) }));
    };

    const run = await backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    await heldAtApproval;
    // The message as it stands now offers Promote (and Pause: held, but not by a pause).
    const atHold = events.reduce<ReleaseView | undefined>((v, e) => foldEvent(v, e), undefined) as ReleaseView;
    const offered = (releaseActions(atHold) as { elements: { action_id: string }[] }).elements.map((e) => e.action_id);
    expect(offered).toEqual(['promote', 'pause', 'abort']);

    const response = await click('promote', run.releaseId);
    // Acknowledged before anything was done: nothing recorded, nothing said, still held.
    expect(response).toMatchObject({ statusCode: 200, body: '' });
    expect(await backend.ledger.listIntents('shop', run.releaseId)).toEqual([]);
    expect(slack.requests).toEqual([]);
    expect(deferred).toHaveLength(1);

    await deferred.shift()?.();
    const outcome = await run.done;
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    expect(await backend.ledger.listIntents('shop', run.releaseId)).toEqual([
      expect.objectContaining({ verb: 'promote', actor: 'slack:alice', reason: 'via Slack button in #releases' }),
    ]);
    expect(slack.requests).toHaveLength(1);
    expect(slack.requests[0]?.path).toBe('/actions/T0001/1234567890/abcdefABCDEF0123');
    expect(slack.requests[0]?.body).toMatchObject({
      replace_original: false,
      text: expect.stringMatching(new RegExp(`^promote recorded by alice for \`${run.releaseId}\``)),
    });

    // The finished release's message offers Roll back only.
    const atEnd = events.reduce<ReleaseView | undefined>((v, e) => foldEvent(v, e), undefined) as ReleaseView;
    expect(atEnd).toMatchObject({ status: 'SUCCEEDED' });
    expect((releaseActions(atEnd) as { elements: { action_id: string }[] }).elements.map((e) => e.action_id)).toEqual([
      'rollback',
    ]);

    // A button on an older copy of the message: the release has finished, nothing is recorded.
    expect((await click('abort', run.releaseId)).statusCode).toBe(200);
    await deferred.shift()?.();
    expect(await backend.ledger.listIntents('shop', run.releaseId)).toHaveLength(1);
    expect(slack.requests).toHaveLength(2);
    expect(slack.requests[1]?.body).toMatchObject({
      replace_original: false,
      response_type: 'ephemeral',
      text: expect.stringMatching(
        /abort .*was not recorded: .*SUCCEEDED: abort applies to a running or queued release/,
      ),
    });
  }, 60_000);
});

describe('the Approve button end to end on the local backend', () => {
  it('an emergency release waits, offers Approve, refuses the one who asked, and goes on with a second approver', async () => {
    const t = await tempDir('flotilla-slack-approve-');
    cleanups.push(t.cleanup);
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    config.emergency = { minBakeSeconds: 1 };
    const events: Stamped[] = [];
    let held: () => void = () => {};
    const waiting = new Promise<void>((resolve) => {
      held = resolve;
    });
    const backend = await openLocalBackend({
      stateDir: t.dir,
      config,
      events: {
        emit(e) {
          events.push(e);
          if (e.kind === 'wave-held' && e.emergency?.awaitingApprover) held();
        },
      },
    });
    cleanups.push(() => backend.close());
    const slack = await startFakeSlack();
    cleanups.push(slack.close);
    const responseUrl = `${slack.url}/actions/T0001/1234567890/abcdefABCDEF0123`;
    const handle = createSlackInteractivity({
      signingSecret: async () => SECRET,
      claimRequest: (key, expiresAt) => backend.ledger.claimRequest(key, expiresAt),
      slackSettings: async () => ({ teamId: 'T0001', allow: { approve: ['U0ANN', 'U0BOB'] } }),
      submit: (request) => backend.intent(request),
      respond: respondOverHttp({ allow: (url) => url.hostname === '127.0.0.1' }),
      now: Date.now,
      log: () => {},
    });
    const click = (username: string, userId: string, releaseId: string) =>
      handle(
        signedEvent(formOf(clickPayload({ verb: 'approve', releaseId, username, userId, responseUrl })), {
          timestamp: seconds(Date.now()),
        }),
      );

    const run = await backend.start({
      version: '1.0.0',
      artifact: GOOD_BUILD,
      emergency: { actor: 'slack:ann', reason: 'checkout is down' },
    });
    await waiting;
    const atHold = events.reduce<ReleaseView | undefined>((v, e) => foldEvent(v, e), undefined) as ReleaseView;
    const offered = (releaseActions(atHold) as { elements: { action_id: string }[] }).elements.map((e) => e.action_id);
    expect(offered[0]).toBe('approve');
    expect(renderReleaseMessage(atHold).text).toContain('EMERGENCY, for review');

    await click('ann', 'U0ANN', run.releaseId);
    expect(slack.requests.at(-1)?.body).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringContaining('a second, distinct person must approve it'),
    });
    expect(await backend.ledger.listIntents('shop', run.releaseId)).toEqual([]);

    await click('bob', 'U0BOB', run.releaseId);
    const outcome = await run.done;
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    expect((await backend.ledger.listIntents('shop', run.releaseId)).map((i) => [i.verb, i.actor])).toEqual([
      ['approve', 'slack:bob'],
    ]);
    const atEnd = events.reduce<ReleaseView | undefined>((v, e) => foldEvent(v, e), undefined) as ReleaseView;
    expect(atEnd.emergency).toMatchObject({ requester: 'slack:ann', awaitingApprover: false });
    expect(renderReleaseMessage(atEnd).text).toContain('SUCCEEDED · EMERGENCY, for review');
    expect(releaseActions(atEnd)?.elements.map((e) => (e as { action_id: string }).action_id)).toEqual(['rollback']);
  }, 60_000);
});

describe('on AWS: SSM and Step Functions at the SDK boundary, the real ledger on dynalite', () => {
  const sfn = mockClient(SFNClient);
  const ssm = mockClient(SSMClient);
  const stateMachineArn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:flotilla-prod-release';
  const PARAM = '/flotilla/slack-signing-secret';
  const awsConfig: FlotillaConfig = {
    ...configWith([['us-east-1'], ['eu-west-1']]),
    slack: {
      teamId: 'T0001',
      allow: {
        promote: ['U0ALICE', 'U0BOB'],
        pause: ['U0ALICE', 'U0BOB'],
        abort: ['U0ALICE'],
        rollback: ['U0ALICE'],
        approve: ['U0ALICE', 'U0BOB'],
      },
    },
  };
  let dynamo: EmbeddedDynamo;
  let n = 0;
  const CONFIG_PARAM = '/flotilla/release-config';
  /** The release config parameter's value, as SSM answers it. */
  const configIs = (config: unknown) =>
    ssm
      .on(GetParameterCommand, { Name: CONFIG_PARAM })
      .resolves({ Parameter: { Name: CONFIG_PARAM, Value: JSON.stringify(config) } });

  beforeAll(async () => {
    dynamo = await startEmbeddedDynamo({});
  });
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(() => {
    sfn.reset();
    ssm.reset();
    vi.stubEnv('FLOTILLA_SLACK_SIGNING_SECRET_PARAM', PARAM);
    vi.stubEnv('FLOTILLA_RELEASE_STATE_MACHINE_ARN', stateMachineArn);
    vi.stubEnv('FLOTILLA_CONFIG_PARAM', CONFIG_PARAM);
    ssm.on(GetParameterCommand).resolves({ Parameter: { Name: PARAM, Value: SECRET } });
    configIs(awsConfig);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  /** A release held for approval on wave 2, with its task token in the ledger. */
  async function held(over: Partial<ReturnType<typeof recordWith>> = {}) {
    n += 1;
    await createLedgerTable(dynamo.client, `slack-buttons-${n}`);
    const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: `slack-buttons-${n}` });
    const record = {
      ...recordWith([
        { region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' },
        { region: 'eu-west-1', wave: 1, phase: 'pending', before: '1.0.0' },
      ]),
      ...over,
    };
    await ledger.createRelease(record);
    await ledger.acquireLock('shop', { releaseId: record.releaseId, owner: 'arn:exec', acquiredAt: record.startedAt });
    const hold = { token: 'token-of-the-hold-'.padEnd(64, 'x'), reason: 'waiting for approval', at: record.startedAt };
    await ledger.putHoldToken('shop', record.releaseId, hold);
    const responses: { url: string; message: Record<string, unknown> }[] = [];
    const logs: Record<string, unknown>[] = [];
    const handle = slackInteractivityFromEnv({
      ledger,
      respond: async (url, message) => void responses.push({ url, message: message as Record<string, unknown> }),
      log: (entry) => void logs.push(entry),
    });
    const click = (verb: string, o: ClickOptions = {}) =>
      handle(signedEvent(formOf(clickPayload({ verb, ...o })), { timestamp: seconds(Date.now()) }));
    return { ledger, record, hold, handle, click, responses, logs };
  }

  it('a promote wakes the held release with SendTaskSuccess and its stored token; the secret is read once per container', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { ledger, record, hold, click, responses, logs } = await held();
    expect((await click('promote')).statusCode).toBe(200);
    const calls = sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.taskToken).toBe(hold.token);
    expect(JSON.parse(calls[0]?.output ?? '{}')).toEqual({
      verb: 'promote',
      actor: 'slack:alice',
      reason: 'via Slack button in #releases',
    });
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([
      expect.objectContaining({ verb: 'promote', actor: 'slack:alice', reason: 'via Slack button in #releases' }),
    ]);
    expect(await ledger.takeHoldTokens('shop', record.releaseId)).toEqual([]);
    expect(responses[0]).toMatchObject({
      url: RESPONSE_URL,
      message: { text: expect.stringMatching(/^promote recorded/) },
    });

    // A second click in the same container: neither the secret nor the config is read again.
    expect((await click('pause')).statusCode).toBe(200);
    expect(ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input)).toEqual([
      { Name: PARAM, WithDecryption: true },
      { Name: CONFIG_PARAM, WithDecryption: true },
    ]);
    expect(JSON.stringify(logs)).not.toContain(SECRET);
  });

  it('Approve on an emergency release: the one who asked is refused, so is a second approval; the first one wakes it, audited', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { ledger, record, hold, click, responses, logs } = await held({
      emergency: { actor: 'slack:alice', reason: 'checkout is down', review: true },
    });
    // Alice asked for it: she cannot be its second approval.
    expect((await click('approve', { userId: 'U0ALICE', username: 'alice' })).statusCode).toBe(200);
    expect(responses.at(-1)?.message).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringContaining('a second, distinct person must approve it'),
    });
    // Carol is not listed under slack.allow.approve: refused before anything is asked of the release.
    await click('approve', { userId: 'U0CAROL', username: 'carol' });
    expect(responses.at(-1)?.message).toMatchObject({
      text: expect.stringMatching(/^:no_entry: you may not approve `shop-2\.0\.0`: ask <@U0ALICE> or <@U0BOB>/),
    });
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([]);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);

    // Bob approves: the same service as `flotilla approve`, the hold woken, the audit names him.
    await click('approve', { userId: 'U0BOB', username: 'bob' });
    expect(responses.at(-1)?.message).toMatchObject({
      response_type: 'in_channel',
      text: expect.stringMatching(
        /^approve recorded by bob for `shop-2\.0\.0`: the emergency release has its second approval/,
      ),
    });
    const calls = sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.taskToken)).toEqual([hold.token]);
    expect(JSON.parse(calls[0]?.output ?? '{}')).toMatchObject({ verb: 'approve', actor: 'slack:bob' });

    // Bob again (an older copy of the message): already approved, nothing recorded twice.
    await click('approve', { userId: 'U0BOB', username: 'bob' });
    expect(responses.at(-1)?.message).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringContaining('already approved by slack:bob'),
    });
    expect((await ledger.listIntents('shop', record.releaseId)).map((i) => [i.verb, i.actor, i.reason])).toEqual([
      ['approve', 'slack:bob', 'via Slack button in #releases'],
    ]);
    expect(logs.map((l) => [l.verb, l.outcome])).toEqual([
      ['approve', 'refused'],
      ['approve', 'unauthorized'],
      ['approve', 'recorded'],
      ['approve', 'refused'],
    ]);
  });

  it('an abort wakes it with SendTaskFailure ReleaseAborted', async () => {
    sfn.on(SendTaskFailureCommand).resolves({});
    const { hold, click } = await held();
    await click('abort');
    expect(sfn.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input)).toEqual([
      {
        taskToken: hold.token,
        error: 'ReleaseAborted',
        cause: 'aborted by slack:alice: via Slack button in #releases',
      },
    ]);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('a wake Step Functions refuses is said (the intent stays recorded, the token is kept for the next verb)', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { ledger, record, hold, click, responses } = await held();
    expect((await click('promote')).statusCode).toBe(200);
    expect(await ledger.listIntents('shop', record.releaseId)).toHaveLength(1);
    expect(await ledger.takeHoldTokens('shop', record.releaseId)).toEqual([hold]);
    expect(responses[0]?.message).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringMatching(
        /^:warning: promote of `shop-2\.0\.0`: the promote was recorded, but waking the release failed for 1 hold\(s\): ThrottlingException/,
      ),
    });
  });

  it('roll back starts <release>-rollback with the recorded version and artifact, the config and rollbackOf', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec:rollback', startDate: new Date() });
    const { ledger, record, click, responses } = await held();
    // Still running: refused, nothing recorded, nothing started.
    await click('rollback');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([]);
    expect(responses[0]?.message.text).toMatch(/abort/);

    // It ends as FinishRelease ends it: SUCCEEDED, the lock free (a held lock refuses a rollback: Busy).
    await ledger.updateRelease('shop', record.releaseId, { status: 'SUCCEEDED' });
    await ledger.releaseLock('shop', record.releaseId);
    await ledger.putRegion({
      service: 'shop',
      region: 'us-east-1',
      current: { version: record.version, artifact: record.artifact },
      releaseId: record.releaseId,
      updatedAt: record.startedAt,
    });
    await click('rollback');
    const call = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(call?.stateMachineArn).toBe(stateMachineArn);
    expect(call?.name).toBe('shop-2.0.0-rollback');
    expect(JSON.parse(call?.input ?? '{}')).toEqual({
      releaseId: 'shop-2.0.0-rollback',
      version: record.version,
      artifact: record.artifact,
      config: awsConfig,
      owner: 'slack',
      rollbackOf: record.releaseId,
    });
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([
      expect.objectContaining({ verb: 'rollback', actor: 'slack:alice', regions: ['us-east-1'] }),
    ]);
    expect(responses[1]?.message).toMatchObject({
      response_type: 'in_channel',
      text: expect.stringContaining('rollback release `shop-2.0.0-rollback` started'),
    });

    // Once that rollback release is in the ledger, another click starts nothing.
    await ledger.createRelease({
      ...record,
      releaseId: 'shop-2.0.0-rollback',
      status: 'RUNNING',
      rollbackOf: record.releaseId,
    });
    await click('rollback');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(responses[2]?.message.text).toMatch(/shop-2\.0\.0 is being rolled back by shop-2\.0\.0-rollback/);
  });

  it('the same signed Promote sent twice: one intent, one SendTaskSuccess; the replay is told it was handled', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { ledger, record, handle, responses, logs } = await held();
    // The hold is put back after the first wake, so a second approval would have a token to use.
    const event = signedEvent(formOf(clickPayload({ verb: 'promote' })), { timestamp: seconds(Date.now()) });
    expect(await handle(event)).toMatchObject({ statusCode: 200, body: '' });
    await ledger.putHoldToken('shop', record.releaseId, {
      token: 'the-next-hold'.padEnd(64, 'y'),
      reason: 'approval',
      at: record.startedAt,
    });
    const again = await handle(event);
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(again.body ?? '{}')).toEqual({
      replace_original: false,
      response_type: 'ephemeral',
      text: 'this request was already handled',
    });
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    expect(await ledger.listIntents('shop', record.releaseId)).toHaveLength(1);
    expect(responses).toHaveLength(1);
    expect(logs.map((l) => l.outcome)).toEqual(['recorded', 'replay']);
  });

  it('the dedupe holds across two containers (two cold starts) sharing the ledger, racing or one after the other', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { ledger, record } = await held();
    const coldStart = () => slackInteractivityFromEnv({ ledger, respond: async () => {}, log: () => {} });
    const [first, second, third] = [coldStart(), coldStart(), coldStart()];
    const event = signedEvent(formOf(clickPayload({ verb: 'promote' })), { timestamp: seconds(Date.now()) });
    const racing = await Promise.all([first(event), second(event)]);
    expect(racing.filter((r) => r.body === '')).toHaveLength(1);
    expect(racing.filter((r) => (r.body ?? '').includes('already handled'))).toHaveLength(1);
    expect((await third(event)).body).toContain('already handled');
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    expect(await ledger.listIntents('shop', record.releaseId)).toHaveLength(1);
  });

  it('a click from another workspace is refused: nothing recorded, nothing woken, the refusal logged', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { ledger, record, hold, click, responses, logs } = await held();
    expect((await click('promote', { team: 'T0EVIL' })).statusCode).toBe(200);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([]);
    expect(await ledger.takeHoldTokens('shop', record.releaseId)).toEqual([hold]);
    expect(responses[0]?.message).toMatchObject({
      replace_original: false,
      response_type: 'ephemeral',
      text: expect.stringMatching(/^:no_entry: you may not promote `shop-2\.0\.0`: .*T0EVIL.* only T0001/),
    });
    expect(logs).toEqual([
      expect.objectContaining({
        outcome: 'unauthorized',
        reason: 'other-team',
        team: 'T0EVIL',
        user: 'U0ALICE',
        verb: 'promote',
      }),
    ]);
  });

  it('a user not allowed to abort is refused (told whom to ask) and audited; an allowed one aborts', async () => {
    sfn.on(SendTaskFailureCommand).resolves({});
    const { ledger, record, hold, click, responses, logs } = await held();
    await click('abort', { userId: 'U0BOB', username: 'bob' });
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([]);
    expect(responses[0]?.message).toMatchObject({
      response_type: 'ephemeral',
      text: ':no_entry: you may not abort `shop-2.0.0`: ask <@U0ALICE>. Nothing was recorded.',
    });
    expect(logs[0]).toEqual({
      verb: 'abort',
      service: 'shop',
      releaseId: 'shop-2.0.0',
      actor: 'slack:bob',
      outcome: 'unauthorized',
      reason: 'not-allowed',
      team: 'T0001',
      user: 'U0BOB',
      why: expect.stringContaining('slack.allow.abort'),
    });

    await click('abort');
    expect(sfn.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input.taskToken)).toEqual([hold.token]);
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([
      expect.objectContaining({ verb: 'abort', actor: 'slack:alice' }),
    ]);
    expect(logs[1]).toMatchObject({ outcome: 'recorded', verb: 'abort', actor: 'slack:alice' });
  });

  it('without slack.teamId in the config every click is refused, telling the admin what to set', async () => {
    configIs({ ...awsConfig, slack: undefined });
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { ledger, record, click, responses, logs } = await held();
    await click('promote');
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([]);
    expect(responses[0]?.message.text).toMatch(/you may not promote .*set slack\.teamId/);
    expect(logs).toEqual([expect.objectContaining({ outcome: 'unauthorized', reason: 'no-team' })]);
  });

  it('records nothing for a rollback when the release config is missing', async () => {
    vi.stubEnv('FLOTILLA_CONFIG_PARAM', '');
    const { ledger, record, click, responses, logs } = await held();
    await ledger.updateRelease('shop', record.releaseId, { status: 'SUCCEEDED' });
    await click('rollback');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([]);
    expect(responses[0]?.message.text).toMatch(/MisconfiguredFunction/);
    expect(JSON.stringify(logs)).toContain('FLOTILLA_CONFIG_PARAM');
  });
});
