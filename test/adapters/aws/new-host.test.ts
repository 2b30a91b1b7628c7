/**
 * The AWS new hosts: a cold invocation of the new Lambda version (a signed Invoke, against a real
 * HTTP server standing in for Lambda's endpoint), and a one-off ECS task of the new task definition
 * at the SDK boundary (aws-sdk-client-mock). moto runs neither a Lambda (it needs Docker) nor an
 * ECS task's containers, so neither a cold start nor a task going STOPPED with
 * reasons, UNHEALTHY or refused is something it can show (test/adapters/aws/ecs-new-host-moto.test.ts
 * runs what it can). The task's health URL is a real HTTP server on 127.0.0.1, probed by the real
 * CloudWatchProber, as on AWS.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CodeDeployClient, GetDeploymentGroupCommand } from '@aws-sdk/client-codedeploy';
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AwsClients } from '../../../adapters/aws/clients.ts';
import { CloudWatchProber } from '../../../adapters/aws/cloudwatch-prober.ts';
import { EcsOneOffTask, STARTED_BY } from '../../../adapters/aws/ecs-new-host.ts';
import { ecsServiceOfGroup } from '../../../adapters/aws/ecs-service.ts';
import { signedInvoke } from '../../../adapters/aws/lambda-invoke.ts';
import { LambdaColdInvoke } from '../../../adapters/aws/lambda-new-host.ts';
import { AwsNewHosts, SERVER_WHY } from '../../../adapters/aws/new-hosts.ts';
import type { NewHostLaunch, NewHostRef, NewHostRequest } from '../../../ports/new-host.ts';
import { cdTarget, gate, localTarget } from './helpers.ts';

const ecs = mockClient(ECSClient);
const codedeploy = mockClient(CodeDeployClient);
afterEach(() => {
  ecs.reset();
  codedeploy.reset();
});

const LAMBDA_APPSPEC = `appspec:version: 0.0
Resources:
  - shop:
      Type: AWS::Lambda::Function
      Properties:
        Name: shop-api
        Alias: live
        CurrentVersion: "6"
        TargetVersion: "7"
`;

const ECS_APPSPEC = `appspec:${JSON.stringify({
  version: 0.0,
  Resources: [
    {
      TargetService: {
        Type: 'AWS::ECS::Service',
        Properties: {
          TaskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8',
          LoadBalancerInfo: { ContainerName: 'web', ContainerPort: 8080 },
          NetworkConfiguration: { AwsvpcConfiguration: { Subnets: ['subnet-1'], SecurityGroups: ['sg-1'] } },
        },
      },
    },
  ],
})}`;

const request = (platform: 'Lambda' | 'ECS', artifact: string, over: Partial<NewHostRequest> = {}): NewHostRequest => ({
  service: 'shop',
  releaseId: 'shop-1.1.0-1',
  wave: 0,
  region: 'eu-west',
  name: 'new host (eu-west)',
  target: cdTarget({ platform, healthUrl: 'https://shop.example.com/health?deep=1' }),
  revision: { version: '1.1.0', artifact },
  gate: gate(),
  readinessTimeoutMs: 60_000,
  ...over,
});

const tail = (lines: string) => Buffer.from(lines).toString('base64');

/**
 * Lambda's Invoke endpoint as a real HTTP server: what each request was (path, query, headers,
 * body) and what it answers (`lambdaAnswer`: Invoke's status, headers and the function's payload).
 */
