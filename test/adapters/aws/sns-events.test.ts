/**
 * SnsEventSink with SNS mocked at the SDK boundary (aws-sdk-client-mock): there is no real SNS to
 * publish to from a test, so the assertions are on the exact Publish requests.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_SUBJECT_CHARS, SnsEventSink } from '../../../adapters/aws/sns-events.ts';
import type { ReleaseEvent, Stamped } from '../../../ports/events.ts';

const sns = mockClient(SNSClient);
const topicArn = 'arn:aws:sns:eu-west-1:123456789012:flotilla';

const stamp = (event: ReleaseEvent, service = 'shop'): Stamped => ({
  ...event,
  service,
  releaseId: 'shop-1.1.0-r1',
  at: '2026-03-01T12:00:00.000Z',
});

const finished = (status: 'SUCCEEDED' | 'ROLLED_BACK' | 'ROLLBACK_FAILED' | 'BLOCKED' | 'FAILED'): ReleaseEvent => ({
  kind: 'release-finished',
  outcome: {
    releaseId: 'shop-1.1.0-r1',
    service: 'shop',
    version: '1.1.0',
    status,
    reason: 'wave 2 gate failed',
    regions: [{ region: 'eu-west', version: '1.0.0', phase: 'rolled-back' }],
  },
});

let sink: SnsEventSink;
let failures: unknown[];

beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  failures = [];
  sink = new SnsEventSink({
    client: new SNSClient({ region: 'eu-west-1' }),
    topicArn,
    onError: (e) => failures.push(e),
  });
});
afterEach(() => sns.reset());

const published = () => sns.commandCalls(PublishCommand).map((c) => c.args[0].input);

describe('SnsEventSink', () => {
  it('publishes a finished release with kind, service, releaseId and status attributes', async () => {
    const event = stamp(finished('ROLLED_BACK'));
    await sink.emit(event);
    expect(published()).toEqual([
      {
        TopicArn: topicArn,
        Subject: 'shop 1.1.0: ROLLED_BACK',
        Message: JSON.stringify(event),
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'release-finished' },
          service: { DataType: 'String', StringValue: 'shop' },
          releaseId: { DataType: 'String', StringValue: 'shop-1.1.0-r1' },
          status: { DataType: 'String', StringValue: 'ROLLED_BACK' },
        },
      },
    ]);
    expect(JSON.parse(published()[0]?.Message ?? '')).toEqual(event);
  });

  it('publishes failed and inconclusive gates, blocked waves and rollbacks', async () => {
    await sink.emit(
      stamp({ kind: 'gate', wave: 1, regions: ['eu-west'], evaluation: { kind: 'Failed', signals: ['eu-west: 5xx'] } }),
    );
    await sink.emit(
      stamp({
        kind: 'gate',
        wave: 0,
        regions: ['us-east'],
        evaluation: { kind: 'Inconclusive', signals: ['few samples'] },
      }),
    );
    await sink.emit(stamp({ kind: 'wave-blocked', wave: 0, signals: ['us-east unhealthy'] }));
    await sink.emit(stamp({ kind: 'rollback-started', regions: ['us-east', 'eu-west'], reason: 'gate failed' }));
    expect(
      published().map((p) => [p.Subject, p.MessageAttributes?.kind?.StringValue, p.MessageAttributes?.status]),
    ).toEqual([
      ['shop shop-1.1.0-r1: wave 2 gate FAILED', 'gate', undefined],
      ['shop shop-1.1.0-r1: wave 1 gate INCONCLUSIVE', 'gate', undefined],
      ['shop shop-1.1.0-r1: wave 1 BLOCKED', 'wave-blocked', undefined],
      ['shop shop-1.1.0-r1: ROLLING BACK 2 regions', 'rollback-started', undefined],
    ]);
  });

  it('does not publish progress: release and wave starts, region states, baking or passed gates', async () => {
    const quiet: ReleaseEvent[] = [
      { kind: 'release-started', version: '1.1.0', waves: [{ name: 'canary', regions: ['us-east'] }] },
      { kind: 'wave-started', wave: 0, name: 'canary', regions: ['us-east'] },
      { kind: 'region', wave: 0, region: 'us-east', state: 'deploying', version: '1.1.0' },
      { kind: 'region', wave: 0, region: 'us-east', state: 'failed', version: '1.0.0', message: 'boom' },
      { kind: 'gate', wave: 0, regions: ['us-east'], evaluation: { kind: 'Baking', remainingMs: 5000 } },
      { kind: 'gate', wave: 0, regions: ['us-east'], evaluation: { kind: 'Passed' } },
    ];
    for (const event of quiet) await sink.emit(stamp(event));
    expect(published()).toEqual([]);
  });

  it('keeps the subject under SNS’s 100-character limit, on one line', async () => {
    await sink.emit(stamp(finished('ROLLBACK_FAILED'), `${'s'.repeat(150)}\nx`));
    await sink.emit(stamp({ kind: 'wave-blocked', wave: 0, signals: [] }, `shop\r\nteam`));
    for (const { Subject } of published()) {
      expect(Subject?.length).toBeLessThanOrEqual(MAX_SUBJECT_CHARS);
      expect(MAX_SUBJECT_CHARS).toBeLessThan(100);
      expect(Subject).not.toMatch(/[\r\n]/);
    }
  });

  it('never fails the release: a failed Publish is reported and swallowed', async () => {
    sns.on(PublishCommand).rejects(Object.assign(new Error('topic gone'), { name: 'NotFoundException' }));
    await expect(sink.emit(stamp(finished('SUCCEEDED')))).resolves.toBeUndefined();
    expect(failures).toHaveLength(1);
    expect((failures[0] as Error).name).toBe('NotFoundException');
  });
});
