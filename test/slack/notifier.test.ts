/**
 * SlackNotifier against a local HTTP server standing in for Slack's Web API and incoming webhooks
 * (test/slack/fake-slack.ts: 127.0.0.1 only, no network). Events are hand-built here; the
 * release-e2e test feeds it a real local release.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryMessageStore, type MessageStore } from '../../adapters/slack/message-store.ts';
import { SlackNotifier, slackNotifierFromEnv } from '../../adapters/slack/notifier.ts';
import { slackSettingsFromEnv, slackSettingsFromStateDir } from '../../adapters/slack/settings.ts';
import { redact } from '../../adapters/slack/transport.ts';
import { plainLine } from '../../core/event-line.ts';
import type { Stamped } from '../../ports/events.ts';
import { rolledBackRelease } from './events.ts';
import { captureWriter, FAKE_CHANNEL_ID, type FakeSlack, startFakeSlack, textOf } from './fake-slack.ts';

const TOKEN = 'xoxb-000000000042-000000000043-SeCrEtToKeNvAlUe';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fakeSlack(): Promise<FakeSlack> {
  const fake = await startFakeSlack();
  cleanups.push(fake.close);
  return fake;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-slack-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const topLevelPosts = (fake: FakeSlack) =>
  fake.requests.filter((r) => r.method === 'chat.postMessage' && r.body.thread_ts === undefined);
const replies = (fake: FakeSlack) =>
  fake.requests.filter((r) => r.method === 'chat.postMessage' && r.body.thread_ts !== undefined);
const updates = (fake: FakeSlack) => fake.requests.filter((r) => r.method === 'chat.update');

describe('SlackNotifier, bot token mode', () => {
  it('posts one message per release, then edits that message; notable detail goes in its thread', async () => {
    const fake = await fakeSlack();
    const log = captureWriter();
    const notifier = new SlackNotifier(
      { botToken: TOKEN, channel: '#releases', apiUrl: fake.apiUrl },
      { writer: log, minIntervalMs: 20 },
    );
    const events = rolledBackRelease();
    // As the local backend does: emit without waiting, then wait for the end.
    const emitted = events.map((e) => notifier.emit(e));
    await Promise.all(emitted);
    await notifier.flush();

    const posts = topLevelPosts(fake);
    expect(posts).toHaveLength(1);
    expect(posts[0]?.body.channel).toBe('#releases');
    expect(posts[0]?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(posts[0]?.contentType).toBe('application/json; charset=utf-8');
    const ts = '1700000000.000001';
    expect(updates(fake).length).toBeGreaterThan(0);
    // chat.update needs the channel id chat.postMessage answered with, not the name.
    for (const u of updates(fake)) expect(u.body).toMatchObject({ channel: FAKE_CHANNEL_ID, ts });
    const last = textOf(updates(fake).at(-1)?.body ?? {});
    expect(last).toContain('ROLLED_BACK');
    expect(last).toContain('Gate FAILED in wave 2 (europe-west)');
    expect(last).toContain('`eu-central-1` rolled back to 1.0.0');
    // Three notable events with detail: the failed gate, the rollback, the end.
    expect(replies(fake).map((r) => r.body.thread_ts)).toEqual([ts, ts, ts]);
    expect(textOf(replies(fake)[0]?.body ?? {})).toContain('eu-central-1: 3/3 probes of /health failed');
    expect(log.text()).toBe('');
  });

  it('never posts a second reply for an event delivered twice', async () => {
    const fake = await fakeSlack();
    const notifier = new SlackNotifier(
      { botToken: TOKEN, channel: 'C1', apiUrl: fake.apiUrl },
      { writer: captureWriter(), minIntervalMs: 0 },
    );
    for (const e of rolledBackRelease()) {
      await notifier.emit(e);
      await notifier.emit(e);
    }
    await notifier.flush();
    expect(topLevelPosts(fake)).toHaveLength(1);
    expect(replies(fake)).toHaveLength(3);
  });

  it('sends at most one request per interval per channel, coalesces edits (latest wins) and honours 429 Retry-After', async () => {
    const fake = await fakeSlack();
    let limited = -1;
    fake.respond((request, index) => {
      if (request.method === 'chat.update' && limited === -1) {
        limited = index;
        return { status: 429, headers: { 'retry-after': '1' }, body: '{"ok":false,"error":"ratelimited"}' };
      }
      return undefined;
    });
    const log = captureWriter();
    const minIntervalMs = 150;
    const notifier = new SlackNotifier(
      { botToken: TOKEN, channel: 'C1', apiUrl: fake.apiUrl },
      { writer: log, minIntervalMs },
    );
    const events = rolledBackRelease();
    const emitted = events.map((e) => notifier.emit(e));
    await Promise.all(emitted);
    await notifier.flush();

    expect(limited).toBeGreaterThan(0);
    const after = fake.requests[limited + 1];
    const limitedAt = fake.requests[limited]?.at ?? 0;
    // Nothing went to the channel during the Retry-After second.
    expect((after?.at ?? 0) - limitedAt).toBeGreaterThanOrEqual(950);
    // One request per interval, as Slack sees them arrive (the interval counts from each answer).
    for (let i = 1; i < fake.requests.length; i += 1) {
      const gap = (fake.requests[i]?.at ?? 0) - (fake.requests[i - 1]?.at ?? 0);
      expect(gap).toBeGreaterThanOrEqual(minIntervalMs - 2);
    }
    // 21 events, far fewer edits: the ones waiting were coalesced.
    expect(updates(fake).length).toBeLessThan(events.length / 2);
    expect(topLevelPosts(fake)).toHaveLength(1);
    const last = updates(fake).at(-1);
    expect(last?.body).toMatchObject({ ts: '1700000000.000001' });
    expect(textOf(last?.body ?? {})).toContain('ROLLED_BACK');
    expect(log.text()).toContain('rate-limited chat.update; retrying after 1 s');
  });

  it('logs an {ok:false} answer once, redacted, and emit still resolves; no retry can fix it so Slack is not called again', async () => {
    const fake = await fakeSlack();
    fake.respond(() => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ok: false, error: 'channel_not_found' }),
    }));
    const log = captureWriter();
    const notifier = new SlackNotifier(
      { botToken: TOKEN, channel: '#nope', apiUrl: fake.apiUrl },
      { writer: log, minIntervalMs: 0 },
    );
    for (const e of rolledBackRelease()) await expect(notifier.emit(e)).resolves.toBeUndefined();
    await notifier.flush();
    expect(log.lines).toEqual([
      'flotilla: slack: chat.postMessage failed: channel_not_found (no retry can fix this: Slack notifications are off until restarted)\n',
    ]);
    expect(fake.requests).toHaveLength(1);
  });

  it('tries again on the next event after a transient failure, with the whole view', async () => {
    const fake = await fakeSlack();
    fake.respond((_request, index) => (index === 0 ? { status: 500, body: 'oops' } : undefined));
    const log = captureWriter();
    const notifier = new SlackNotifier(
      { botToken: TOKEN, channel: 'C1', apiUrl: fake.apiUrl },
      { writer: log, minIntervalMs: 0 },
    );
    for (const e of rolledBackRelease()) await notifier.emit(e);
    await notifier.flush();
    expect(topLevelPosts(fake)).toHaveLength(2); // the failed one, then the one that stuck
    expect(log.text()).toContain('chat.postMessage failed: HTTP 500');
    expect(textOf(updates(fake).at(-1)?.body ?? {})).toContain('ROLLED_BACK');
  });

  it('keeps one message when two notifiers race to post it (two Lambda containers): the loser deletes its own', async () => {
    const fake = await fakeSlack();
    const store = new InMemoryMessageStore();
    const make = () =>
      new SlackNotifier(
        { botToken: TOKEN, channel: 'C1', apiUrl: fake.apiUrl },
        { writer: captureWriter(), minIntervalMs: 0, messages: store },
      );
    const [a, b] = [make(), make()];
    const events = rolledBackRelease().filter((e) => e.kind === 'gate' || e.kind === 'rollback-started');
    const [gateFailed, rollback] = [events.at(-2) as Stamped, events.at(-1) as Stamped];
    await Promise.all([a.emit(gateFailed), b.emit(rollback)]);
    await Promise.all([a.flush(), b.flush()]);

    expect(topLevelPosts(fake)).toHaveLength(2);
    const kept = await store.get({ service: 'shop', releaseId: 'shop-1.1.0' });
    const deleted = fake.requests.filter((r) => r.method === 'chat.delete');
    expect(deleted).toHaveLength(1);
    expect(deleted[0]?.body.ts).not.toBe(kept?.ts);
    for (const u of updates(fake)) expect(u.body.ts).toBe(kept?.ts);
    // The message left shows both events.
    const last = textOf(updates(fake).at(-1)?.body ?? {});
    expect(last).toContain('Gate FAILED');
    expect(last).toContain('Rolling back');
  });

  it('a message store that fails is logged, and the release is still told', async () => {
    const fake = await fakeSlack();
    const broken: MessageStore = {
      get: async () => {
        throw new Error('store down');
      },
      put: async () => {
        throw new Error('store down');
      },
    };
    const log = captureWriter();
    const notifier = new SlackNotifier(
      { botToken: TOKEN, channel: 'C1', apiUrl: fake.apiUrl },
      { writer: log, minIntervalMs: 0, messages: broken },
    );
    for (const e of rolledBackRelease()) await notifier.emit(e);
    await notifier.flush();
    expect(topLevelPosts(fake)).toHaveLength(1);
    expect(log.text()).toContain('could not read the release');
    expect(log.text()).toContain('could not record the release');
  });
});

describe('emit never rejects', () => {
  it('not when building the message throws, nor when the log writer throws', async () => {
    const fake = await fakeSlack();
    const notifier = new SlackNotifier(
      { botToken: TOKEN, channel: 'C1', apiUrl: fake.apiUrl },
      {
        writer: {
          write: () => {
            throw new Error('stdout closed');
          },
        },
        minIntervalMs: 0,
        links: () => {
          throw new Error('bad links');
        },
      },
    );
    for (const e of rolledBackRelease()) await expect(notifier.emit(e)).resolves.toBeUndefined();
    await notifier.flush();
    expect(fake.requests).toHaveLength(0);
  });
});

describe('SlackNotifier, incoming webhook mode', () => {
  it('posts each notable event once, even when the same event is emitted twice', async () => {
    const fake = await fakeSlack();
    const notifier = new SlackNotifier(
      { webhookUrl: `${fake.url}/services/T0000/B0000/abcdefghijkl` },
      { writer: captureWriter(), minIntervalMs: 0 },
    );
    const events = rolledBackRelease();
    // Twice in a row, and twice at the same time.
    for (const e of events) await notifier.emit(e);
    await Promise.all(events.flatMap((e) => [notifier.emit(e), notifier.emit(e)]));
    await notifier.flush();

    const posts = fake.requests.filter((r) => r.method === 'webhook');
    expect(posts.map((p) => p.body.text)).toEqual([
      'shop 1.1.0: wave 2 (europe-west) gate FAILED',
      'shop 1.1.0: ROLLING BACK 3 regions',
      'shop 1.1.0: ROLLED_BACK',
    ]);
    expect(posts.every((p) => p.authorization === undefined)).toBe(true);
    expect(textOf(posts[0]?.body ?? {})).toContain('eu-central-1: 3/3 probes of /health failed');
    expect(textOf(posts[2]?.body ?? {})).toContain('`us-east-1` rolled back to 1.0.0');
  });

  it('a wave blocked and a gate inconclusive are notable too; progress is not', async () => {
    const fake = await fakeSlack();
    const notifier = new SlackNotifier(
      { webhookUrl: `${fake.url}/services/x` },
      { writer: captureWriter(), minIntervalMs: 0 },
    );
    const base = { service: 'shop', releaseId: 'r', at: '2026-01-01T00:00:00.000Z' };
    await notifier.emit({ ...base, kind: 'wave-started', wave: 0, name: 'a', regions: ['x'] });
    await notifier.emit({ ...base, kind: 'wave-blocked', wave: 0, signals: ['x: sick'] });
    await notifier.emit({
      ...base,
      kind: 'gate',
      wave: 1,
      regions: ['x'],
      evaluation: { kind: 'Inconclusive', signals: ['x: silent'] },
    });
    await notifier.emit({ ...base, kind: 'gate', wave: 1, regions: ['x'], evaluation: { kind: 'Passed' } });
    await notifier.flush();
    expect(fake.requests.map((r) => r.body.text)).toEqual([
      'shop r: wave 1 (a) BLOCKED',
      'shop r: wave 2 gate INCONCLUSIVE',
    ]);
  });
});

describe('secrets', () => {
  it('no log line the notifier writes contains the bot token or the webhook URL, whatever goes wrong', async () => {
    const fake = await fakeSlack();
    const webhookSecret = 'T01ABCDEF/B02GHIJKL/zYxWvUtSrQpOnMlKjIhGfEdC';
    const webhookUrl = `${fake.url}/services/${webhookSecret}`;
    // Slack never echoes a token, but if anything did, it must still not reach the log.
    fake.respond((request) => {
      if (request.method === 'webhook') return { status: 404, body: `channel_not_found ${request.path}` };
      if (request.method === 'chat.postMessage') {
        return { status: 200, body: JSON.stringify({ ok: false, error: `invalid_arguments for ${TOKEN}` }) };
      }
      return { status: 500, body: TOKEN };
    });
    // A server that never answers (timeouts) and a port nobody listens on (connection refused).
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          silent.closeAllConnections();
          silent.close(() => resolve());
        }),
    );
    const silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedUrl = `http://127.0.0.1:${(closed.address() as { port: number }).port}`;
    await new Promise((resolve) => closed.close(resolve));

    const log = captureWriter();
    const options = { writer: log, minIntervalMs: 0, timeoutMs: 200 };
    const notifiers = [
      new SlackNotifier({ botToken: TOKEN, channel: 'C1', apiUrl: fake.apiUrl }, options),
      new SlackNotifier({ botToken: TOKEN, channel: 'C1', apiUrl: `${silentUrl}/api` }, options),
      new SlackNotifier({ botToken: TOKEN, channel: 'C1', apiUrl: `${closedUrl}/api` }, options),
      new SlackNotifier({ webhookUrl }, options),
      new SlackNotifier({ webhookUrl: `${silentUrl}/services/${webhookSecret}` }, options),
      new SlackNotifier({ webhookUrl: `${closedUrl}/services/${webhookSecret}` }, options),
    ];
    for (const notifier of notifiers) {
      for (const e of rolledBackRelease()) await notifier.emit(e);
      await notifier.flush();
    }
    const text = log.text();
    expect(log.lines.length).toBeGreaterThanOrEqual(6);
    expect(text).toContain('no answer within 200 ms');
    expect(text).toContain('ECONNREFUSED');
    expect(text).toContain('webhook failed: HTTP 404');
    for (const secret of [
      TOKEN,
      'SeCrEtToKeNvAlUe',
      webhookUrl,
      webhookSecret,
      'zYxWvUtSrQpOnMlKjIhGfEdC',
      'B02GHIJKL',
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('redact() takes out anything that looks like a token or a Slack webhook path', () => {
    expect(redact('token xoxb-123-456-abc and xoxp-9-9 here')).toBe('token [redacted] and [redacted] here');
    expect(redact('POST https://hooks.slack.com/services/T0/B0/secret failed')).toBe(
      'POST https://hooks.slack.com/[redacted] failed',
    );
  });

  it('settings errors never quote the secret', async () => {
    const dir = await tempDir();
    const path = join(dir, 'slack.json');
    await writeFile(path, `{"botToken": "${TOKEN}", "channel": "C1",,}`, { mode: 0o600 });
    const error = await slackSettingsFromStateDir(dir).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(`${path} is not valid JSON`);
    expect(String((error as Error).stack)).not.toContain(TOKEN);
  });
});

describe('settings', () => {
  it('reads <stateDir>/slack.json: a bot token and channel, or a webhook URL; none is null', async () => {
    const dir = await tempDir();
    expect(await slackSettingsFromStateDir(dir)).toBeNull();
    const path = join(dir, 'slack.json');
    await writeFile(path, JSON.stringify({ botToken: TOKEN, channel: 'C123' }), { mode: 0o600 });
    await chmod(path, 0o600);
    expect(await slackSettingsFromStateDir(dir)).toEqual({ botToken: TOKEN, channel: 'C123' });
    await writeFile(path, JSON.stringify({ webhookUrl: 'https://hooks.slack.com/services/T/B/x' }));
    expect(await slackSettingsFromStateDir(dir)).toEqual({ webhookUrl: 'https://hooks.slack.com/services/T/B/x' });
  });

  it('refuses slack.json readable by others, saying how to fix it', async () => {
    const dir = await tempDir();
    const path = join(dir, 'slack.json');
    await writeFile(path, JSON.stringify({ botToken: TOKEN, channel: 'C123' }));
    await chmod(path, 0o644);
    const error = (await slackSettingsFromStateDir(dir).catch((e: Error) => e)) as Error;
    expect(error.name).toBe('SlackSettingsRefused');
    expect(error.message).toBe(
      `${path} holds a Slack secret but is mode 0644, readable by others: run \`chmod 600 ${path}\` (it must be 0600)`,
    );
    expect(error.message).not.toContain(TOKEN);
  });

  it.each([
    [{ botToken: TOKEN }, 'botToken needs a channel'],
    [{ botToken: TOKEN, channel: 'C1', webhookUrl: 'https://hooks.slack.com/services/x' }, 'not both'],
    [{ webhookUrl: 'http://hooks.slack.com/services/x' }, 'must be an https URL'],
    [{ channel: 'C1' }, 'give botToken and channel, or webhookUrl'],
    [{ botToken: TOKEN, channel: 'C1', colour: 'red' }, 'unknown key(s) colour'],
    [{ botToken: 42, channel: 'C1' }, 'botToken must be a non-empty string'],
  ])('rejects %j with a clear error', async (content, message) => {
    const dir = await tempDir();
    await writeFile(join(dir, 'slack.json'), JSON.stringify(content), { mode: 0o600 });
    const error = (await slackSettingsFromStateDir(dir).catch((e: Error) => e)) as Error;
    expect(error.name).toBe('SlackSettingsInvalid');
    expect(error.message).toContain(message);
    expect(error.message).not.toContain(TOKEN);
  });

  it('the environment wins over slack.json, and without either the terminal gets one line per event', () => {
    const fromFile = { webhookUrl: 'https://hooks.slack.com/services/T/B/file' };
    expect(slackSettingsFromEnv({ FLOTILLA_SLACK_BOT_TOKEN: TOKEN, FLOTILLA_SLACK_CHANNEL: 'C9' })).toEqual({
      botToken: TOKEN,
      channel: 'C9',
    });
    expect(slackSettingsFromEnv({ FLOTILLA_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/env' })).toEqual({
      webhookUrl: 'https://hooks.slack.com/services/T/B/env',
    });
    expect(() => slackSettingsFromEnv({ FLOTILLA_SLACK_BOT_TOKEN: TOKEN })).toThrow(/FLOTILLA_SLACK_CHANNEL is not/);
    const writer = captureWriter();
    expect(
      slackNotifierFromEnv({ FLOTILLA_SLACK_BOT_TOKEN: TOKEN, FLOTILLA_SLACK_CHANNEL: 'C9' }, writer, fromFile).mode,
    ).toBe('bot');
    expect(slackNotifierFromEnv({}, writer, fromFile).mode).toBe('webhook');
    const terminal = slackNotifierFromEnv({}, writer);
    expect(terminal.mode).toBe('terminal');
    const events = rolledBackRelease();
    for (const e of events) terminal.emit(e);
    expect(writer.lines).toEqual(events.map((e) => `${plainLine(e)}\n`));
  });
});
