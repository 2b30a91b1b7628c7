/**
 * The AWS side: DynamoMessageStore against a real dynalite (the ledger table, as createLedgerTable
 * makes it), and the notify-slack Lambda fed SNS records of the notable events, each invocation in a
 * fresh "container" (a new handler: nothing kept in memory), against a local HTTP server standing
 * in for Slack's Web API (127.0.0.1: no network). SSM has no local peer: it is mocked at the SDK
 * boundary (aws-sdk-client-mock), and the assertions are on what the handler asked it.
 */
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SNSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLedgerTable } from '../../adapters/dynamodb/ledger.ts';
import { DynamoMessageStore } from '../../adapters/slack/dynamo-message-store.ts';
import { foldEvent, type ReleaseView } from '../../adapters/slack/view.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { createNotifySlackFromEnv, executionLinks, parseStamped } from '../../functions/notify-slack.ts';
import type { Stamped } from '../../ports/events.ts';
import { notableOnly, rolledBackRelease } from './events.ts';
import { captureWriter, type FakeSlack, startFakeSlack, textOf } from './fake-slack.ts';

const TABLE = 'flotilla';
const TOKEN = 'xoxb-333333333333-444444444444-lambdaSecretToken';
const PARAM = '/flotilla/dev/slack-bot-token';

let dynamo: EmbeddedDynamo;
let store: DynamoMessageStore;
let releaseCounter = 0;
const freshRelease = () => {
  releaseCounter += 1;
  return `shop-1.1.0-${releaseCounter}`;
};

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo();
  await createLedgerTable(dynamo.client, TABLE);
  store = new DynamoMessageStore({ client: dynamo.doc, tableName: TABLE });
});
afterAll(async () => {
  await dynamo.close();
});

describe('DynamoMessageStore on the ledger table', () => {
  it('nothing stored is undefined; a put is read back, view and replies included', async () => {
    const releaseId = freshRelease();
    const key = { service: 'shop', releaseId };
    expect(await store.get(key)).toBeUndefined();
    const view = rolledBackRelease(undefined, releaseId).reduce<ReleaseView | undefined>(foldEvent, undefined);
    const message = { channel: 'C1', ts: '1.000001', view, notified: [`${releaseId}|rollback-started|`] };
    expect(await store.put(key, message)).toEqual(message);
    expect(await store.get(key)).toEqual(message);
    // Next to the release, under the service's partition.
    const { Item } = await dynamo.doc.send(
      new GetCommand({ TableName: TABLE, Key: { pk: 'SERVICE#shop', sk: `SLACK#${releaseId}` } }),
    );
    expect(Item).toMatchObject({ channel: 'C1', ts: '1.000001', service: 'shop', releaseId });
  });

  it('the first message wins: a put with another ts returns the one already there; the same ts replaces it', async () => {
    const key = { service: 'shop', releaseId: freshRelease() };
    await store.put(key, { channel: 'C1', ts: '1.000001', notified: [] });
    expect(await store.put(key, { channel: 'C1', ts: '2.000002', notified: [] })).toEqual({
      channel: 'C1',
      ts: '1.000001',
      notified: [],
    });
    await store.put(key, { channel: 'C1', ts: '1.000001', notified: ['a'] });
    expect(await store.get(key)).toEqual({ channel: 'C1', ts: '1.000001', notified: ['a'] });
  });

  it('keeps services apart', async () => {
    const releaseId = freshRelease();
    await store.put({ service: 'shop', releaseId }, { channel: 'C1', ts: '1.1' });
    expect(await store.get({ service: 'cart', releaseId })).toBeUndefined();
  });
});

function snsEvent(...events: Stamped[]): SNSEvent {
  return {
    Records: events.map((event, i) => ({
      EventSource: 'aws:sns',
      EventVersion: '1.0',
      EventSubscriptionArn: 'arn:aws:sns:us-east-1:123456789012:flotilla-dev-alerts:sub',
      Sns: {
        Type: 'Notification',
        MessageId: `m-${i}`,
        TopicArn: 'arn:aws:sns:us-east-1:123456789012:flotilla-dev-alerts',
        Subject: `${event.service} ${event.kind}`,
        Message: JSON.stringify(event),
        Timestamp: event.at,
        SignatureVersion: '1',
        Signature: 'x',
        SigningCertUrl: 'https://sns.example/cert.pem',
        UnsubscribeUrl: 'https://sns.example/unsubscribe',
        MessageAttributes: {},
      },
    })),
  };
}

