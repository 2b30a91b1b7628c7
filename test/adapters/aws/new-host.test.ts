/**
 * The AWS new hosts at the SDK boundary (aws-sdk-client-mock): a cold invocation of the new Lambda
 * version, and a one-off ECS task of the new task definition. moto runs neither a Lambda (it needs
 * Docker) nor an ECS task's containers, so neither a cold start nor a task going STOPPED is
 * something it can show.
 */
import { CodeDeployClient, GetDeploymentGroupCommand } from '@aws-sdk/client-codedeploy';
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { EcsOneOffTask, STARTED_BY } from '../../../adapters/aws/ecs-new-host.ts';
import { LambdaColdInvoke } from '../../../adapters/aws/lambda-new-host.ts';
import type { NewHostRequest } from '../../../ports/new-host.ts';
import { cdTarget, gate, localTarget } from './helpers.ts';

const lambda = mockClient(LambdaClient);
const ecs = mockClient(ECSClient);
const codedeploy = mockClient(CodeDeployClient);
afterEach(() => {
  lambda.reset();
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
  ...over,
});

const tail = (lines: string) => Buffer.from(lines).toString('base64');
/** A response payload as the SDK hands it over (bytes that can also say themselves as text). */
const payload = (text: string) => Object.assign(new TextEncoder().encode(text), { transformToString: () => text });

