/**
 * The new-host gate on AWS, through the Lambda handlers as deployed: the real `handler` exports of
 * StartBake, CheckGate and FinishRelease (their ports built from the environment, as on Lambda)
 * inside the real release ASL on the local engine. No AWS account is reachable here, so ECS,
 * CodeDeploy (a stateful fake), CloudWatch, Lambda and SNS are mocked at the SDK boundary, and
 * Auto Scaling and EC2 (signed Query requests, no SDK client) are a stateful local Query server
 * (test/helpers/fake-auto-scaling.ts) the handlers reach through AWS_ENDPOINT_URL_AUTO_SCALING and
 * AWS_ENDPOINT_URL_EC2; the ledger is the real DynamoDB code on a real dynalite (the handlers
 * reach it through AWS_ENDPOINT_URL_DYNAMODB); the task's and the instance's health URLs and the
 * regions' are real HTTP servers on 127.0.0.1, probed by the real CloudWatchProber.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  type DescribeTasksCommandInput,
  ECSClient,
  ListTasksCommand,
  type ListTasksCommandInput,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
  type StopTaskCommandInput,
  type Task,
} from '@aws-sdk/client-ecs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NO_ASG_WHY } from '../../adapters/aws/asg-new-host.ts';
import { AwsClients } from '../../adapters/aws/clients.ts';
import { CloudWatchProber } from '../../adapters/aws/cloudwatch-prober.ts';
import { CodeDeployDeployer } from '../../adapters/aws/codedeploy-deployer.ts';
import { SnsEventSink } from '../../adapters/aws/sns-events.ts';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { LocalEngine, loadDefinition, localArn } from '../../backends/local/engine.ts';
import type { CodeDeployTarget, FlotillaConfig } from '../../config/types.ts';
import type { Stamped } from '../../core/events.ts';
import type { ReleaseOutcome } from '../../core/types.ts';
import { handler as checkGate } from '../../functions/check-gate.ts';
import type { Deps } from '../../functions/deps.ts';
import { handler as finishRelease } from '../../functions/finish-release.ts';
import { functionFactories } from '../../functions/index.ts';
import { handler as startBake } from '../../functions/start-bake.ts';
import { type FakeAutoScaling, startFakeAutoScaling } from '../helpers/fake-auto-scaling.ts';
import { createFakeCodeDeploy, type FakeCodeDeploy } from '../helpers/fake-codedeploy.ts';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:flotilla-alerts';
const TABLE = 'flotilla-new-host';
const codedeploy = mockClient(CodeDeployClient);
const cloudwatch = mockClient(CloudWatchClient);
const ecs = mockClient(ECSClient);
const sns = mockClient(SNSClient);
const sfn = mockClient(SFNClient);

const REGIONS = ['us-east-1', 'eu-west-1'];

let dynamo: EmbeddedDynamo;
let ledger: DynamoDbLedger;
let fake: FakeCodeDeploy;
let autoScaling: FakeAutoScaling;
/** The regions' own health URL (behind their load balancer) and the one-off task's. */
let regionServer: Server;
let taskServer: Server;
let taskHits = 0;
const env: Record<string, string | undefined> = {};

const listen = async (server: Server) => {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return (server.address() as AddressInfo).port;
};
let regionPort: number;
let taskPort: number;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
  autoScaling = await startFakeAutoScaling();
  await createLedgerTable(dynamo.client, TABLE);
  ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: TABLE });
  // What serverless.yml and Lambda give the handlers, the ledger's endpoint pointed at dynalite.
  const vars = {
    FLOTILLA_TABLE: TABLE,
    FLOTILLA_TOPIC_ARN: TOPIC,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_AUTO_SCALING: autoScaling.url,
    AWS_ENDPOINT_URL_EC2: autoScaling.url,
  };
  for (const [key, value] of Object.entries(vars)) {
    env[key] = process.env[key];
    process.env[key] = value;
  }
  // Each region answers with the version its group last deployed successfully (/<service>/<region>/health).
  regionServer = createServer((req, res) => {
    const [, service, region] = (req.url ?? '').split('/');
    const last = fake.lastSuccessful({
      awsRegion: region ?? '',
      application: service ?? '',
      deploymentGroup: `${service}-${region}`,
    });
    res.end(JSON.stringify({ version: last?.description?.split(' ')[2] ?? 'none' }));
  });
  taskServer = createServer((_, res) => {
    taskHits += 1;
    res.end(JSON.stringify({ version: '1.1.0' }));
  });
  regionPort = await listen(regionServer);
  taskPort = await listen(taskServer);
});
afterAll(async () => {
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await Promise.all([regionServer, taskServer].map((s) => new Promise((ok) => s.close(ok))));
  await dynamo.close();
  await autoScaling.close();
});

