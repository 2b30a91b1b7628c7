/**
 * The AWS backend's adapters driven by the real ASL on the local engine. No AWS account can be
 * reached here, so CodeDeploy, CloudWatch and SNS are mocked at the SDK boundary
 * (aws-sdk-client-mock): CodeDeploy by a stateful fake per region whose deployments move through
 * statuses over successive polls. The ledger is real DynamoDB code against a real dynalite.
 */
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsClients } from '../../adapters/aws/clients.ts';
import { CloudWatchProber } from '../../adapters/aws/cloudwatch-prober.ts';
import { CodeDeployDeployer } from '../../adapters/aws/codedeploy-deployer.ts';
import { SnsEventSink } from '../../adapters/aws/sns-events.ts';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { LocalEngine, loadDefinition, localArn } from '../../backends/local/engine.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import type { ReleaseOutcome } from '../../core/types.ts';
import type { Deps } from '../../functions/deps.ts';
import { functionFactories } from '../../functions/index.ts';
import type { Ledger } from '../../ports/ledger.ts';
import { createFakeCodeDeploy, type FakeCodeDeploy, type FakeGroupKey } from '../helpers/fake-codedeploy.ts';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:flotilla-alerts';
const codedeploy = mockClient(CodeDeployClient);
const cloudwatch = mockClient(CloudWatchClient);
const sns = mockClient(SNSClient);

const regions = [
  { name: 'us-east-1', wave: 0 },
  { name: 'eu-west-1', wave: 1 },
  { name: 'ap-southeast-2', wave: 1 },
];
const group = (region: string): FakeGroupKey => ({
  awsRegion: region,
  application: 'shop',
  deploymentGroup: `shop-${region}`,
});
const v1 = {
  revisionType: 'S3' as const,
  s3Location: { bucket: 'builds', key: 'shop/1.0.0.zip', bundleType: 'zip' as const },
};

function config(): FlotillaConfig {
  return {
    service: 'shop',
    regions: regions.map((r) => ({
      name: r.name,
      target: {
        kind: 'codedeploy',
        awsRegion: r.name,
        application: 'shop',
        deploymentGroup: `shop-${r.name}`,
        platform: 'Server',
        alarms: { names: [`shop-${r.name}-errors`] },
      },
    })),
    waves: [
      { name: 'canary', regions: ['us-east-1'], bakeSeconds: 1, approval: false },
      { name: 'rest', regions: ['eu-west-1', 'ap-southeast-2'], bakeSeconds: 1, approval: false },
    ],
    gate: {
      healthPath: '/health',
      probes: 1,
      intervalSeconds: 1,
      maxErrorRate: 0,
      minSamples: 1,
      probeTimeoutMs: 1000,
      probeSpacingMs: 0,
      bakeSeconds: 1,
      onInconclusive: 'rollback',
    },
    deploy: { readinessTimeoutSeconds: 60, pollSeconds: 1, maxPollSeconds: 2 },
    policy: { allowMultiRegionCanary: false },
  };
}

/** Alarm states by name; `trip` turns one to ALARM once it has been read `after` times. */
let alarmReads: Map<string, number>;
let trip: { alarm: string; after: number } | undefined;

let dynamo: EmbeddedDynamo;
let ledger: Ledger;
let fake: FakeCodeDeploy;
let tableNumber = 0;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
});
afterAll(async () => {
  await dynamo.close();
});

function useFake(options: Parameters<typeof createFakeCodeDeploy>[0] = {}) {
  fake = createFakeCodeDeploy({ pollsToComplete: 2, ...options });
  fake.install(codedeploy);
  for (const r of regions)
    fake.seed(group(r.name), { revision: v1, description: 'flotilla shop 1.0.0 shop-1.0.0 deploy' });
}

beforeEach(async () => {
  codedeploy.reset();
  cloudwatch.reset();
  sns.reset();
  alarmReads = new Map();
  trip = undefined;
  cloudwatch.on(DescribeAlarmsCommand).callsFake(async (input: { AlarmNames?: string[] }) => ({
    MetricAlarms: (input.AlarmNames ?? []).map((name) => {
      const reads = (alarmReads.get(name) ?? 0) + 1;
      alarmReads.set(name, reads);
      const firing = trip?.alarm === name && reads > trip.after;
      return {
        AlarmName: name,
        StateValue: firing ? 'ALARM' : 'OK',
        StateReason: firing ? 'Threshold Crossed: 5xx rate 12% > 1%' : 'ok',
      };
    }),
  }));
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  tableNumber += 1;
  await createLedgerTable(dynamo.client, `ledger-${tableNumber}`);
  ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: `ledger-${tableNumber}` });
});
afterEach(() => {
  codedeploy.reset();
});

async function release(version: string, artifact: string): Promise<ReleaseOutcome> {
  const clients = new AwsClients();
  let finished: ReleaseOutcome | undefined;
  const sink = new SnsEventSink({ client: new SNSClient({ region: 'us-east-1' }), topicArn: TOPIC });
  const deps: Deps = {
    ledger,
    deployer: new CodeDeployDeployer({ clients, sleep: async () => {} }),
    prober: new CloudWatchProber({ clients }),
    events: {
      async emit(event) {
        if (event.kind === 'release-finished') finished = event.outcome;
        await sink.emit(event);
      },
    },
    now: Date.now,
    regionStateMachineArn: localArn('region'),
  };
  const functions = Object.fromEntries(Object.entries(functionFactories).map(([n, make]) => [n, make(deps)]));
  // Waits shortened: the fake moves on per poll, not per second.
  const engine = new LocalEngine({ functions, waitMs: 20, retryIntervalMs: 0 });
  engine.register('region', loadDefinition('region'));
  const arn = engine.register('release', loadDefinition('release'));
  const input = { releaseId: `shop-${version}`, version, artifact, config: config(), owner: 'test' };
  await engine.run(arn, input as never).catch(() => {});
  if (!finished) throw new Error('release ended without an outcome');
  return finished;
}