describe('LambdaColdInvoke', () => {
  const launcher = new LambdaColdInvoke((region) => new LambdaClient({ region }));

  it('invokes the new version by its qualifier and passes a cold start that answered', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      LogResult: tail('START RequestId: 1\nREPORT RequestId: 1 Duration: 3.1 ms Init Duration: 212.4 ms\n'),
      Payload: payload('{"ok":true}'),
    });
    const launch = await launcher.launch(request('Lambda', LAMBDA_APPSPEC));
    expect(launch).toEqual({
      kind: 'started',
      host: {
        name: 'new host (eu-west)',
        region: 'eu-west',
        wave: 0,
        handle: { function: 'shop-api', version: '7', cold: 'yes' },
      },
      samples: [{ kind: 'ok', status: 200 }],
    });
    const input = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      FunctionName: 'shop-api',
      Qualifier: '7',
      LogType: 'Tail',
      InvocationType: 'RequestResponse',
    });
    expect(JSON.parse(new TextDecoder().decode(input?.Payload as Uint8Array))).toMatchObject({
      'detail-type': 'new-host-check',
      detail: { version: '1.1.0' },
    });
  });

  it('fails on a function error, saying it was a cold start and what the function threw', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      LogResult: tail('REPORT RequestId: 1 Duration: 9 ms Init Duration: 180 ms\n'),
      Payload: payload('{"errorType":"Error","errorMessage":"config key missing on a fresh start"}'),
    });
    expect(await launcher.launch(request('Lambda', LAMBDA_APPSPEC))).toEqual({
      kind: 'failed',
      message: 'a cold invocation of shop-api:7 failed (Unhandled): Error: config key missing on a fresh start',
    });
  });

  it('says when the environment was warm, and refuses other targets and AppSpecs without a TargetVersion', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, LogResult: tail('REPORT RequestId: 1 Duration: 2 ms\n') });
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
  const sleeps: number[] = [];
  const launcher = new EcsOneOffTask(
    { ecs: (region) => new ECSClient({ region }), codedeploy: (region) => new CodeDeployClient({ region }) },
    { readinessTimeoutMs: 60_000, pollMs: 10, sleep: async (ms) => void sleeps.push(ms) },
  );
  const TASK = 'arn:aws:ecs:eu-west-1:123456789012:task/shop/abc';
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
  const container = {
    name: 'web',
    networkInterfaces: [{ privateIpv4Address: '10.0.3.7' }],
  };

  it('runs one task of the new task definition in the service cluster and network, waits for it to be healthy, and stops it', async () => {
    group();
    service();
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    describeAs(
      { taskArn: TASK, lastStatus: 'PENDING', healthStatus: 'UNKNOWN', containers: [container] },
      { taskArn: TASK, lastStatus: 'RUNNING', healthStatus: 'HEALTHY', containers: [container] },
    );
    ecs.on(StopTaskCommand).resolves({});
    const launch = await launcher.launch(request('ECS', ECS_APPSPEC));
    if (launch.kind !== 'started') throw new Error(JSON.stringify(launch));
    expect(ecs.commandCalls(RunTaskCommand)[0]?.args[0].input).toEqual({
      cluster: 'shop',
      taskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8',
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
    expect(launch.samples).toEqual([{ kind: 'ok' }]);
    expect(launch.host.handle).toEqual({ awsRegion: 'eu-west-1', cluster: 'shop', taskArn: TASK });
    // The gate probes the health URL's path on the task itself, with none of the region's alarms.
    expect(launch.host.target).toMatchObject({
      healthUrl: 'http://10.0.3.7:8080/health?deep=1',
      alarms: { names: [] },
    });
    expect(sleeps.length).toBeGreaterThan(0);

    await launcher.stop(launch.host);
    expect(ecs.commandCalls(StopTaskCommand)[0]?.args[0].input).toMatchObject({ cluster: 'shop', task: TASK });
  });

  it('fails a task that stops before it is up, with ECS reasons and exit codes, and stops it', async () => {
    group();
    service();
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    describeAs({
      taskArn: TASK,
      lastStatus: 'STOPPED',
      stoppedReason: 'Essential container in task exited',
      containers: [{ name: 'web', exitCode: 1 }],
    });
    ecs.on(StopTaskCommand).resolves({});
    expect(await launcher.launch(request('ECS', ECS_APPSPEC))).toEqual({
      kind: 'failed',
      message: `task ${TASK} of arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8 stopped: Essential container in task exited (web: exit 1)`,
    });
    expect(ecs.commandCalls(StopTaskCommand)).toHaveLength(1);
  });

  it('fails an UNHEALTHY task and a RunTask that ECS refuses', async () => {
    group();
    service();
    ecs
      .on(RunTaskCommand)
      .resolvesOnce({ tasks: [{ taskArn: TASK }] })
      .resolvesOnce({
        failures: [{ reason: 'RESOURCE:MEMORY', detail: 'no capacity' }],
      });
    describeAs({ taskArn: TASK, lastStatus: 'RUNNING', healthStatus: 'UNHEALTHY', containers: [container] });
    ecs.on(StopTaskCommand).resolves({});
    expect(await launcher.launch(request('ECS', ECS_APPSPEC))).toMatchObject({
      kind: 'failed',
      message: expect.stringMatching(/is UNHEALTHY/),
    });
    expect(await launcher.launch(request('ECS', ECS_APPSPEC))).toEqual({
      kind: 'failed',
      message:
        'RunTask of arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8 refused: RESOURCE:MEMORY (no capacity)',
    });
  });

  it('times out a task never up, and leaves Server and Lambda groups to other launchers', async () => {
    const slow = new EcsOneOffTask(
      { ecs: (region) => new ECSClient({ region }), codedeploy: (region) => new CodeDeployClient({ region }) },
      { readinessTimeoutMs: 0, sleep: async () => {} },
    );
    group();
    service();
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK }] });
    describeAs({ taskArn: TASK, lastStatus: 'PROVISIONING', containers: [container] });
    ecs.on(StopTaskCommand).resolves({});
    expect(await slow.launch(request('ECS', ECS_APPSPEC))).toMatchObject({
      kind: 'failed',
      message: expect.stringMatching(/not RUNNING and healthy within 0 ms \(PROVISIONING/),
    });
    expect(ecs.commandCalls(StopTaskCommand)).toHaveLength(1);
    expect((await launcher.launch(request('Lambda', LAMBDA_APPSPEC))).kind).toBe('unsupported');
  });
});
