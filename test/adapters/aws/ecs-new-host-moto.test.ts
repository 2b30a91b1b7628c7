/**
 * The ECS new host against moto's server (`moto_server`): real HTTP, the SDK's real serialisation.
 * moto 5.2 runs FARGATE tasks at once as RUNNING (kept there with its state manager; no containers
 * really start, no IP, no health check: the faults a real task shows are tested with the SDK mocked
 * in new-host.test.ts), filters
 * ListTasks by `startedBy`, answers DescribeTasks with the tags when asked (`include: TAGS`), and
 * stops a task with StopTask. The group's ECS service comes from moto's CodeDeploy (`ecsServices`).
 */
import { CodeDeployClient, CreateApplicationCommand, CreateDeploymentGroupCommand } from '@aws-sdk/client-codedeploy';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EcsOneOffTask, STARTED_BY } from '../../../adapters/aws/ecs-new-host.ts';
import { ecsServiceOfGroup } from '../../../adapters/aws/ecs-service.ts';
import type { NewHostRequest } from '../../../ports/new-host.ts';
import { type MotoServer, skipWithout, startMoto, withAwsTimes } from '../../helpers/aws-tools.ts';
import { cdTarget, gate } from './helpers.ts';

const SKIP = skipWithout('moto_server', 'the ECS new host against moto (test/adapters/aws/ecs-new-host-moto.test.ts)');
const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';

let moto: MotoServer;
let ecs: ECSClient;
let taskDefinition: string;
/** One of moto's default subnets and security groups: ECS checks an awsvpc task's exist. */
let subnet: string;
let securityGroup: string;