/** The one-off tasks ECS ran, and what a DescribeTasks says of each by how often it was asked. */
interface FakeTask {
  arn: string;
  cluster: string;
  startedBy?: string;
  tags: { key?: string; value?: string }[];
  describes: number;
  stopped?: string;
}
let tasks: FakeTask[];
let script: (describes: number) => Partial<Task>;
const running: Partial<Task> = {
  lastStatus: 'RUNNING',
  healthStatus: 'HEALTHY',
  containers: [{ name: 'web', networkInterfaces: [{ privateIpv4Address: '127.0.0.1' }] }],
};

beforeEach(() => {
  for (const stub of [codedeploy, cloudwatch, ecs, sns, sfn]) stub.reset();
  taskHits = 0;
  tasks = [];
  script = (n) => (n === 0 ? { lastStatus: 'PROVISIONING' } : running);
  fake = createFakeCodeDeploy({
    pollsToComplete: 2,
    ecsServiceOf: (g) => ({ clusterName: `shop-${g.awsRegion}`, serviceName: 'shop-web' }),
    // The `fleet` service's Server groups deploy to an Auto Scaling group each; `web`'s to tagged instances.
    autoScalingGroupOf: (g) => (g.application === 'fleet' ? `${g.deploymentGroup}-asg` : undefined),
  });
  fake.install(codedeploy);
  cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  ecs.on(DescribeServicesCommand).resolves({
    services: [
      {
        launchType: 'FARGATE',
        networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'], securityGroups: ['sg-1'] } },
      },
    ],
  });
  ecs.on(RunTaskCommand).callsFake(async (input: RunTaskCommandInput) => {
    const task: FakeTask = {
      arn: `arn:aws:ecs:us-east-1:123456789012:task/${input.cluster}/${tasks.length + 1}`,
      cluster: input.cluster ?? '',
      ...(input.startedBy ? { startedBy: input.startedBy } : {}),
      tags: input.tags ?? [],
      describes: 0,
    };
    tasks.push(task);
    return { tasks: [{ taskArn: task.arn, lastStatus: 'PROVISIONING' }] };
  });
  ecs.on(DescribeTasksCommand).callsFake(async (input: DescribeTasksCommandInput) => ({
    tasks: tasks
      .filter((t) => input.tasks?.includes(t.arn))
      .map((t) => {
        if (t.stopped) return { taskArn: t.arn, lastStatus: 'STOPPED', stoppedReason: t.stopped, tags: t.tags };
        const view = { taskArn: t.arn, ...script(t.describes), tags: t.tags };
        t.describes += 1;
        return view;
      }),
  }));
  ecs.on(StopTaskCommand).callsFake(async (input: StopTaskCommandInput) => {
    const task = tasks.find((t) => t.arn === input.task);
    if (task) task.stopped ??= input.reason ?? 'stopped';
    return {};
  });
  ecs.on(ListTasksCommand).callsFake(async (input: ListTasksCommandInput) => ({
    taskArns: tasks
      .filter((t) => t.cluster === input.cluster && t.startedBy === input.startedBy && !t.stopped)
      .map((t) => t.arn),
  }));
});

const ECS_V1 = {
  revisionType: 'AppSpecContent' as const,
  appSpecContent: { content: '{"version":0.0,"Resources":[]}', sha256: 'x' },
};

