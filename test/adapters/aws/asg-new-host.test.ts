/**
 * A Server group's new host at its HTTP boundary: Auto Scaling and EC2 are a real local HTTP
 * server answering the Query protocol as AWS does (XML, AWS's error shapes), scripted per test, so
 * the states a real launch goes through (Pending:Wait while CodeDeploy installs, Terminating after
 * a failed install), throttling and refusals can be shown, which moto cannot
 * (asg-new-host-moto.test.ts runs what moto can). CodeDeploy's GetDeploymentGroup is mocked at the
 * SDK boundary with AWS's shape. The instance's health URL is a real HTTP server on 127.0.0.1,
 * probed by the real CloudWatchProber.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CodeDeployClient, GetDeploymentGroupCommand } from '@aws-sdk/client-codedeploy';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { autoScalingGroupOfGroup } from '../../../adapters/aws/asg-group.ts';
import { AsgScaleOut, NO_ASG_WHY } from '../../../adapters/aws/asg-new-host.ts';
import { AwsClients } from '../../../adapters/aws/clients.ts';
import { CloudWatchProber } from '../../../adapters/aws/cloudwatch-prober.ts';
import { AwsThrottled } from '../../../adapters/aws/errors.ts';
import { AwsNewHosts, SERVER_WHY } from '../../../adapters/aws/new-hosts.ts';
import { parseXml, queryEndpoints, signedQuery } from '../../../adapters/aws/signed-query.ts';
import type { NewHostLaunch, NewHostRef, NewHostRequest } from '../../../ports/new-host.ts';
import {
  asgError,
  ec2Error,
  type FakeActivity,
  type FakeAutoScaling,
  type FakeGroup,
  type FakeInstance,
  startFakeAutoScaling,
} from '../../helpers/fake-auto-scaling.ts';
import { cdTarget, gate, rejection } from './helpers.ts';

const codedeploy = mockClient(CodeDeployClient);

let fake: FakeAutoScaling;
let queryUrl: string;
/** The instance's own health endpoint. */
let healthServer: Server;
let healthPort: number;
let health = { status: 200, version: '1.1.0' };

beforeAll(async () => {
  fake = await startFakeAutoScaling();
  queryUrl = fake.url;
  healthServer = createServer((_, res) => {
    res.writeHead(health.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ version: health.version }));
  });
  await new Promise<void>((ok) => healthServer.listen(0, '127.0.0.1', ok));
  healthPort = (healthServer.address() as AddressInfo).port;
});
afterAll(async () => {
  await fake.close();
  await new Promise((ok) => healthServer.close(ok));
});
afterEach(() => {
  codedeploy.reset();
  health = { status: 200, version: '1.1.0' };
});

const OLD: FakeInstance[] = [
  { id: 'i-old1', state: 'InService' },
  { id: 'i-old2', state: 'InService' },
];

/** One group, `shop-asg`, as AWS would answer it (test/helpers/fake-auto-scaling.ts). */
function world(start: { desired: number; max: number; instances: FakeInstance[]; ips?: Record<string, string> }) {
  const w = fake.reset({ 'shop-asg': { desired: start.desired, max: start.max, instances: start.instances } });
  Object.assign(w.ips, start.ips);
  const activities: FakeActivity[] = [];
  w.activities['shop-asg'] = activities;
  const group = w.groups['shop-asg'] as FakeGroup;
  return {
    get desired() {
      return group.desired;
    },
    instances: group.instances,
    activities,
    fail: w.fail,
    tags: w.tags,
    /** The group's own tags: the launch marks. */
    groupTags: group.tags,
    launchTimes: w.launchTimes,
  };
}
const seenActions = () => fake.seen.map((s) => s.action);
const seenOf = (action: string) => fake.seen.filter((s) => s.action === action);

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' };
const query = signedQuery({ credentials: async () => credentials, endpoint: () => queryUrl });
let clock = 1_000_000;
const launcher = new AsgScaleOut(
  { query, groupOf: autoScalingGroupOfGroup((region) => new CodeDeployClient({ region })) },
  { prober: new CloudWatchProber({ clients: new AwsClients() }), now: () => clock },
);
afterEach(() => {
  clock = 1_000_000;
});
const withAsg = () =>
  codedeploy.on(GetDeploymentGroupCommand).resolves({
    deploymentGroupInfo: {
      autoScalingGroups: [{ name: 'shop-asg', hook: 'CodeDeploy-managed-automatic-launch-deployment-hook-shop-1' }],
    },
  });