/** The first `<field>` of moto's answer to an EC2 query in REGION (this project has no EC2 client). */
async function ec2First(action: string, field: string): Promise<string> {
  const response = await fetch(moto.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      // moto reads the region from the signature's scope; it checks nothing else.
      authorization: `AWS4-HMAC-SHA256 Credential=moto/20260101/${REGION}/ec2/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: `Action=${action}&Version=2016-11-15`,
  });
  const id = new RegExp(`<${field}>([^<]+)</${field}>`).exec(await response.text())?.[1];
  if (!id) throw new Error(`moto answered ${action} in ${REGION} with no ${field}`);
  return id;
}

beforeAll(async () => {
  if (SKIP) return;
  moto = await startMoto();
  // moto moves a task on from RUNNING at every DescribeTasks by default; here it stays RUNNING until stopped.
  await moto.motoApi('/moto-api/state-manager/set-transition', {
    model_name: 'ecs::task',
    transition: { progression: 'manual', times: 1_000_000 },
  });
  ecs = new ECSClient(moto.client(REGION));
  subnet = await ec2First('DescribeSubnets', 'subnetId');
  securityGroup = await ec2First('DescribeSecurityGroups', 'groupId');
  const codedeploy = withAwsTimes(new CodeDeployClient(moto.client(REGION)));
  await ecs.send(new CreateClusterCommand({ clusterName: 'shop' }));
  const registered = await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'shop',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      containerDefinitions: [
        {
          name: 'web',
          image: 'shop:1.1.0',
          essential: true,
          cpu: 256,
          memory: 512,
          portMappings: [{ containerPort: 8080 }],
        },
      ],
    }),
  );
  taskDefinition = registered.taskDefinition?.taskDefinitionArn as string;
  await ecs.send(
    new CreateServiceCommand({
      cluster: 'shop',
      serviceName: 'shop-web',
      taskDefinition,
      desiredCount: 0,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: [subnet], securityGroups: [securityGroup] } },
    }),
  );
  await codedeploy.send(new CreateApplicationCommand({ applicationName: 'shop', computePlatform: 'ECS' }));
  await codedeploy.send(
    new CreateDeploymentGroupCommand({
      applicationName: 'shop',
      deploymentGroupName: 'shop-prod',
      serviceRoleArn: `arn:aws:iam::${ACCOUNT}:role/codedeploy`,
      ecsServices: [{ clusterName: 'shop', serviceName: 'shop-web' }],
    }),
  );
}, 120_000);
afterAll(async () => {
  await moto?.close();
});

const launcher = () =>
  new EcsOneOffTask(
    {
      ecs: () => ecs,
      serviceOf: ecsServiceOfGroup(() => withAwsTimes(new CodeDeployClient(moto.client(REGION)))),
    },
    {},
  );

const request = (releaseId: string, region = 'eu-west'): NewHostRequest => ({
  service: 'shop',
  releaseId,
  wave: 0,
  region,
  name: `new host (${region})`,
  // No health URL: a moto task has no IP, so ECS's word is the evidence here.
  target: cdTarget({ platform: 'ECS', awsRegion: REGION }),
  revision: {
    version: '1.1.0',
    artifact: `appspec:${JSON.stringify({
      version: 0.0,
      Resources: [{ TargetService: { Type: 'AWS::ECS::Service', Properties: { TaskDefinition: taskDefinition } } }],
    })}`,
  },
  gate: gate(),
  readinessTimeoutMs: 60_000,
});

const probe = { expectedVersion: '1.1.0', gate: gate(), count: 2 };

describe.skipIf(SKIP)('EcsOneOffTask on moto', () => {
  it('runs the task in the group’s service cluster and network, started by flotilla and tagged with its release', async () => {
    const launch = await launcher().launch(request('shop-1.1.0-1'));
    if (launch.kind !== 'started') throw new Error(`${JSON.stringify(launch)}\n${moto.output().slice(-2000)}`);
    const taskArn = launch.host.handle.taskArn as string;
    const { tasks = [] } = await ecs.send(
      new DescribeTasksCommand({ cluster: 'shop', tasks: [taskArn], include: ['TAGS'] }),
    );
    expect(tasks[0]).toMatchObject({ startedBy: STARTED_BY, taskDefinitionArn: taskDefinition, launchType: 'FARGATE' });
    expect(tasks[0]?.tags).toEqual(
      expect.arrayContaining([
        { key: 'flotilla:release', value: 'shop-1.1.0-1' },
        { key: 'flotilla:new-host', value: 'eu-west' },
      ]),
    );
    // moto's task runs at once: up, and with no health URL ECS's word counts.
    expect(await launcher().probe(launch.host, probe)).toEqual([{ kind: 'ok' }, { kind: 'ok' }]);
  });

  it('stops its task, which then fails every probe as stopped', async () => {
    const launch = await launcher().launch(request('shop-1.1.0-2'));
    if (launch.kind !== 'started') throw new Error(JSON.stringify(launch));
    await launcher().stop(launch.host);
    const after = await launcher().probe(launch.host, probe);
    expect(after).toHaveLength(2);
    expect(after[0]).toMatchObject({ kind: 'error', message: expect.stringContaining('stopped:') });
  });

  it('stops only what the release left, found by startedBy and its tag in the group’s cluster', async () => {
    const mine = await launcher().launch(request('shop-1.2.0-1', 'eu-west'));
    const other = await launcher().launch(request('shop-0.9.0-1', 'us-east'));
    // A task someone else started in the same cluster is never ours to stop.
    const stranger = await ecs.send(
      new RunTaskCommand({
        cluster: 'shop',
        taskDefinition,
        launchType: 'FARGATE',
        networkConfiguration: { awsvpcConfiguration: { subnets: [subnet], securityGroups: [securityGroup] } },
      }),
    );
    if (mine.kind !== 'started' || other.kind !== 'started') throw new Error('launch failed');
    const stopped = await launcher().stopLeft('shop-1.2.0-1', [cdTarget({ platform: 'ECS', awsRegion: REGION })]);
    expect(stopped).toEqual(['new host (eu-west)']);
    const status = async (arn: string) =>
      (await ecs.send(new DescribeTasksCommand({ cluster: 'shop', tasks: [arn] }))).tasks?.[0]?.desiredStatus;
    expect(await status(mine.host.handle.taskArn as string)).toBe('STOPPED');
    expect(await status(other.host.handle.taskArn as string)).toBe('RUNNING');
    expect(await status(stranger.tasks?.[0]?.taskArn as string)).toBe('RUNNING');
    const left = await ecs.send(
      new ListTasksCommand({ cluster: 'shop', startedBy: STARTED_BY, desiredStatus: 'RUNNING' }),
    );
    expect(left.taskArns).toContain(other.host.handle.taskArn);
    expect(left.taskArns).not.toContain(mine.host.handle.taskArn);
  });
});
