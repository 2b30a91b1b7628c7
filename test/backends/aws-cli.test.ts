/**
 * `flotilla --backend aws`: Step Functions is mocked at the SDK boundary (no AWS account here);
 * the ledger it reads is the real DynamoDB code on a real dynalite.
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { AwsCliBackend, diffRecords } from '../../backends/aws/cli.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import type { Stamped } from '../../ports/events.ts';
import type { ReleaseRecord } from '../../ports/ledger.ts';
import { configWith, recordWith } from '../helpers/fixtures.ts';

const sfn = mockClient(SFNClient);
const settings = {
  region: 'eu-west-1',
  stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:flotilla-prod-release',
  table: 'flotilla-prod-ledger',
};
let dynamo: EmbeddedDynamo;
let n = 0;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(() => sfn.reset());

async function backend(events: Stamped[] = [], sleep?: () => Promise<void>) {
  n += 1;
  await createLedgerTable(dynamo.client, `aws-cli-${n}`);
  const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: `aws-cli-${n}` });
  const aws = new AwsCliBackend({
    config: configWith([['us-east-1'], ['eu-west-1']]),
    settings,
    sfn: new SFNClient({ region: 'eu-west-1' }),
    ledger,
    events: { emit: (e) => void events.push(e) },
    pollMs: 0,
    ...(sleep ? { sleep } : {}),
  });
  return { aws, ledger };
}

describe('starting a release on AWS', () => {
  it('starts an execution named after service and version, with the same input every time (idempotent)', async () => {
    sfn.on(StartExecutionCommand).resolves({
      executionArn: `${settings.stateMachineArn.replace(':stateMachine:', ':execution:')}:shop-1.1.0`,
      startDate: new Date(),
    });
    const { aws } = await backend();
    const first = await aws.start({ version: '1.1.0', artifact: 's3://builds/shop/1.1.0.zip' });
    const again = await aws.start({ version: '1.1.0', artifact: 's3://builds/shop/1.1.0.zip' });
    expect(first.releaseId).toBe('shop-1.1.0');
    expect(again.executionArn).toBe(first.executionArn);
    const calls = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.name).toBe('shop-1.1.0');
    expect(calls[0]?.stateMachineArn).toBe(settings.stateMachineArn);
    expect(calls[1]?.input).toBe(calls[0]?.input);
    expect(JSON.parse(calls[0]?.input ?? '{}')).toMatchObject({
      releaseId: 'shop-1.1.0',
      version: '1.1.0',
      artifact: 's3://builds/shop/1.1.0.zip',
    });
    expect(first.consoleUrl).toContain('eu-west-1.console.aws.amazon.com/states');
  });

  it('says how to release the same version again when the name is taken', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    const { aws } = await backend();
    await expect(aws.start({ version: '1.1.0', artifact: 's3://b/k.zip' })).rejects.toMatchObject({
      name: 'ReleaseExists',
      message: expect.stringContaining('--attempt 2'),
    });
  });

  it('names later attempts apart', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    const { aws } = await backend();
    expect((await aws.start({ version: '1.1.0', artifact: 's3://b/k.zip', attempt: 2 })).releaseId).toBe(
      'shop-1.1.0-2',
    );
  });
});

describe('following a release on AWS', () => {
  it('reports progress from the ledger until the release ends, then its outcome', async () => {
    const events: Stamped[] = [];
    let step = 0;
    const record: ReleaseRecord = recordWith([
      { region: 'us-east-1', wave: 0, phase: 'deploying', before: '1.0.0' },
      { region: 'eu-west-1', wave: 1, phase: 'pending', before: '1.0.0' },
    ]);
    const { aws, ledger } = await backend(events, async () => {
      step += 1;
      if (step === 1)
        await ledger.putReleaseRegion('shop', record.releaseId, {
          ...(record.regions['us-east-1'] as ReleaseRecord['regions'][string]),
          phase: 'deployed',
        });
      if (step === 2)
        await ledger.updateRelease('shop', record.releaseId, { status: 'ROLLED_BACK', reason: 'gate failed', wave: 1 });
    });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    await ledger.createRelease(record);
    const outcome = await aws.follow(record.releaseId);
    expect(outcome).toMatchObject({ status: 'ROLLED_BACK', reason: 'gate failed' });
    const seen = events.map((e) => (e.kind === 'region' ? `${e.region}:${e.state}` : e.kind));
    expect(seen).toEqual([
      'release-started',
      'wave-started',
      'us-east-1:deploying',
      'us-east-1:deployed',
      'wave-started',
      'release-finished',
    ]);
    // The view of the release is the one the CLI shows locally: it ends with the outcome.
    expect(events.at(-1)).toMatchObject({ kind: 'release-finished', outcome: { status: 'ROLLED_BACK' } });
  });

  it('ends FAILED with the execution’s error when the execution ends without the ledger saying so', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'FAILED', error: 'ReleaseRejected', cause: 'shop is locked' } as never);
    const { aws } = await backend();
    const outcome = await aws.follow('shop-9.9.9');
    expect(outcome.status).toBe('FAILED');
    expect(outcome.reason).toContain('ReleaseRejected: shop is locked');
  });
});

describe('diffRecords', () => {
  it('emits nothing when nothing changed', () => {
    const record = recordWith([{ region: 'a', wave: 0, phase: 'deployed', before: null }]);
    expect(diffRecords(record, record)).toEqual([]);
  });

  it('names the waves as the config does, leaves skipped regions out of their wave, and says why it is held', () => {
    const before = recordWith([
      { region: 'us-east-1', wave: 0, phase: 'deployed', before: null },
      { region: 'eu-west-1', wave: 1, phase: 'pending', before: null },
      { region: 'eu-central-1', wave: 1, phase: 'pending', before: null },
    ]);
    const waves = [
      { name: 'canary', regions: ['us-east-1'] },
      { name: 'europe', regions: ['eu-west-1', 'eu-central-1'] },
    ];
    expect(diffRecords(undefined, before, waves)[0]).toEqual({
      kind: 'release-started',
      version: before.version,
      waves,
    });
    const held: ReleaseRecord = {
      ...before,
      hold: {
        wave: 1,
        since: before.startedAt,
        reasons: [{ kind: 'paused', text: 'paused by ann: lunch', actor: 'ann' }],
      },
    };
    expect(diffRecords(before, held, waves)).toEqual([
      { kind: 'wave-held', wave: 1, reasons: ['paused by ann: lunch'] },
    ]);
    expect(diffRecords(held, held, waves)).toEqual([]);
    const skipped = structuredClone(held);
    skipped.hold = null;
    skipped.wave = 1;
    (skipped.regions['eu-central-1'] as ReleaseRecord['regions'][string]).phase = 'skipped';
    expect(diffRecords(held, skipped, waves)).toContainEqual({
      kind: 'wave-started',
      wave: 1,
      name: 'europe',
      regions: ['eu-west-1'],
    });
  });
});