const request = (over: Partial<NewHostRequest> = {}): NewHostRequest => ({
  service: 'shop',
  releaseId: 'shop-1.1.0-1',
  wave: 0,
  region: 'eu-west',
  name: 'new host (eu-west)',
  target: cdTarget({ platform: 'Server', healthUrl: `http://shop.example.com:${healthPort}/health?deep=1` }),
  revision: { version: '1.1.0', artifact: 's3://builds-eu-west-1/shop/1.1.0.zip' },
  gate: gate(),
  readinessTimeoutMs: 60_000,
  ...over,
});
const probe = (host: Pick<NewHostRef, 'name' | 'region' | 'handle' | 'target'>) =>
  launcher.probe(host, { expectedVersion: '1.1.0', gate: gate(), count: 3 });

async function started(
  over: Partial<NewHostRequest> = {},
): Promise<Extract<NewHostLaunch, { kind: 'started' }>['host']> {
  withAsg();
  const launch = await launcher.launch(request(over));
  if (launch.kind !== 'started') throw new Error(JSON.stringify(launch));
  return launch.host;
}

describe('AsgScaleOut', () => {
  it('marks the group, raises its desired capacity by one with a signed Query POST, and returns at once with what was there before', async () => {
    const aws = world({ desired: 2, max: 4, instances: OLD });
    const host = await started();
    expect(seenActions()).toEqual(['DescribeAutoScalingGroups', 'CreateOrUpdateTags', 'SetDesiredCapacity']);
    // The launch's mark, on the group only (PropagateAtLaunch false), before the capacity is raised.
    expect(fake.seen[1]?.params).toEqual({
      Action: 'CreateOrUpdateTags',
      Version: '2011-01-01',
      'Tags.member.1.ResourceId': 'shop-asg',
      'Tags.member.1.ResourceType': 'auto-scaling-group',
      'Tags.member.1.Key': 'flotilla:new-host:shop-1.1.0-1:eu-west',
      'Tags.member.1.Value': 'shop-1.1.0-1 0 2 1000000',
      'Tags.member.1.PropagateAtLaunch': 'false',
    });
    expect(aws.groupTags).toEqual({ 'flotilla:new-host:shop-1.1.0-1:eu-west': 'shop-1.1.0-1 0 2 1000000' });
    expect(fake.seen[2]?.params).toEqual({
      Action: 'SetDesiredCapacity',
      Version: '2011-01-01',
      AutoScalingGroupName: 'shop-asg',
      DesiredCapacity: '3',
      HonorCooldown: 'false',
    });
    expect(fake.seen[2]?.headers).toMatchObject({
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'x-amz-security-token': 'token',
      authorization: expect.stringMatching(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/autoscaling\/aws4_request, /,
      ),
    });
    expect(aws.desired).toBe(3);
    expect(codedeploy.commandCalls(GetDeploymentGroupCommand)[0]?.args[0].input).toEqual({
      applicationName: 'shop',
      deploymentGroupName: 'shop-prod',
    });
    expect(host).toEqual({
      name: 'new host (eu-west)',
      region: 'eu-west',
      wave: 0,
      probedBy: 'launcher',
      handle: {
        platform: 'Server',
        awsRegion: 'eu-west-1',
        autoScalingGroup: 'shop-asg',
        before: 'i-old1,i-old2',
        desiredBefore: 2,
        releaseId: 'shop-1.1.0-1',
        launchedAt: 1_000_000,
        readinessTimeoutMs: 60_000,
        healthScheme: 'http',
        healthPort,
        healthPath: '/health?deep=1',
      },
      target: expect.objectContaining({ kind: 'codedeploy', platform: 'Server', alarms: { names: [] } }),
    });
    expect(host.target && 'healthUrl' in host.target).toBe(false);
  });

  it('does not raise the capacity again when its launch is retried: the group’s mark gives back the first try’s handle', async () => {
    const aws = world({ desired: 2, max: 3, instances: OLD });
    const first = await started();
    expect(aws.desired).toBe(3);
    // StartBake retried (a later step threw) 20 s on: at its MaxSize now, and not raised again.
    clock += 20_000;
    const retried = await started();
    expect(seenOf('SetDesiredCapacity')).toHaveLength(1);
    expect(aws.desired).toBe(3);
    expect(retried).toEqual(first);
    // Retried once the new instance is in the group but no round saw it: it is no instance of before.
    aws.instances.push({ id: 'i-new', state: 'Pending:Wait' });
    aws.launchTimes['i-old1'] = 900_000;
    aws.launchTimes['i-new'] = 1_003_000;
    const later = await started();
    expect(later.handle).toMatchObject({ before: 'i-old1,i-old2', desiredBefore: 2, launchedAt: 1_000_000 });
    expect(seenOf('SetDesiredCapacity')).toHaveLength(1);
    // Once a round named it in the mark, no EC2 look is needed to tell it apart.
    expect(await probe(later)).toEqual([]);
    expect(aws.groupTags['flotilla:new-host:shop-1.1.0-1:eu-west']).toBe('shop-1.1.0-1 0 2 1000000 i-new');
    const looks = seenOf('DescribeInstances').length;
    expect((await started()).handle).toMatchObject({ before: 'i-old1,i-old2' });
    expect(seenOf('DescribeInstances')).toHaveLength(looks);
    // A mark older than the readiness timeout is a launch of before: marked over and launched anew.
    clock += 60_000;
    const again = world({ desired: 2, max: 4, instances: OLD });
    again.groupTags['flotilla:new-host:shop-1.1.0-1:eu-west'] = 'shop-1.1.0-1 0 2 1000000';
    await started();
    expect(again.desired).toBe(3);
    expect(again.groupTags['flotilla:new-host:shop-1.1.0-1:eu-west']).toBe('shop-1.1.0-1 0 2 1080000');
  });

  it('deletes the mark when the new host is stopped, whichever way its capacity goes back', async () => {
    const aws = world({ desired: 2, max: 4, instances: OLD });
    const host = await started();
    aws.instances.push({ id: 'i-new', state: 'InService' });
    await launcher.stop(host);
    // Found by difference (no round saw it): named in the mark before it is terminated, then the mark goes.
    expect(seenActions().slice(-4)).toEqual([
      'DescribeInstances',
      'CreateOrUpdateTags',
      'TerminateInstanceInAutoScalingGroup',
      'DeleteTags',
    ]);
    expect(seenOf('CreateOrUpdateTags')[1]?.params['Tags.member.1.Value']).toBe('shop-1.1.0-1 0 2 1000000 i-new');
    expect(seenOf('DeleteTags')[0]?.params).toEqual({
      Action: 'DeleteTags',
      Version: '2011-01-01',
      'Tags.member.1.ResourceId': 'shop-asg',
      'Tags.member.1.ResourceType': 'auto-scaling-group',
      'Tags.member.1.Key': 'flotilla:new-host:shop-1.1.0-1:eu-west',
    });
    expect(aws.groupTags).toEqual({});
    expect(aws.desired).toBe(2);
  });

  it('sweeps a launch no round saw, found by the group’s mark: its instance terminated, or its capacity given back', async () => {
    const targets = [cdTarget({ platform: 'Server' })];
    // The execution died after the launch, before any round: the instance is untagged.
    const aws = world({ desired: 2, max: 5, instances: OLD });
    await started();
    aws.launchTimes['i-old1'] = 10_000;
    aws.launchTimes['i-old2'] = 10_000;
    aws.instances.push({ id: 'i-new', state: 'Pending:Wait' });
    aws.launchTimes['i-new'] = 1_004_000;
    expect(await launcher.stopLeft('shop-1.1.0-1', targets)).toEqual(['new host (eu-west)']);
    expect(seenOf('TerminateInstanceInAutoScalingGroup').map((s) => s.params.InstanceId)).toEqual(['i-new']);
    expect(aws.desired).toBe(2);
    expect(aws.groupTags).toEqual({});
    // Another release's mark and tagged new host in the same group are left alone.
    const shared = world({ desired: 3, max: 5, instances: [...OLD, { id: 'i-theirs', state: 'InService' }] });
    shared.groupTags['flotilla:new-host:shop-1.0.0-1:us-east'] = 'shop-1.0.0-1 0 2 999000';
    shared.tags['i-theirs'] = { 'flotilla:release': 'shop-1.0.0-1', 'flotilla:new-host': 'us-east' };
    shared.launchTimes['i-theirs'] = 1_001_000;
    await started();
    expect(shared.desired).toBe(4);
    // Died before the group launched anything: the capacity goes back down by the one it added.
    expect(await launcher.stopLeft('shop-1.1.0-1', targets)).toEqual(['new host (eu-west)']);
    expect(seenOf('TerminateInstanceInAutoScalingGroup')).toEqual([]);
    expect(seenOf('SetDesiredCapacity').map((s) => s.params.DesiredCapacity)).toEqual(['4', '3']);
    expect(shared.groupTags).toEqual({ 'flotilla:new-host:shop-1.0.0-1:us-east': 'shop-1.0.0-1 0 2 999000' });
    // Nothing left of it: a second sweep changes nothing.
    expect(await launcher.stopLeft('shop-1.1.0-1', targets)).toEqual([]);
    expect(shared.desired).toBe(3);
  });

  it('has none for a group at its MaxSize (never raising it) or a Server group with no Auto Scaling group', async () => {
    const aws = world({ desired: 3, max: 3, instances: OLD });
    withAsg();
    expect(await launcher.launch(request())).toEqual({
      kind: 'unsupported',
      why: 'Auto Scaling group shop-asg is at its MaxSize (3 of 3), so it has no room for a new host (Flotilla never raises MaxSize): the wave is gated on its regions alone',
    });
    expect(aws.desired).toBe(3);
    expect(seenActions()).toEqual(['DescribeAutoScalingGroups']);
    expect(aws.groupTags).toEqual({});
    codedeploy
      .on(GetDeploymentGroupCommand)
      .resolves({ deploymentGroupInfo: { ec2TagFilters: [{ Key: 'app', Value: 'shop' }] } });
    expect(await launcher.launch(request())).toEqual({ kind: 'unsupported', why: NO_ASG_WHY });
    expect(await launcher.launch(request({ target: cdTarget({ platform: 'ECS' }) }))).toEqual({
      kind: 'unsupported',
      why: 'not an EC2/Server deployment group',
    });
  });

  it('fails a launch Auto Scaling refuses, with its error code and message', async () => {
    const aws = world({ desired: 2, max: 4, instances: OLD });
    aws.fail.SetDesiredCapacity = asgError(
      'ValidationError',
      'New SetDesiredCapacity value 3 is above max value 2 for the AutoScalingGroup.',
    );
    withAsg();
    expect(await launcher.launch(request())).toEqual({
      kind: 'failed',
      message:
        'Auto Scaling SetDesiredCapacity in eu-west-1: HTTP 400 ValidationError: New SetDesiredCapacity value 3 is above max value 2 for the AutoScalingGroup.',
    });
    // Nothing launched: its mark is gone too.
    expect(seenActions().slice(-2)).toEqual(['SetDesiredCapacity', 'DeleteTags']);
    expect(aws.groupTags).toEqual({});
    aws.fail.DescribeAutoScalingGroups = asgError('Throttling', 'Rate exceeded');
    const throttled = await launcher.launch(request());
    expect(throttled).toEqual({
      kind: 'failed',
      message: expect.stringMatching(
        /^Auto Scaling DescribeAutoScalingGroups in eu-west-1 was throttled \(Throttling\): .*Rate exceeded$/,
      ),
    });
  });

  it('gives no samples while there is no new instance or it is Pending:Wait, and tags it the round it first sees it', async () => {
    const aws = world({ desired: 2, max: 4, instances: OLD });
    const host = await started();
    expect(await probe(host)).toEqual([]);
    expect(seenActions().includes('CreateTags')).toBe(false);
    aws.instances.push({ id: 'i-new', state: 'Pending:Wait' });
    expect(await probe(host)).toEqual([]);
    const tagging = seenOf('CreateTags');
    expect(tagging.map((s) => s.params)).toEqual([
      {
        Action: 'CreateTags',
        Version: '2016-11-15',
        'ResourceId.1': 'i-new',
        'Tag.1.Key': 'flotilla:release',
        'Tag.1.Value': 'shop-1.1.0-1',
        'Tag.2.Key': 'flotilla:new-host',
        'Tag.2.Value': 'eu-west',
      },
    ]);
    expect(tagging[0]?.headers.authorization).toMatch(/\/eu-west-1\/ec2\/aws4_request, /);
    // Found by its tag from now on: no second CreateTags.
    expect(await probe(host)).toEqual([]);
    expect(seenOf('CreateTags')).toHaveLength(1);
  });

  it('probes the health URL’s path and port on the instance’s private IP once it is InService and Healthy', async () => {
    const aws = world({ desired: 2, max: 4, instances: OLD, ips: { 'i-new': '127.0.0.1' } });
    const host = await started();
    aws.instances.push({ id: 'i-new', state: 'InService', health: 'Healthy' });
    expect(await probe(host)).toEqual(Array(3).fill({ kind: 'ok', status: 200, version: '1.1.0' }));
    health = { status: 200, version: '1.0.0' };
    const stale = await probe(host);
    expect(stale.map((s) => s.kind)).toEqual(['error', 'error', 'error']);
    expect(JSON.stringify(stale[0])).toContain(`http://127.0.0.1:${healthPort}/health?deep=1`);
  });

  it('takes Auto Scaling’s word for it when the region has no health URL', async () => {
    const aws = world({ desired: 2, max: 4, instances: OLD });
    const host = await started({ target: cdTarget({ platform: 'Server' }) });
    aws.instances.push({ id: 'i-new', state: 'InService', health: 'Healthy' });
    expect(await probe(host)).toEqual(Array(3).fill({ kind: 'ok' }));
    expect(seenOf('DescribeScalingActivities')).toHaveLength(0);
  });

  it('fails every probe of a round on an instance that goes Terminating or Unhealthy, with the scaling activity’s account', async () => {
    const aws = world({ desired: 2, max: 4, instances: OLD });
    const host = await started();
    aws.instances.push({ id: 'i-new', state: 'Terminating', health: 'Healthy' });
    aws.activities.push(
      {
        description: 'Terminating EC2 instance: i-new',
        status: 'InProgress',
        message:
          'Instance failed to complete user’s Lifecycle Action: Lifecycle Action with token abc was abandoned: CodeDeploy deployment d-XYZ failed',
      },
      { description: 'Launching a new EC2 instance: i-old2', status: 'Successful' },
    );
    expect(await probe(host)).toEqual(
      Array(3).fill({
        kind: 'error',
        message:
          'instance i-new of Auto Scaling group shop-asg is Terminating; latest scaling activity: InProgress: Instance failed to complete user’s Lifecycle Action: Lifecycle Action with token abc was abandoned: CodeDeploy deployment d-XYZ failed',
      }),
    );
    const unhealthy = aws.instances.find((i) => i.id === 'i-new') as FakeInstance;
    unhealthy.state = 'InService';
    unhealthy.health = 'Unhealthy';
    aws.activities.length = 0;
    expect((await probe(host))[0]).toEqual({
      kind: 'error',
      message: 'instance i-new of Auto Scaling group shop-asg is InService, Unhealthy',
    });
  });

  it('fails a launch that never came once past the readiness timeout, naming the group’s failed launch', async () => {
    const aws = world({ desired: 2, max: 4, instances: OLD });
    const host = await started();
    aws.activities.push({
      description:
        'Launching a new EC2 instance.  Status Reason: We currently do not have sufficient t3.micro capacity',
      status: 'Failed',
      message:
        'We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (eu-west-1a).',
    });
    clock += 59_000;
    expect(await probe(host)).toEqual([]);
    expect(seenOf('DescribeScalingActivities')).toHaveLength(0);
    clock += 2_000;
    expect((await probe(host))[0]).toEqual({
      kind: 'error',
      message:
        'the new instance of Auto Scaling group shop-asg not up within 60 s of its start (no new instance in the group yet; latest scaling activity: Failed: We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (eu-west-1a).)',
    });
  });

  it('fails the new host of a group that no longer exists', async () => {
    world({ desired: 2, max: 4, instances: OLD });
    const host = await started();
    fake.reset({});
    expect((await probe(host))[0]).toEqual({
      kind: 'error',
      message: 'the new instance of Auto Scaling group shop-asg is gone: Auto Scaling group shop-asg no longer exists',
    });
  });

  it('counts a round it cannot read as unanswered, never as a pass or a failure', async () => {
    const aws = world({ desired: 2, max: 4, instances: OLD });
    const host = await started();
    aws.fail.DescribeInstances = ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
    const round = await probe(host);
    expect(round).toHaveLength(3);
    expect(round[0]).toEqual({
      kind: 'missing',
      message: expect.stringMatching(
        /^reading Auto Scaling group shop-asg failed: EC2 DescribeInstances in eu-west-1 was throttled \(RequestLimitExceeded\): .*HTTP 503 RequestLimitExceeded: Request limit exceeded\.$/,
      ),
    });
  });

  it('terminates the new instance with the capacity decremented, and once only', async () => {
    const aws = world({ desired: 2, max: 4, instances: OLD });
    const host = await started();
    aws.instances.push({ id: 'i-new', state: 'InService' });
    await probe(host);
    await launcher.stop(host);
    await launcher.stop(host);
    expect(seenOf('TerminateInstanceInAutoScalingGroup').map((s) => s.params)).toEqual([
      {
        Action: 'TerminateInstanceInAutoScalingGroup',
        Version: '2011-01-01',
        InstanceId: 'i-new',
        ShouldDecrementDesiredCapacity: 'true',
      },
    ]);
    expect(aws.desired).toBe(2);
  });

  it('gives the capacity back for a new host never seen: its instance found by difference, or the desired capacity lowered while still raised', async () => {
    const aws = world({ desired: 2, max: 4, instances: OLD });
    const host = await started();
    // Launched, never probed: untagged, found as a round finds it.
    aws.instances.push({ id: 'i-new', state: 'Pending:Wait' });
    await launcher.stop(host);
    expect(seenOf('TerminateInstanceInAutoScalingGroup').map((s) => s.params.InstanceId)).toEqual(['i-new']);
    expect(aws.desired).toBe(2);

    // Not launched yet at all: the desired capacity goes back down by the one it added, once.
    const next = world({ desired: 2, max: 4, instances: OLD });
    const pending = await started({ releaseId: 'shop-1.1.0-2' });
    expect(next.desired).toBe(3);
    await launcher.stop(pending);
    await launcher.stop(pending);
    expect(seenOf('SetDesiredCapacity').map((s) => s.params.DesiredCapacity)).toEqual(['3', '2']);
    expect(next.desired).toBe(2);
  });

  it('sweeps the instances tagged with the release in its Server groups’ Auto Scaling groups', async () => {
    const aws = world({
      desired: 4,
      max: 5,
      instances: [...OLD, { id: 'i-mine', state: 'InService' }, { id: 'i-theirs', state: 'InService' }],
    });
    aws.tags['i-mine'] = { 'flotilla:release': 'shop-1.1.0-1', 'flotilla:new-host': 'eu-west' };
    aws.tags['i-theirs'] = { 'flotilla:release': 'shop-1.0.0-1', 'flotilla:new-host': 'us-east' };
    withAsg();
    const targets = [cdTarget(), cdTarget(), cdTarget({ platform: 'ECS', deploymentGroup: 'x' })];
    expect(await launcher.stopLeft('shop-1.1.0-1', targets)).toEqual(['new host (eu-west)']);
    // One look per group, the ECS group left alone.
    expect(codedeploy.commandCalls(GetDeploymentGroupCommand)).toHaveLength(1);
    const described = seenOf('DescribeInstances')[0];
    expect(described?.params).toMatchObject({
      'Filter.1.Name': 'tag:flotilla:release',
      'Filter.1.Value.1': 'shop-1.1.0-1',
      'Filter.2.Name': 'tag:aws:autoscaling:groupName',
      'Filter.2.Value.1': 'shop-asg',
      'Filter.3.Name': 'instance-state-name',
      'Filter.3.Value.1': 'pending',
      'Filter.3.Value.2': 'running',
    });
    expect(seenOf('TerminateInstanceInAutoScalingGroup').map((s) => s.params.InstanceId)).toEqual(['i-mine']);
    // A group that failed to read is reported after the others were swept.
    codedeploy.on(GetDeploymentGroupCommand).rejects(new Error('AccessDenied'));
    expect((await rejection(launcher.stopLeft('shop-1.1.0-1', targets))).message).toBe(
      'stopping the new hosts left failed in shop-prod: AccessDenied',
    );
  });
});