function config(service: string, platform: CodeDeployTarget['platform']): FlotillaConfig {
  return {
    service,
    regions: REGIONS.map((name) => ({
      name,
      target: {
        kind: 'codedeploy',
        awsRegion: name,
        application: service,
        deploymentGroup: `${service}-${name}`,
        platform,
        alarms: { names: [] },
        healthUrl: `http://127.0.0.1:${regionPort}/${service}/${name}/health`,
      },
    })),
    waves: [
      { name: 'canary', regions: ['us-east-1'], bakeSeconds: 1, approval: false },
      { name: 'rest', regions: ['eu-west-1'], bakeSeconds: 1, approval: false },
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

/** The new build of an ECS service: its task definition, and the container and port the load balancer (and so the new host's probe) uses. */
const ecsBuild = () =>
  `appspec:${JSON.stringify({
    version: 0.0,
    Resources: [
      {
        TargetService: {
          Type: 'AWS::ECS::Service',
          Properties: {
            TaskDefinition: 'arn:aws:ecs:{awsRegion}:123456789012:task-definition/shop:8',
            LoadBalancerInfo: { ContainerName: 'web', ContainerPort: taskPort },
          },
        },
      },
    ],
  })}`;

async function release(service: string, platform: CodeDeployTarget['platform'], artifact: string) {
  for (const region of REGIONS) {
    fake.seed(
      { awsRegion: region, application: service, deploymentGroup: `${service}-${region}` },
      platform === 'ECS'
        ? { revision: ECS_V1, description: `flotilla ${service} 1.0.0 ${service}-1.0.0 deploy` }
        : {
            revision: {
              revisionType: 'S3',
              s3Location: { bucket: 'builds', key: 'shop/1.0.0.zip', bundleType: 'zip' },
            },
            description: `flotilla ${service} 1.0.0 ${service}-1.0.0 deploy`,
          },
    );
  }
  const clients = new AwsClients();
  const sink = new SnsEventSink({ client: new SNSClient({ region: 'us-east-1' }), topicArn: TOPIC });
  const deps: Deps = {
    ledger,
    deployer: new CodeDeployDeployer({ clients, sleep: async () => {} }),
    prober: new CloudWatchProber({ clients }),
    events: sink,
    now: Date.now,
    regionStateMachineArn: localArn('region'),
  };
  const functions = {
    ...Object.fromEntries(Object.entries(functionFactories).map(([n, make]) => [n, make(deps)])),
    // The handlers as Lambda runs them: ports from the environment, the new host's included.
    'start-bake': startBake,
    'check-gate': checkGate,
    'finish-release': finishRelease,
  };
  const engine = new LocalEngine({ functions, waitMs: 20, retryIntervalMs: 0 });
  engine.register('region', loadDefinition('region'));
  const arn = engine.register('release', loadDefinition('release'));
  const input = {
    releaseId: `${service}-1.1.0`,
    version: '1.1.0',
    artifact,
    config: config(service, platform),
    owner: 'test',
  };
  await engine.run(arn, input as never).catch(() => {});
  const events = sns
    .commandCalls(PublishCommand)
    .map((c) => JSON.parse(c.args[0].input.Message ?? '{}') as Stamped)
    .filter((e) => e.releaseId === `${service}-1.1.0`);
  const finished = events.find((e) => e.kind === 'release-finished');
  if (finished?.kind !== 'release-finished') throw new Error('release ended without an outcome');
  return { outcome: finished.outcome as ReleaseOutcome, events };
}

const gates = (events: Stamped[]) => events.flatMap((e) => (e.kind === 'gate' ? [e] : []));

describe('the new-host gate through the AWS handlers', () => {
  it('starts one task of the new build per wave, gates on it once ECS says it runs, and stops it after', async () => {
    const { outcome, events } = await release('shop', 'ECS', ecsBuild());
    expect(outcome.status, outcome.reason).toBe('SUCCEEDED');
    // One per wave, in the wave's first region's service cluster, started by flotilla and tagged.
    expect(tasks.map((t) => [t.cluster, t.startedBy, t.tags.find((k) => k.key === 'flotilla:release')?.value])).toEqual(
      [
        ['shop-us-east-1', 'flotilla-new-host', 'shop-1.1.0'],
        ['shop-eu-west-1', 'flotilla-new-host', 'shop-1.1.0'],
      ],
    );
    const run = ecs.commandCalls(RunTaskCommand)[0]?.args[0].input;
    expect(run?.taskDefinition).toBe('arn:aws:ecs:us-east-1:123456789012:task-definition/shop:8');
    // Its health URL on the task's own IP and port was probed; each task was stopped once its gate passed.
    expect(taskHits).toBeGreaterThan(0);
    expect(tasks.map((t) => t.stopped)).toEqual([
      'flotilla: new host (us-east-1) checked',
      'flotilla: new host (eu-west-1) checked',
    ]);
    // Nothing to tell anyone: a passing gate with its new host is no notable event.
    expect(gates(events)).toEqual([]);
  });

  it('fails the gate when the task stops before it is up, naming ECS’s reason, and rolls the wave back', async () => {
    script = (n) =>
      n === 0
        ? { lastStatus: 'PENDING' }
        : {
            lastStatus: 'STOPPED',
            stoppedReason: 'Essential container in task exited',
            containers: [{ name: 'web', exitCode: 1 }],
          };
    const { outcome, events } = await release('cart', 'ECS', ecsBuild());
    expect(outcome.status, outcome.reason).toBe('ROLLED_BACK');
    expect(outcome.reason).toContain('new host (us-east-1)');
    expect(outcome.reason).toContain('stopped: Essential container in task exited (web: exit 1)');
    const failed = gates(events).find((g) => g.evaluation.kind === 'Failed');
    expect(failed?.wave).toBe(0);
    expect(failed?.newHosts).toEqual(['new host (us-east-1)']);
    // The canary went back by a new deployment of its last good revision; wave 2 never started.
    const rollbacks = fake.deployments.filter((d) => d.description?.endsWith(' rollback'));
    expect(rollbacks.map((d) => [d.awsRegion, d.status])).toEqual([['us-east-1', 'Succeeded']]);
    expect(tasks).toHaveLength(1);
  });

  it('starts one more instance of each wave’s Auto Scaling group, gates on it once it is InService, and terminates it after', async () => {
    const groups = REGIONS.map((r) => `fleet-${r}-asg`);
    const world = autoScaling.reset(
      Object.fromEntries(
        groups.map((g) => [
          g,
          {
            desired: 2,
            max: 4,
            instances: [
              { id: `${g}-old1`, state: 'InService' },
              { id: `${g}-old2`, state: 'InService' },
            ],
          },
        ]),
      ),
    );
    // CodeDeploy's launch hook holds the new instance in Pending:Wait while it installs the build.
    world.lifecycle = (n) => (n === 0 ? { state: 'Pending:Wait' } : { state: 'InService', health: 'Healthy' });
    // The instances' private IP is ::1, where their own server listens on the regions' health port:
    // so a probe of the new host is told apart from a probe of its region's URL (127.0.0.1).
    world.launchIp = '::1';
    const paths: string[] = [];
    const instance = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.end(JSON.stringify({ version: '1.1.0' }));
    });
    await new Promise<void>((ok, fail) => instance.once('error', fail).listen(regionPort, '::1', ok));
    const { outcome, events } = await release('fleet', 'Server', 's3://builds-{awsRegion}/fleet/1.1.0.zip').finally(
      () => new Promise((ok) => instance.close(ok)),
    );
    expect(outcome.status, outcome.reason).toBe('SUCCEEDED');
    // One new instance per wave, in the wave's first region's group, tagged with the release and region.
    const fresh = Object.entries(world.tags).map(([id, tags]) => [
      id,
      tags['flotilla:release'],
      tags['flotilla:new-host'],
    ]);
    expect(fresh).toEqual([
      ['i-fresh1', 'fleet-1.1.0', 'us-east-1'],
      ['i-fresh2', 'fleet-1.1.0', 'eu-west-1'],
    ]);
    const scaled = autoScaling.seen
      .filter((s) => s.action === 'SetDesiredCapacity')
      .map((s) => [s.params.AutoScalingGroupName, s.params.DesiredCapacity]);
    expect(scaled).toEqual([
      ['fleet-us-east-1-asg', '3'],
      ['fleet-eu-west-1-asg', '3'],
    ]);
    // Signed for Auto Scaling in each group's own region.
    const regionsSigned = autoScaling.seen
      .filter((s) => s.action === 'SetDesiredCapacity')
      .map((s) => /Credential=[^/]+\/\d{8}\/([^/]+)\/autoscaling\//.exec(String(s.headers.authorization))?.[1]);
    expect(regionsSigned).toEqual(REGIONS);
    // The region's health URL path was probed on each instance's own IP and passed.
    expect([...new Set(paths)]).toEqual(['/fleet/us-east-1/health', '/fleet/eu-west-1/health']);
    // Each terminated once its gate passed, the capacity given back.
    const terminated = autoScaling.seen
      .filter((s) => s.action === 'TerminateInstanceInAutoScalingGroup')
      .map((s) => [s.params.InstanceId, s.params.ShouldDecrementDesiredCapacity]);
    expect(terminated).toEqual([
      ['i-fresh1', 'true'],
      ['i-fresh2', 'true'],
    ]);
    expect(groups.map((g) => world.groups[g]?.desired)).toEqual([2, 2]);
    // Each launch marked its group first, and the mark went with its new host.
    const marked = autoScaling.seen
      .filter((s) => s.action === 'CreateOrUpdateTags')
      .map((s) => [s.params['Tags.member.1.ResourceId'], s.params['Tags.member.1.Key']]);
    expect(marked.filter(([, key]) => key === 'flotilla:new-host:fleet-1.1.0:us-east-1')[0]).toEqual([
      'fleet-us-east-1-asg',
      'flotilla:new-host:fleet-1.1.0:us-east-1',
    ]);
    expect(groups.map((g) => world.groups[g]?.tags)).toEqual([{}, {}]);
    expect(gates(events)).toEqual([]);
  });

  it('tells the release’s subscribers, once a wave, that a Server wave without an Auto Scaling group has no new host, and why', async () => {
    autoScaling.reset({});
    const { outcome, events } = await release('web', 'Server', 's3://builds-{awsRegion}/shop/1.1.0.zip');
    expect(outcome.status, outcome.reason).toBe('SUCCEEDED');
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
    expect(autoScaling.seen.map((s) => s.action)).toEqual([]);
    const said = gates(events);
    // Published on SNS as notable (StartBake's gate event; its final check's carries it too).
    expect([...new Set(said.map((g) => g.wave))]).toEqual([0, 1]);
    for (const gate of said) expect(gate.noNewHost).toBe(NO_ASG_WHY);
  });
});