let lambdaServer: Server;
let lambdaUrl: string;
let lambdaAnswer: { status: number; headers?: Record<string, string>; body: string };
const invoked: { method?: string; url?: string; headers: Record<string, unknown>; body: string }[] = [];
beforeAll(async () => {
  lambdaServer = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      invoked.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(lambdaAnswer.status, { 'content-type': 'application/json', ...lambdaAnswer.headers });
      res.end(lambdaAnswer.body);
    });
  });
  await new Promise<void>((ok) => lambdaServer.listen(0, '127.0.0.1', ok));
  lambdaUrl = `http://127.0.0.1:${(lambdaServer.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => lambdaServer.close(() => ok())));
afterEach(() => {
  invoked.length = 0;
});

describe('LambdaColdInvoke', () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' };
  const roles: (string | undefined)[] = [];
  const launcher = new LambdaColdInvoke(({ roleArn, ...call }) => {
    roles.push(roleArn);
    return signedInvoke({ credentials: async () => credentials, endpoint: () => lambdaUrl })(call);
  });

  it('invokes the new version by its qualifier with a signed POST, and passes a cold start that answered', async () => {
    lambdaAnswer = {
      status: 200,
      headers: {
        'x-amz-log-result': tail('START RequestId: 1\nREPORT RequestId: 1 Duration: 3.1 ms Init Duration: 212.4 ms\n'),
      },
      body: '{"ok":true}',
    };
    const launch = await launcher.launch(
      request('Lambda', LAMBDA_APPSPEC, {
        target: cdTarget({ platform: 'Lambda', roleArn: 'arn:aws:iam::444455556666:role/flotilla-deployer-shop' }),
      }),
    );
    expect(launch).toEqual({
      kind: 'started',
      host: {
        name: 'new host (eu-west)',
        region: 'eu-west',
        wave: 0,
        handle: { platform: 'Lambda', function: 'shop-api', version: '7', cold: 'yes' },
      },
      samples: [{ kind: 'ok', status: 200 }],
    });
    expect(roles).toEqual(['arn:aws:iam::444455556666:role/flotilla-deployer-shop']);
    const call = invoked[0];
    expect(call?.method).toBe('POST');
    expect(call?.url).toBe('/2015-03-31/functions/shop-api/invocations?Qualifier=7');
    expect(call?.headers).toMatchObject({
      'x-amz-invocation-type': 'RequestResponse',
      'x-amz-log-type': 'Tail',
      'x-amz-security-token': 'token',
      // SigV4 for Lambda in the group's region, with the given credentials.
      authorization: expect.stringMatching(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, /,
      ),
    });
    expect(JSON.parse(call?.body ?? '')).toMatchObject({
      'detail-type': 'new-host-check',
      detail: { version: '1.1.0', releaseId: 'shop-1.1.0-1' },
    });
  });

  it('fails on a function error, saying it was a cold start and what the function threw', async () => {
    lambdaAnswer = {
      status: 200,
      headers: {
        'x-amz-function-error': 'Unhandled',
        'x-amz-log-result': tail('REPORT RequestId: 1 Duration: 9 ms Init Duration: 180 ms\n'),
      },
      body: '{"errorType":"Error","errorMessage":"config key missing on a fresh start"}',
    };
    expect(await launcher.launch(request('Lambda', LAMBDA_APPSPEC))).toEqual({
      kind: 'failed',
      message: 'a cold invocation of shop-api:7 failed (Unhandled): Error: config key missing on a fresh start',
    });
  });

  it('fails when Lambda refuses the call, with its error type and message', async () => {
    lambdaAnswer = {
      status: 404,
      headers: { 'x-amzn-errortype': 'ResourceNotFoundException:http://internal.amazon.com/coral/' },
      body: '{"Type":"User","message":"Function not found: arn:aws:lambda:eu-west-1:123456789012:function:shop-api:7"}',
    };
    expect(await launcher.launch(request('Lambda', LAMBDA_APPSPEC))).toEqual({
      kind: 'failed',
      message:
        'invoking shop-api:7 failed: Lambda Invoke shop-api:7 in eu-west-1: HTTP 404 ResourceNotFoundException: Function not found: arn:aws:lambda:eu-west-1:123456789012:function:shop-api:7',
    });
  });

  it('invokes the version staging published in the region when the AppSpec names code to publish, and fails without one', async () => {
    lambdaAnswer = { status: 200, headers: { 'x-amz-log-result': tail('REPORT Init Duration: 9 ms\n') }, body: 'null' };
    const zip = LAMBDA_APPSPEC.replace(
      'TargetVersion: "7"',
      'TargetVersion: s3://shop-builds-eu-west-1/shop/1.1.0.zip',
    );
    const fn = 'arn:aws:lambda:eu-west-1:123456789012:function:shop-api';
    const staged = await launcher.launch(request('Lambda', zip, { stageId: `published:${fn}:12` }));
    expect(staged.kind === 'started' && staged.host.handle).toMatchObject({ function: fn, version: '12' });
    expect(invoked[0]?.url).toBe(`/2015-03-31/functions/${encodeURIComponent(fn)}/invocations?Qualifier=12`);
    expect(await launcher.launch(request('Lambda', zip))).toEqual({
      kind: 'failed',
      message: 'eu-west: the AppSpec names code to publish, and staging published no version there (no staging)',
    });
    expect(invoked).toHaveLength(1);
  });

  it('says when the environment was warm, and refuses other targets and AppSpecs without a TargetVersion', async () => {
    lambdaAnswer = {
      status: 200,
      headers: { 'x-amz-log-result': tail('REPORT RequestId: 1 Duration: 2 ms\n') },
      body: 'null',
    };
    const warm = await launcher.launch(request('Lambda', LAMBDA_APPSPEC));
    expect(warm.kind === 'started' && warm.host.handle.cold).toBe('no');
    expect((await launcher.launch(request('ECS', ECS_APPSPEC))).kind).toBe('unsupported');
    expect((await launcher.launch({ ...request('Lambda', LAMBDA_APPSPEC), target: localTarget })).kind).toBe(
      'unsupported',
    );
    expect(
      await launcher.launch(request('Lambda', 'appspec:{"Resources":[{"f":{"Properties":{"Name":"x"}}}]}')),
    ).toEqual({
      kind: 'failed',
      message: 'the Lambda AppSpec names no Name and TargetVersion',
    });
  });
});

describe('EcsOneOffTask', () => {
  let clock = 1_000_000;
  const prober = new CloudWatchProber({ clients: new AwsClients() });
  const launcher = new EcsOneOffTask(
    {
      ecs: (region) => new ECSClient({ region }),
      serviceOf: ecsServiceOfGroup((region) => new CodeDeployClient({ region })),
    },
    { prober, now: () => clock },
  );
  const TASK = 'arn:aws:ecs:eu-west-1:123456789012:task/shop/abc';
  const TASK_DEF = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8';

  /** The task's own health endpoint: a real HTTP server, answering as `answer` says. */
  let server: Server;
  let port: number;
  let answer: { status: number; version: string } = { status: 200, version: '1.1.0' };
  beforeAll(async () => {
    server = createServer((_, res) => {
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version: answer.version }));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));
  afterEach(() => {
    answer = { status: 200, version: '1.1.0' };
    clock = 1_000_000;
  });

  /** The ECS AppSpec with its container port pointed at the test's health server. */
  const appspec = (containerPort: number) =>
    `appspec:${JSON.stringify({
      version: 0.0,
      Resources: [
        {
          TargetService: {
            Type: 'AWS::ECS::Service',
            Properties: {
              TaskDefinition: TASK_DEF,
              LoadBalancerInfo: { ContainerName: 'web', ContainerPort: containerPort },
              NetworkConfiguration: { AwsvpcConfiguration: { Subnets: ['subnet-1'], SecurityGroups: ['sg-1'] } },
            },
          },
        },
      ],
    })}`;
  const group = () =>
    codedeploy.on(GetDeploymentGroupCommand).resolves({
      deploymentGroupInfo: { ecsServices: [{ clusterName: 'shop', serviceName: 'shop-web' }] },
    });
  const service = () =>
    ecs.on(DescribeServicesCommand).resolves({
      services: [
        {
          launchType: 'FARGATE',
          platformVersion: '1.4.0',
          networkConfiguration: {
            awsvpcConfiguration: { subnets: ['subnet-svc'], securityGroups: ['sg-svc'], assignPublicIp: 'DISABLED' },
          },
        },
      ],
    });
  const describeAs = (...tasks: Task[]) => {
    const mock = ecs.on(DescribeTasksCommand);
    for (const task of tasks) mock.resolvesOnce({ tasks: [task] });
  };
  const container = { name: 'web', networkInterfaces: [{ privateIpv4Address: '127.0.0.1' }] };
  const running: Task = { taskArn: TASK, lastStatus: 'RUNNING', healthStatus: 'HEALTHY', containers: [container] };

  async function started(
    over: Partial<NewHostRequest> = {},
  ): Promise<Extract<NewHostLaunch, { kind: 'started' }>['host']> {
    group();
    service();
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'PROVISIONING' }] });
    const launch = await launcher.launch(request('ECS', appspec(port), over));
    if (launch.kind !== 'started') throw new Error(JSON.stringify(launch));
    return launch.host;
  }
  const probe = (host: Pick<NewHostRef, 'name' | 'region' | 'handle' | 'target'>) =>
    launcher.probe(host, { expectedVersion: '1.1.0', gate: gate(), count: 3 });

  it('runs one task of the new task definition in the service cluster and network, and returns at once with it starting', async () => {
    const host = await started();
    expect(ecs.commandCalls(RunTaskCommand)[0]?.args[0].input).toEqual({
      cluster: 'shop',
      taskDefinition: TASK_DEF,
      count: 1,
      startedBy: STARTED_BY,
      launchType: 'FARGATE',
      platformVersion: '1.4.0',
      // The AppSpec's network wins over the service's; the service's assignPublicIp fills the gap.
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ['subnet-1'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' },
      },
      tags: [
        { key: 'flotilla:release', value: 'shop-1.1.0-1' },
        { key: 'flotilla:new-host', value: 'eu-west' },
      ],
    });
    // No wait inside the launch: not one DescribeTasks, the probe rounds ask.
    expect(ecs.commandCalls(DescribeTasksCommand)).toHaveLength(0);
    expect(host).toEqual({
      name: 'new host (eu-west)',
      region: 'eu-west',
      wave: 0,
      probedBy: 'launcher',
      handle: {
        platform: 'ECS',
        awsRegion: 'eu-west-1',
        cluster: 'shop',
        taskArn: TASK,
        taskDefinition: TASK_DEF,
        launchedAt: 1_000_000,
        readinessTimeoutMs: 60_000,
        container: 'web',
        port,
        healthPath: '/health?deep=1',
      },
      // The region's target with none of its alarms and no URL: nothing an ordinary prober could probe by mistake.
      target: expect.objectContaining({ kind: 'codedeploy', platform: 'ECS', alarms: { names: [] } }),
    });
    expect(host.target && 'healthUrl' in host.target).toBe(false);
  });

  it('gives no samples while the task starts, and fails every probe of a round once it is past its readiness timeout', async () => {
    const host = await started();
    const pending: Task = { taskArn: TASK, lastStatus: 'PENDING', healthStatus: 'UNKNOWN', containers: [container] };
    describeAs(pending, pending);
    clock += 59_000;
    expect(await probe(host)).toEqual([]);
    clock += 2_000;
    const late = await probe(host);
    expect(late).toHaveLength(3);
    expect(late[0]).toEqual({
      kind: 'error',
      message: `task ${TASK} of ${TASK_DEF} not up within 60 s of its start (PENDING, health UNKNOWN)`,
    });
  });

  it('probes the health URL path on the task’s own IP and port once ECS says it runs', async () => {
    const host = await started();
    describeAs(running, running);
    expect(await probe(host)).toEqual([
      { kind: 'ok', status: 200, version: '1.1.0' },
      { kind: 'ok', status: 200, version: '1.1.0' },
      { kind: 'ok', status: 200, version: '1.1.0' },
    ]);
    answer = { status: 500, version: '1.1.0' };
    const bad = await probe(host);
    expect(bad.map((s) => s.kind)).toEqual(['error', 'error', 'error']);
    expect(JSON.stringify(bad[0])).toContain(`http://127.0.0.1:${port}/health?deep=1`);
  });

  it('leaves out a running task’s refused connections until its readiness timeout, then counts them', async () => {
    const closed = await new Promise<number>((ok) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => ok(p));
      });
    });
    const host = await started();
    const elsewhere = { ...host, handle: { ...host.handle, port: closed } };
    describeAs(running, running);
    expect(await probe(elsewhere)).toEqual([]);
    clock += 61_000;
    const late = await probe(elsewhere);
    expect(late.map((s) => s.kind)).toEqual(['error', 'error', 'error']);
  });

  it('fails a task that stopped, with ECS reasons and exit codes, and one UNHEALTHY, at once', async () => {
    const host = await started();
    describeAs(
      {
        taskArn: TASK,
        lastStatus: 'STOPPED',
        stoppedReason: 'Essential container in task exited',
        containers: [{ name: 'web', exitCode: 1 }],
      },
      { ...running, healthStatus: 'UNHEALTHY' },
    );
    expect(await probe(host)).toEqual(
      Array(3).fill({
        kind: 'error',
        message: `task ${TASK} of ${TASK_DEF} stopped: Essential container in task exited (web: exit 1)`,
      }),
    );
    expect(await probe(host)).toEqual(
      Array(3).fill({
        kind: 'error',
        message: `task ${TASK} of ${TASK_DEF} is UNHEALTHY (its container health check failed)`,
      }),
    );
  });

  it('counts a task no longer known or unreadable as down or unanswered, and one without an IP as unanswered', async () => {
    const host = await started();
    ecs
      .on(DescribeTasksCommand)
      .resolvesOnce({ tasks: [], failures: [{ arn: TASK, reason: 'MISSING' }] })
      .rejectsOnce(new Error('Rate exceeded'))
      .resolvesOnce({ tasks: [{ ...running, containers: [{ name: 'web' }] }] });
    expect((await probe(host))[0]).toEqual({
      kind: 'error',
      message: `task ${TASK} of ${TASK_DEF} is gone (ECS no longer knows it)`,
    });
    expect((await probe(host))[0]).toEqual({
      kind: 'missing',
      message: `DescribeTasks of ${TASK} failed: Rate exceeded`,
    });
    expect((await probe(host))[0]).toMatchObject({
      kind: 'missing',
      message: expect.stringMatching(/no private IP.*awsvpc/),
    });
  });

  it('takes a running task’s word for it when the region has no health URL', async () => {
    const host = await started({ target: cdTarget({ platform: 'ECS' }) });
    expect(host.handle.healthPath).toBeUndefined();
    describeAs({ ...running, healthStatus: 'UNKNOWN' });
    expect(await probe(host)).toEqual([{ kind: 'ok' }, { kind: 'ok' }, { kind: 'ok' }]);
  });

  it('runs the task definition staging registered in the region when the AppSpec names a document, and fails without one', async () => {
    const documented = appspec(port).replace(TASK_DEF, 's3://shop-builds-eu-west-1/shop/1.1.0/taskdef.json');
    const registered = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:31';
    group();
    service();
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'PROVISIONING' }] });
    const launch = await launcher.launch(request('ECS', documented, { stageId: `registered:${registered}` }));
    expect(launch.kind).toBe('started');
    expect(ecs.commandCalls(RunTaskCommand)[0]?.args[0].input.taskDefinition).toBe(registered);
    expect(await launcher.launch(request('ECS', documented, { stageId: 'failed:AccessDenied' }))).toEqual({
      kind: 'failed',
      message:
        'eu-west: the AppSpec names a task-definition document, and staging registered none there (failed:AccessDenied)',
    });
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(1);
  });

  it('fails a RunTask that ECS refuses or that throws, and a group with no ECS service', async () => {
    group();
    service();
    ecs
      .on(RunTaskCommand)
      .resolvesOnce({ failures: [{ reason: 'RESOURCE:MEMORY', detail: 'no capacity' }] })
      .rejectsOnce(
        Object.assign(new Error('User is not authorized to perform: iam:PassRole'), { name: 'AccessDeniedException' }),
      );
    expect(await launcher.launch(request('ECS', appspec(port)))).toEqual({
      kind: 'failed',
      message: `RunTask of ${TASK_DEF} refused: RESOURCE:MEMORY (no capacity)`,
    });
    expect(await launcher.launch(request('ECS', appspec(port)))).toEqual({
      kind: 'failed',
      message: 'User is not authorized to perform: iam:PassRole',
    });
    codedeploy.on(GetDeploymentGroupCommand).resolves({ deploymentGroupInfo: {} });
    expect(await launcher.launch(request('ECS', appspec(port)))).toEqual({
      kind: 'failed',
      message: 'deployment group shop-prod names no ECS service',
    });
  });

  it('stops its task, and leaves Server and Lambda groups to other launchers', async () => {
    const host = await started();
    ecs.on(StopTaskCommand).resolves({});
    await launcher.stop(host);
    expect(ecs.commandCalls(StopTaskCommand)[0]?.args[0].input).toMatchObject({ cluster: 'shop', task: TASK });
    expect((await launcher.launch(request('Lambda', LAMBDA_APPSPEC))).kind).toBe('unsupported');
  });

  it('stops what a release left in its groups’ clusters (started by flotilla, tagged with it), every page of them', async () => {
    group();
    const tagged = (arn: string, release: string, region: string): Task => ({
      taskArn: arn,
      lastStatus: 'RUNNING',
      tags: [
        { key: 'flotilla:release', value: release },
        { key: 'flotilla:new-host', value: region },
      ],
    });
    ecs
      .on(ListTasksCommand)
      .resolvesOnce({ taskArns: ['t1', 't2'], nextToken: 'more' })
      .resolvesOnce({ taskArns: ['t3'] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        tagged('t1', 'shop-1.1.0-1', 'eu-west'),
        tagged('t2', 'shop-1.0.0-1', 'us-east'),
        { taskArn: 't3', lastStatus: 'RUNNING', tags: [] },
      ],
    });
    ecs.on(StopTaskCommand).resolves({});
    const targets = [
      cdTarget({ platform: 'ECS' }),
      cdTarget({ platform: 'ECS' }),
      cdTarget({ platform: 'Server', deploymentGroup: 'x' }),
    ];
    expect(await launcher.stopLeft('shop-1.1.0-1', targets)).toEqual(['new host (eu-west)']);
    // One look per group and cluster, the Server group left alone.
    expect(codedeploy.commandCalls(GetDeploymentGroupCommand)).toHaveLength(1);
    expect(ecs.commandCalls(ListTasksCommand).map((c) => c.args[0].input)).toEqual([
      { cluster: 'shop', startedBy: STARTED_BY, desiredStatus: 'RUNNING' },
      { cluster: 'shop', startedBy: STARTED_BY, desiredStatus: 'RUNNING', nextToken: 'more' },
    ]);
    expect(ecs.commandCalls(DescribeTasksCommand)[0]?.args[0].input).toEqual({
      cluster: 'shop',
      tasks: ['t1', 't2', 't3'],
      include: ['TAGS'],
    });
    expect(ecs.commandCalls(StopTaskCommand).map((c) => c.args[0].input.task)).toEqual(['t1']);
    expect(await launcher.stopLeft('shop-1.1.0-1')).toEqual([]);
  });
});

