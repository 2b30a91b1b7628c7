/**
 * End to end: a real release on the embedded local backend (the real ASL, real region processes,
 * real probes, dynalite) with its events going to SlackNotifier in bot token mode, against a
 * local HTTP server standing in for Slack's Web API (127.0.0.1 only: no network). Slack's pace is
 * kept as on the real thing: one request a second.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SlackNotifier } from '../../adapters/slack/notifier.ts';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import { BROKEN_BUILD, e2eConfig, GOOD_BUILD, tempDir } from '../helpers/local.ts';
import { captureWriter, FAKE_CHANNEL_ID, type FakeSlack, startFakeSlack, textOf } from './fake-slack.ts';

const TOKEN = 'xoxb-111111111111-222222222222-e2eSecretTokenValue';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('a real local release told to Slack', () => {
  it('one message per release, edited in place; the rolled-back release ends showing the failing wave, region, signal and rollback', async () => {
    const fake: FakeSlack = await startFakeSlack();
    cleanups.push(fake.close);
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [
        { name: 'eu-central-1', currency: 'EUR' },
        { name: 'us-west-2', currency: 'USD' },
      ],
      [{ name: 'ap-southeast-2', currency: 'AUD' }],
    ]);
    const log = captureWriter();
    const notifier = new SlackNotifier(
      { botToken: TOKEN, channel: '#releases', apiUrl: fake.apiUrl },
      { writer: log, links: (view) => ({ executionUrl: `http://127.0.0.1/executions/${view.releaseId}` }) },
    );
    const backend: LocalBackend = await openLocalBackend({ stateDir: dir, config, events: notifier });
    cleanups.push(() => backend.close());

    const good = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });
    expect(good).toMatchObject({ status: 'SUCCEEDED' });
    const bad = await backend.release({ version: '1.1.0', artifact: BROKEN_BUILD });
    expect(bad.status).toBe('ROLLED_BACK');
    await notifier.flush();

    // Exactly one top-level message per release.
    const topLevel = fake.requests.filter((r) => r.method === 'chat.postMessage' && r.body.thread_ts === undefined);
    expect(topLevel.map((r) => r.body.text)).toEqual([
      expect.stringContaining('shop 1.0.0: RUNNING'),
      expect.stringContaining('shop 1.1.0: RUNNING'),
    ]);
    const [goodTs, badTs] = ['1700000000.000001', '1700000000.000002'];
    const answeredTs = fake.requests
      .filter((r) => r.method === 'chat.postMessage')
      .map((_, i) => `1700000000.${String(i + 1).padStart(6, '0')}`);
    expect(answeredTs).toContain(badTs);

    // Everything else edits those two messages, or replies in the bad one's thread.
    const updates = fake.requests.filter((r) => r.method === 'chat.update');
    for (const u of updates) expect(u.body.channel).toBe(FAKE_CHANNEL_ID);
    expect(new Set(updates.map((u) => u.body.ts))).toEqual(new Set([goodTs, badTs]));
    const badUpdates = updates.filter((u) => u.body.ts === badTs);
    expect(badUpdates.length).toBeGreaterThan(0);
    expect(fake.requests.every((r) => ['chat.postMessage', 'chat.update'].includes(r.method))).toBe(true);

    const finalGood = textOf(updates.filter((u) => u.body.ts === goodTs).at(-1)?.body ?? {});
    expect(finalGood).toContain('SUCCEEDED');

    const final = textOf(badUpdates.at(-1)?.body ?? {});
    expect(final).toContain('shop 1.1.0 — ROLLED_BACK');
    expect(final).toContain('Gate FAILED in wave 2 (wave-2)');
    expect(final).toContain('*Region:* `eu-central-1`');
    expect(final).toMatch(/• eu-central-1: \d+\/\d+ probes of \/health failed/);
    for (const region of ['us-east-1', 'eu-central-1', 'us-west-2']) {
      expect(final).toContain(`\`${region}\` rolled back to 1.0.0`);
    }
    expect(final).toContain('`ap-southeast-2` not deployed');
    expect(final).toContain(`<http://127.0.0.1/executions/${bad.releaseId}|Execution>`);

    // The failed gate, the rollback and the end, each once, in the bad release's thread.
    const replies = fake.requests.filter((r) => r.method === 'chat.postMessage' && r.body.thread_ts !== undefined);
    expect(replies.map((r) => r.body.thread_ts)).toEqual([badTs, badTs, badTs]);
    expect(replies.map((r) => r.body.text)).toEqual([
      'shop 1.1.0: wave 2 (wave-2) gate FAILED',
      'shop 1.1.0: ROLLING BACK 3 regions',
      'shop 1.1.0: ROLLED_BACK',
    ]);

    // Slack's pace: never two requests within a second in the channel.
    for (let i = 1; i < fake.requests.length; i += 1) {
      expect((fake.requests[i]?.at ?? 0) - (fake.requests[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(998);
    }
    expect(log.text()).toBe('');
  }, 120_000);
});
