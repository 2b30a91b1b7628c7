/**
 * A Server group's new host against moto's server (`moto_server`): real HTTP, the hand-signed Query
 * requests as sent to AWS (adapters/aws/signed-query.ts), moto's Auto Scaling and EC2 models. moto
 * 5.2 launches an Auto Scaling instance at once InService and Healthy (no lifecycle hook, no
 * CodeDeploy install, an unreachable private IP), so the states a real launch passes through, the
 * health URL on the instance and AWS's error answers are tested against a local Query server in
 * asg-new-host.test.ts. moto's CodeDeploy keeps a deployment group's `autoScalingGroups` as bare
 * names (AWS answers `{name, hook}` objects), so the group is named here directly; the real
 * GetDeploymentGroup shape is read in asg-new-host.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsgScaleOut } from '../../../adapters/aws/asg-new-host.ts';
import { find, items, type QueryApi, signedQuery, text } from '../../../adapters/aws/signed-query.ts';
import type { NewHostRequest } from '../../../ports/new-host.ts';
import { type MotoServer, skipWithout, startMoto } from '../../helpers/aws-tools.ts';
import { cdTarget, gate } from './helpers.ts';

const SKIP = skipWithout(
  'moto_server',
  'the Auto Scaling new host against moto (test/adapters/aws/asg-new-host-moto.test.ts)',
);
const REGION = 'eu-west-1';

let moto: MotoServer;
let query: QueryApi;

const call = (service: 'autoscaling' | 'ec2', action: string, params: Record<string, string> = {}) =>
  query({ service, awsRegion: REGION, action, params });

/** What the group is now: its desired capacity and its instances' ids and lifecycle states. */
async function group(name: string): Promise<{ desired: number; instances: Record<string, string> }> {
  const answer = await call('autoscaling', 'DescribeAutoScalingGroups', { 'AutoScalingGroupNames.member.1': name });
  const g = items(answer.children[0]?.children[0]?.children.find((c) => c.name === 'AutoScalingGroups'))[0];
  const instances: Record<string, string> = {};
  for (const i of items(g?.children.find((c) => c.name === 'Instances'))) {
    instances[text(i, 'InstanceId') ?? '?'] = text(i, 'LifecycleState') ?? '?';
  }
  return { desired: Number(text(g, 'DesiredCapacity')), instances };
}

/** EC2's state and tags of an instance. */
async function ec2(instanceId: string): Promise<{ state?: string; tags: Record<string, string> }> {
  const answer = await call('ec2', 'DescribeInstances', { 'InstanceId.1': instanceId });
  const reservation = items(answer.children[0]?.children.find((c) => c.name === 'reservationSet'))[0];
  const instance = items(reservation?.children.find((c) => c.name === 'instancesSet'))[0];
  const tags: Record<string, string> = {};
  for (const t of items(instance?.children.find((c) => c.name === 'tagSet')))
    tags[text(t, 'key') ?? ''] = text(t, 'value') ?? '';
  const state = text(
    instance?.children.find((c) => c.name === 'instanceState'),
    'name',
  );
  return { ...(state ? { state } : {}), tags };
}

async function createGroup(name: string, desired: number, max: number): Promise<void> {
  await call('autoscaling', 'CreateAutoScalingGroup', {
    AutoScalingGroupName: name,
    'LaunchTemplate.LaunchTemplateName': 'shop',
    MinSize: '1',
    MaxSize: String(max),
    DesiredCapacity: String(desired),
    VPCZoneIdentifier: subnet,
  });
}

let subnet: string;

beforeAll(async () => {
  if (SKIP) return;
  moto = await startMoto();
  query = signedQuery({
    credentials: async () => ({ accessKeyId: 'moto', secretAccessKey: 'moto' }),
    endpoint: () => moto.endpoint,
  });
  // One of moto's default subnets: an Auto Scaling group needs one.
  subnet = find(await call('ec2', 'DescribeSubnets'), 'subnetId')?.text ?? '';
  await call('ec2', 'CreateLaunchTemplate', {
    LaunchTemplateName: 'shop',
    'LaunchTemplateData.ImageId': 'ami-12c6146b',
    'LaunchTemplateData.InstanceType': 't3.micro',
  });
}, 120_000);
afterAll(async () => {
  await moto?.close();
});