const deploymentsOf = (purpose: string) => fake.deployments.filter((d) => d.description?.endsWith(` ${purpose}`));

describe('the release state machine with the AWS adapters', () => {
  it('ships 3 regions in 2 waves through CodeDeploy and records what runs where', async () => {
    useFake();
    const outcome = await release('1.1.0', 's3://builds-{awsRegion}/shop/1.1.0.zip');
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    const deploys = deploymentsOf('deploy').filter((d) => d.origin === 'create');
    expect(deploys.map((d) => [d.awsRegion, d.deploymentGroup, d.status]).sort()).toEqual([
      ['ap-southeast-2', 'shop-ap-southeast-2', 'Succeeded'],
      ['eu-west-1', 'shop-eu-west-1', 'Succeeded'],
      ['us-east-1', 'shop-us-east-1', 'Succeeded'],
    ]);
    for (const d of deploys) expect(d.revision.s3Location?.key).toBe('shop/1.1.0.zip');
    // The canary was deployed and baked before wave 2 started.
    const canary = deploys.find((d) => d.awsRegion === 'us-east-1');
    const later = deploys.filter((d) => d.awsRegion !== 'us-east-1');
    for (const d of later)
      expect(d.createTime.getTime()).toBeGreaterThanOrEqual(canary?.completeTime?.getTime() ?? Infinity);
    const where = await ledger.listRegions('shop');
    expect(where.map((s) => s.current?.version)).toEqual(['1.1.0', '1.1.0', '1.1.0']);
  });

  it('rolls back wave 1 and wave 2 regions, each by a new deployment of its own last successful revision, when an alarm fires in wave 2’s bake', async () => {
    useFake();
    // The same group in each region ran 1.0.0; ap-southeast-2's ran an older bundle.
    const older = {
      revisionType: 'S3' as const,
      s3Location: { bucket: 'builds', key: 'shop/0.9.0.zip', bundleType: 'zip' as const },
    };
    fake.seed(group('ap-southeast-2'), { revision: older, description: 'flotilla shop 0.9.0 shop-0.9.0 deploy' });
    trip = { alarm: 'shop-eu-west-1-errors', after: 1 };

    const outcome = await release('1.1.0', 's3://builds-{awsRegion}/shop/1.1.0.zip');
    expect(outcome.status, outcome.reason).toBe('ROLLED_BACK');
    expect(outcome.reason).toContain('alarm shop-eu-west-1-errors is ALARM');
    const rollbacks = deploymentsOf('rollback');
    expect(rollbacks.map((d) => [d.awsRegion, d.revision.s3Location?.key, d.status]).sort()).toEqual([
      ['ap-southeast-2', 'shop/0.9.0.zip', 'Succeeded'],
      ['eu-west-1', 'shop/1.0.0.zip', 'Succeeded'],
      ['us-east-1', 'shop/1.0.0.zip', 'Succeeded'],
    ]);
    // Followed to its end: every rollback deployment was polled until it succeeded.
    for (const d of rollbacks) expect(d.polls).toBeGreaterThanOrEqual(2);
    const versions = Object.fromEntries((await ledger.listRegions('shop')).map((s) => [s.region, s.current?.version]));
    expect(versions).toEqual({ 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0', 'ap-southeast-2': '0.9.0' });
  });

  it('retries throttled CreateDeployment calls and then succeeds', async () => {
    useFake({ throttle: { CreateDeployment: 2 } });
    const outcome = await release('1.1.0', 's3://builds-{awsRegion}/shop/1.1.0.zip');
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    expect(fake.calls.CreateDeployment).toBe(5);
    expect(deploymentsOf('deploy').filter((d) => d.origin === 'create')).toHaveLength(3);
  });

  it('ends ROLLBACK_FAILED naming the region whose rollback deployment fails, and alerts on SNS', async () => {
    useFake({
      failWhen: (g, revision) =>
        g.deploymentGroup === 'shop-us-east-1' && revision.s3Location?.key === 'shop/1.0.0.zip',
    });
    trip = { alarm: 'shop-ap-southeast-2-errors', after: 1 };
    const outcome = await release('1.1.0', 's3://builds-{awsRegion}/shop/1.1.0.zip');
    expect(outcome.status).toBe('ROLLBACK_FAILED');
    expect(outcome.reason).toMatch(/rollback failed in us-east-1/);
    expect(outcome.regions.find((r) => r.region === 'us-east-1')?.phase).toBe('rollback-failed');
    expect(outcome.regions.find((r) => r.region === 'eu-west-1')?.phase).toBe('rolled-back');

    const published = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    const final = published.find((p) => p.MessageAttributes?.kind?.StringValue === 'release-finished');
    expect(final?.TopicArn).toBe(TOPIC);
    expect(final?.Subject).toContain('ROLLBACK_FAILED');
    expect(final?.Message).toContain('us-east-1');
  });
});