describe('the notify-slack Lambda', () => {
  const ssm = mockClient(SSMClient);
  let fake: FakeSlack;

  beforeEach(async () => {
    ssm.reset();
    ssm.on(GetParameterCommand, { Name: PARAM, WithDecryption: true }).resolves({ Parameter: { Value: TOKEN } });
    fake = await startFakeSlack();
  });
  afterEach(async () => {
    await fake.close();
  });

  const env = () => ({
    FLOTILLA_SLACK_TOKEN_PARAM: PARAM,
    FLOTILLA_SLACK_CHANNEL: 'C0RELEASES',
    FLOTILLA_TABLE: TABLE,
    FLOTILLA_SLACK_API_URL: fake.apiUrl,
    FLOTILLA_RELEASE_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:flotilla-dev-release',
  });

  it('each notable event in a fresh container: one message, edited; the end shows the failure and the rollback', async () => {
    const releaseId = freshRelease();
    const notable = notableOnly(rolledBackRelease(undefined, releaseId));
    expect(notable.map((e) => e.kind)).toEqual(['gate', 'rollback-started', 'release-finished']);
    const log = captureWriter();
    // The gate's record is delivered twice (SNS is at-least-once), to two different containers.
    for (const event of [notable[0], ...notable] as Stamped[]) {
      const handler = createNotifySlackFromEnv(env(), { ssm: new SSMClient({}), messages: store, log });
      expect(await handler(snsEvent(event))).toEqual({ delivered: 1, skipped: 0 });
    }

    const topLevel = fake.requests.filter((r) => r.method === 'chat.postMessage' && r.body.thread_ts === undefined);
    expect(topLevel).toHaveLength(1);
    expect(topLevel[0]?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(topLevel[0]?.body.channel).toBe('C0RELEASES');
    const ts = '1700000000.000001';
    const updates = fake.requests.filter((r) => r.method === 'chat.update');
    expect(updates.length).toBeGreaterThanOrEqual(3);
    for (const u of updates) expect(u.body.ts).toBe(ts);
    const final = textOf(updates.at(-1)?.body ?? {});
    expect(final).toContain('shop 1.1.0 — ROLLED_BACK');
    expect(final).toContain('Gate FAILED in wave 2');
    expect(final).toContain('eu-central-1: 3/3 probes of /health failed');
    expect(final).toContain('`us-east-1` rolled back to 1.0.0');
    expect(final).toContain(
      `<https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:123456789012:execution:flotilla-dev-release:${releaseId}|Execution>`,
    );
    // One reply per notable event, the redelivered one included.
    const replies = fake.requests.filter((r) => r.body.thread_ts !== undefined);
    expect(replies.map((r) => r.body.thread_ts)).toEqual([ts, ts, ts]);
    expect(log.text()).toBe('');
    expect(JSON.stringify(fake.requests.map((r) => r.body))).not.toContain(TOKEN);
  });

  it('reads the token from SSM once per container', async () => {
    const handler = createNotifySlackFromEnv(env(), { ssm: new SSMClient({}), messages: store, log: captureWriter() });
    const [gate, rollback] = notableOnly(rolledBackRelease(undefined, freshRelease())) as Stamped[];
    await handler(snsEvent(gate as Stamped));
    await handler(snsEvent(rollback as Stamped));
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
    expect(ssm.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({ Name: PARAM, WithDecryption: true });
  });

  it('a failed SSM read fails the invocation and is retried by the next one', async () => {
    ssm.reset();
    ssm
      .on(GetParameterCommand)
      .rejectsOnce(new Error('throttled'))
      .resolves({ Parameter: { Value: TOKEN } });
    const handler = createNotifySlackFromEnv(env(), { ssm: new SSMClient({}), messages: store, log: captureWriter() });
    const [gate] = notableOnly(rolledBackRelease(undefined, freshRelease())) as Stamped[];
    await expect(handler(snsEvent(gate as Stamped))).rejects.toThrow('throttled');
    await expect(handler(snsEvent(gate as Stamped))).resolves.toEqual({ delivered: 1, skipped: 0 });
  });

  it('a missing setting is a clear error; a record that is not an event is skipped and logged', async () => {
    const { FLOTILLA_SLACK_CHANNEL: _, ...partial } = env();
    await expect(
      createNotifySlackFromEnv(partial, { ssm: new SSMClient({}), messages: store })(snsEvent()),
    ).rejects.toThrow('environment variable FLOTILLA_SLACK_CHANNEL is not set');

    const log = captureWriter();
    const handler = createNotifySlackFromEnv(env(), { ssm: new SSMClient({}), messages: store, log });
    const bad = snsEvent(...notableOnly(rolledBackRelease(undefined, freshRelease())).slice(0, 1));
    const record = bad.Records[0];
    if (record) record.Sns.Message = 'not json';
    expect(await handler(bad)).toEqual({ delivered: 0, skipped: 1 });
    expect(log.text()).toContain('skipped SNS message m-0: not a release event');
  });

  it('parseStamped accepts a stamped event and nothing else', () => {
    const [event] = rolledBackRelease();
    expect(parseStamped(JSON.stringify(event))).toEqual(event);
    expect(parseStamped('{"kind":"gate"}')).toBeNull();
    expect(parseStamped('[]')).toBeNull();
    expect(parseStamped(undefined)).toBeNull();
  });

  it('links to the execution only when the state machine is known', () => {
    const view = { releaseId: 'shop-1' } as ReleaseView;
    expect(executionLinks(undefined)(view)).toEqual({});
    expect(executionLinks('arn:aws:states:us-east-1:1:stateMachine:m')(view).executionUrl).toBe(
      'https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:1:execution:m:shop-1',
    );
  });
});