describe('AwsNewHosts', () => {
  const ecsPart = new EcsOneOffTask(
    {
      ecs: (region) => new ECSClient({ region }),
      serviceOf: ecsServiceOfGroup((region) => new CodeDeployClient({ region })),
    },
    {},
  );
  const hosts = new AwsNewHosts({
    ecs: ecsPart,
    lambda: new LambdaColdInvoke((call) =>
      signedInvoke({
        credentials: async () => ({ accessKeyId: 'a', secretAccessKey: 'b' }),
        endpoint: () => lambdaUrl,
      })(call),
    ),
  });

  it('has no new host for a Server group or a non-CodeDeploy target, and says why', async () => {
    expect(await hosts.launch(request('Lambda', LAMBDA_APPSPEC, { target: cdTarget({ platform: 'Server' }) }))).toEqual(
      {
        kind: 'unsupported',
        why: SERVER_WHY,
      },
    );
    expect(await hosts.launch({ ...request('Lambda', LAMBDA_APPSPEC), target: localTarget })).toEqual({
      kind: 'unsupported',
      why: 'a local-process target has no new host on AWS',
    });
  });

  it('sends a Lambda group to the cold invocation, and stops only what is an ECS task', async () => {
    lambdaAnswer = {
      status: 200,
      headers: { 'x-amz-log-result': tail('REPORT RequestId: 1 Init Duration: 9 ms\n') },
      body: '{}',
    };
    const launch = await hosts.launch(request('Lambda', LAMBDA_APPSPEC));
    expect(launch.kind === 'started' && launch.host.handle).toMatchObject({ platform: 'Lambda', cold: 'yes' });
    if (launch.kind === 'started') await hosts.stop(launch.host);
    ecs.on(StopTaskCommand).resolves({});
    expect(ecs.commandCalls(StopTaskCommand)).toHaveLength(0);
    await hosts.stop({
      name: 'n',
      region: 'r',
      handle: { platform: 'ECS', awsRegion: 'eu-west-1', cluster: 'c', taskArn: 't' },
    });
    expect(ecs.commandCalls(StopTaskCommand)).toHaveLength(1);
  });

  it('fails, never skips, a platform whose launcher this function was not given', async () => {
    const probeOnly = new AwsNewHosts({});
    expect(await probeOnly.launch(request('ECS', ECS_APPSPEC))).toEqual({
      kind: 'failed',
      message: 'this function cannot start ECS tasks (no ECS launcher given)',
    });
    expect(
      await probeOnly.probe(
        { name: 'new host (eu-west)', region: 'eu-west', handle: { taskArn: 't' } },
        { expectedVersion: '1', gate: gate(), count: 2 },
      ),
    ).toEqual(Array(2).fill({ kind: 'missing', message: 'new host (eu-west): this function cannot probe it' }));
  });
});