const launcher = (name: string) => new AsgScaleOut({ query, groupOf: async () => name }, {});

const request = (releaseId: string, region = 'eu-west'): NewHostRequest => ({
  service: 'shop',
  releaseId,
  wave: 0,
  region,
  name: `new host (${region})`,
  // No health URL: moto's instance IP answers nothing, so Auto Scaling's word is the evidence here.
  target: cdTarget({ platform: 'Server', awsRegion: REGION }),
  revision: { version: '1.1.0', artifact: 's3://builds-eu-west-1/shop/1.1.0.zip' },
  gate: gate(),
  readinessTimeoutMs: 60_000,
});

const probe = { expectedVersion: '1.1.0', gate: gate(), count: 2 };

describe.skipIf(SKIP)('AsgScaleOut on moto', () => {
  it('scales the group out by one, finds the new instance by difference, tags it, passes it once InService, and terminates it with the capacity back', async () => {
    await createGroup('shop-a', 2, 4);
    const before = await group('shop-a');
    const launch = await launcher('shop-a').launch(request('shop-1.1.0-1'));
    if (launch.kind !== 'started') throw new Error(`${JSON.stringify(launch)}\n${moto.output().slice(-2000)}`);
    expect(launch.host.handle).toMatchObject({
      platform: 'Server',
      autoScalingGroup: 'shop-a',
      desiredBefore: 2,
      releaseId: 'shop-1.1.0-1',
      before: Object.keys(before.instances).join(','),
    });
    const out = await group('shop-a');
    expect(out.desired).toBe(3);
    const added = Object.keys(out.instances).filter((id) => !(id in before.instances));
    expect(added).toHaveLength(1);
    const instanceId = added[0] as string;

    expect(await launcher('shop-a').probe(launch.host, probe)).toEqual([{ kind: 'ok' }, { kind: 'ok' }]);
    expect((await ec2(instanceId)).tags).toMatchObject({
      'flotilla:release': 'shop-1.1.0-1',
      'flotilla:new-host': 'eu-west',
    });
    // The next round finds it by its tag.
    expect(await launcher('shop-a').probe(launch.host, probe)).toEqual([{ kind: 'ok' }, { kind: 'ok' }]);

    await launcher('shop-a').stop(launch.host);
    const after = await group('shop-a');
    expect(after.desired).toBe(2);
    expect(Object.keys(after.instances).sort()).toEqual(Object.keys(before.instances).sort());
    expect((await ec2(instanceId)).state).toBe('terminated');
    // Gone: every probe of a round fails, naming it; a second stop changes nothing.
    const gone = await launcher('shop-a').probe(launch.host, probe);
    expect(gone).toEqual(
      Array(2).fill({
        kind: 'error',
        message: `instance ${instanceId} of Auto Scaling group shop-a is no longer in the group (EC2: terminated)`,
      }),
    );
    await launcher('shop-a').stop(launch.host);
    expect((await group('shop-a')).desired).toBe(2);
  });

  it('refuses a group at its MaxSize, and never raises it', async () => {
    await createGroup('shop-full', 2, 2);
    const launch = await launcher('shop-full').launch(request('shop-1.1.0-2'));
    expect(launch).toEqual({
      kind: 'unsupported',
      why: expect.stringContaining('Auto Scaling group shop-full is at its MaxSize (2 of 2)'),
    });
    expect((await group('shop-full')).desired).toBe(2);
  });

  it('terminates only what the release left, found by its tag in the group', async () => {
    await createGroup('shop-b', 1, 5);
    const targets = [
      cdTarget({ platform: 'Server', awsRegion: REGION }),
      cdTarget({ platform: 'ECS', awsRegion: REGION }),
    ];
    const mine = await launcher('shop-b').launch(request('shop-1.2.0-1'));
    if (mine.kind !== 'started') throw new Error(JSON.stringify(mine));
    await launcher('shop-b').probe(mine.host, probe);
    const other = await launcher('shop-b').launch(request('shop-0.9.0-1', 'us-east'));
    if (other.kind !== 'started') throw new Error(JSON.stringify(other));
    await launcher('shop-b').probe(other.host, probe);
    const tagged = async (release: string) => {
      const out = await group('shop-b');
      const found: string[] = [];
      for (const id of Object.keys(out.instances))
        if ((await ec2(id)).tags['flotilla:release'] === release) found.push(id);
      return found;
    };
    const [mineId] = await tagged('shop-1.2.0-1');
    const [otherId] = await tagged('shop-0.9.0-1');
    expect(mineId && otherId && mineId !== otherId).toBeTruthy();
    expect((await group('shop-b')).desired).toBe(3);

    expect(await launcher('shop-b').stopLeft('shop-1.2.0-1', targets)).toEqual(['new host (eu-west)']);
    const after = await group('shop-b');
    expect(after.desired).toBe(2);
    expect(Object.keys(after.instances)).not.toContain(mineId);
    expect(Object.keys(after.instances)).toContain(otherId);
    expect((await ec2(mineId as string)).state).toBe('terminated');
    // Nothing left of that release; without targets nothing is looked at.
    expect(await launcher('shop-b').stopLeft('shop-1.2.0-1', targets)).toEqual([]);
    expect(await launcher('shop-b').stopLeft(undefined, [])).toEqual([]);
    // Without a release id: every new host flotilla tagged in the group.
    expect(await launcher('shop-b').stopLeft(undefined, targets)).toEqual(['new host (us-east)']);
    expect((await group('shop-b')).desired).toBe(1);
  });

  it('marks the launch on the group: a retried launch does not scale out again, and the sweep finds an instance no round saw', async () => {
    await createGroup('shop-c', 1, 4);
    const before = await group('shop-c');
    // EC2's LaunchTime has whole seconds: the group's own instance a second older than the mark.
    await new Promise((done) => setTimeout(done, 1_100));
    const first = await launcher('shop-c').launch(request('shop-1.3.0-1'));
    if (first.kind !== 'started') throw new Error(JSON.stringify(first));
    const retried = await launcher('shop-c').launch(request('shop-1.3.0-1'));
    expect(retried).toEqual(first);
    const out = await group('shop-c');
    expect(out.desired).toBe(2);
    const added = Object.keys(out.instances).filter((id) => !(id in before.instances));
    expect(added).toHaveLength(1);
    const tags = async () => {
      const answer = await call('autoscaling', 'DescribeTags', {
        'Filters.member.1.Name': 'auto-scaling-group',
        'Filters.member.1.Values.member.1': 'shop-c',
      });
      return items(find(answer, 'Tags')).map((t) => [text(t, 'Key'), text(t, 'Value'), text(t, 'PropagateAtLaunch')]);
    };
    expect(await tags()).toEqual([
      ['flotilla:new-host:shop-1.3.0-1:eu-west', expect.stringMatching(/^shop-1\.3\.0-1 0 1 \d+$/), 'false'],
    ]);
    // No round saw it (the execution died): untagged, yet the sweep finds it by the mark.
    expect((await ec2(added[0] as string)).tags['flotilla:release']).toBeUndefined();
    const targets = [cdTarget({ platform: 'Server', awsRegion: REGION })];
    expect(await launcher('shop-c').stopLeft('shop-1.3.0-1', targets)).toEqual(['new host (eu-west)']);
    expect((await ec2(added[0] as string)).state).toBe('terminated');
    const after = await group('shop-c');
    expect(after.desired).toBe(1);
    expect(Object.keys(after.instances)).toEqual(Object.keys(before.instances));
    expect(await tags()).toEqual([]);
  });

  it('answers AWS’s errors, in either service’s shape, as errors named by their Code', async () => {
    const failed = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    // EC2: <Response><Errors><Error><Code>…
    const ec2Error = await failed(call('ec2', 'DescribeInstances', { 'InstanceId.1': 'i-0123456789abcdef0' }));
    expect(ec2Error?.name).toBe('InvalidInstanceID.NotFound');
    expect(ec2Error?.message).toMatch(
      /^EC2 DescribeInstances in eu-west-1: HTTP 400 InvalidInstanceID.NotFound: .*i-0123456789abcdef0/,
    );
    // Auto Scaling: <ErrorResponse><Error><Code>…
    const asgError = await failed(
      call('autoscaling', 'CreateAutoScalingGroup', { AutoScalingGroupName: 'shop-bad', MinSize: '1', MaxSize: '1' }),
    );
    expect(asgError?.name).toBe('ValidationError');
    expect(asgError?.message).toContain('Auto Scaling CreateAutoScalingGroup in eu-west-1: HTTP 400 ValidationError: ');
  });
});