describe('signedQuery', () => {
  it('throws AWS’s error named by its Code, throttling as AwsThrottled with the Code as its cause', async () => {
    fake.reset({});
    fake.world.fail.DescribeAutoScalingGroups = asgError('Throttling', 'Rate exceeded');
    const throttled = await rejection(
      query({ service: 'autoscaling', awsRegion: 'eu-west-1', action: 'DescribeAutoScalingGroups' }),
    );
    expect(throttled.name).toBe(AwsThrottled);
    expect((throttled.cause as Error).name).toBe('Throttling');
    fake.world.fail.DescribeInstances = ec2Error('InvalidInstanceID.Malformed', 'Invalid id: "x"');
    const malformed = await rejection(query({ service: 'ec2', awsRegion: 'eu-west-1', action: 'DescribeInstances' }));
    expect(malformed.name).toBe('InvalidInstanceID.Malformed');
    expect(malformed.message).toBe(
      'EC2 DescribeInstances in eu-west-1: HTTP 400 InvalidInstanceID.Malformed: Invalid id: "x"',
    );
    // Not XML at all (a proxy's error page): named by the HTTP status.
    fake.world.fail.DescribeInstances = { status: 502, body: '<!doctype html><html><title>Bad gateway</title></html>' };
    expect((await rejection(query({ service: 'ec2', awsRegion: 'eu-west-1', action: 'DescribeInstances' }))).name).toBe(
      'QueryHttp502',
    );
    fake.world.fail.DescribeInstances = { status: 429, body: '' };
    expect((await rejection(query({ service: 'ec2', awsRegion: 'eu-west-1', action: 'DescribeInstances' }))).name).toBe(
      AwsThrottled,
    );
  });

  it('goes where the SDK’s endpoint variables say, else to the regional endpoint', () => {
    expect(queryEndpoints({})('autoscaling', 'eu-west-1')).toBe('https://autoscaling.eu-west-1.amazonaws.com');
    expect(queryEndpoints({})('ec2', 'cn-north-1')).toBe('https://ec2.cn-north-1.amazonaws.com.cn');
    const env = { AWS_ENDPOINT_URL: 'http://all', AWS_ENDPOINT_URL_EC2: 'http://ec2' };
    expect(queryEndpoints(env)('ec2', 'eu-west-1')).toBe('http://ec2');
    expect(queryEndpoints(env)('autoscaling', 'eu-west-1')).toBe('http://all');
  });

  it('reads XML forgivingly: entities, CDATA, namespaces, self-closing and unclosed elements', () => {
    const tree = parseXml(
      '<?xml version="1.0"?><a:Root xmlns:a="x"><V>shop &amp; cart &#233;</V><C><![CDATA[<raw>]]></C><E/><Open><X>1</X>',
    );
    const root = tree.children[0];
    expect(root?.name).toBe('Root');
    expect(root?.children.map((c) => [c.name, c.text])).toEqual([
      ['V', 'shop & cart é'],
      ['C', '<raw>'],
      ['E', ''],
      ['Open', ''],
    ]);
    expect(root?.children[3]?.children[0]).toEqual({ name: 'X', children: [], text: '1' });
    expect(parseXml('not xml').children).toEqual([]);
  });
});

describe('AwsNewHosts with a Server part', () => {
  it('sends a Server group to its Auto Scaling group, probes and stops what is an Auto Scaling instance, and says why without one', async () => {
    const aws = world({ desired: 2, max: 4, instances: OLD });
    withAsg();
    const hosts = new AwsNewHosts({ server: launcher });
    const launch = await hosts.launch(request());
    if (launch.kind !== 'started') throw new Error(JSON.stringify(launch));
    expect(aws.desired).toBe(3);
    expect(await hosts.probe(launch.host, { expectedVersion: '1.1.0', gate: gate(), count: 2 })).toEqual([]);
    await hosts.stop(launch.host);
    expect(aws.desired).toBe(2);
    expect(await new AwsNewHosts({}).launch(request())).toEqual({ kind: 'unsupported', why: SERVER_WHY });
    await expect(new AwsNewHosts({}).stop(launch.host)).rejects.toThrow('cannot stop Auto Scaling instances');
  });
});
