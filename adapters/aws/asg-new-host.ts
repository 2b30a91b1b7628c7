/**
 * A Server group's new host: one more instance of the deployment group's Auto Scaling group. The
 * gate runs once the region's deployment has succeeded, so this build is the group's last
 * successful revision, and CodeDeploy's launch lifecycle hook installs exactly that on an instance
 * the group scales out (https://docs.aws.amazon.com/codedeploy/latest/userguide/integrations-aws-auto-scaling.html):
 * a fresh host of the new build, started with nothing warm.
 *
 * Event-driven, as the ECS task (adapters/aws/ecs-new-host.ts): `launch` reads the group
 * (DescribeAutoScalingGroups), refuses a group at its MaxSize (`unsupported`: Flotilla never
 * raises it), marks the group (a group tag naming the release, region, wave, capacity before and
 * time: core/asg-mark.ts), raises DesiredCapacity by one (SetDesiredCapacity, HonorCooldown false)
 * and returns at once, the group's instance ids of before in its handle. A launch retried after it
 * had raised the capacity finds its mark and returns the first try's handle instead of raising
 * again. Every probe round then reads the group and the instance tagged with the release (EC2
 * DescribeInstances); core/asg-instance.ts says which instance is the new one (not there before)
 * and whether it is up, core/new-host.ts `readinessRound` what that counts. The round that first
 * sees it tags it (`flotilla:release`, `flotilla:new-host`) and names it in the mark. Up
 * (InService, Healthy) → the region's health URL path and port on the instance's private IP,
 * through the ordinary prober (the functions must reach the group's VPC, as for ECS); without a
 * health URL, Auto Scaling's word is the evidence.
 *
 * Torn down with TerminateInstanceInAutoScalingGroup (ShouldDecrementDesiredCapacity: the group
 * goes back to its size), then the mark deleted. `stop` knows the launch's handle, so a new host
 * never seen (the group had not launched it yet) still gives its capacity back: the new instance
 * found by difference is terminated, or, with none yet, the desired capacity is lowered by the one
 * it added if it is still above the launch's. `stopLeft` knows only the release: it terminates the
 * instances tagged with it and, through the release's marks on the group, a launch no round saw
 * (its instance, or its capacity given back); core/asg-mark.ts `leftovers` decides. See docs/aws.md
 * for what is still not found.
 *
 * Auto Scaling and EC2 are reached through signed Query requests (adapters/aws/signed-query.ts),
 * not their SDK clients, for the bundles' sake.
 */
import type { CodeDeployTarget, RegionTarget } from '../../config/types.ts';
import { type AsgInstanceView, asgNewHost } from '../../core/asg-instance.ts';
import {
  type AsgMark,
  adoptedMark,
  beforeOfMark,
  type Ec2InstanceView,
  leftovers,
  markKey,
  markValue,
  parseMarks,
  REGION_TAG,
  RELEASE_TAG,
  stopPlan,
  toNameInMark,
} from '../../core/asg-mark.ts';
import type { ProbeSample } from '../../core/model.ts';
import { newHostName, readinessOverdue } from '../../core/new-host.ts';
import type { HealthProber } from '../../ports/health-prober.ts';
import type {
  NewHostLaunch,
  NewHostLauncher,
  NewHostProbeRequest,
  NewHostRef,
  NewHostRequest,
} from '../../ports/new-host.ts';
import type { AutoScalingGroupOf } from './asg-group.ts';
import { errorMessage } from './errors.ts';
import { handleReadiness, hostUrl, missingProbes, probeReadyHost, startedHost } from './new-host-probe.ts';
import { items, type QueryApi, text, type XmlNode } from './signed-query.ts';

export interface AsgNewHostClients {
  /** Auto Scaling and EC2 Query calls (adapters/aws/signed-query.ts). */
  query: QueryApi;
  /**
   * The deployment group's Auto Scaling group (adapters/aws/asg-group.ts, CodeDeploy
   * GetDeploymentGroup): launching and `stopLeft` need it, probing and stopping do not.
   */
  groupOf?: AutoScalingGroupOf;
}

export interface AsgNewHostOptions {
  /** How long an instance may take to be InService when its handle does not say. */
  readinessTimeoutMs?: number;
  /** Probes the health URL on the instance's private IP once it is InService (the region's own prober). */
  prober?: HealthProber;
  now?: () => number;
}

export { REGION_TAG, RELEASE_TAG };

/** Why a Server group without an Auto Scaling group has no new host. */
export const NO_ASG_WHY =
  'this EC2/Server deployment group names no Auto Scaling group (EC2 tag filters or on-premises instances): no new host can be started for it, so the wave is gated on its regions alone';

type Handle = NewHostRef['handle'];

interface GroupHandle {
  awsRegion: string;
  roleArn?: string;
  group: string;
  before: string[];
  desiredBefore: number;
  releaseId: string;
}

/** The handle's fields this launcher wrote, or null when it is not an Auto Scaling instance's. */
function groupOf(handle: Handle): GroupHandle | null {
  const { awsRegion, roleArn, autoScalingGroup, before, desiredBefore, releaseId } = handle;
  if (typeof awsRegion !== 'string' || typeof autoScalingGroup !== 'string' || typeof releaseId !== 'string') {
    return null;
  }
  return {
    awsRegion,
    ...(typeof roleArn === 'string' ? { roleArn } : {}),
    group: autoScalingGroup,
    before: typeof before === 'string' && before !== '' ? before.split(',') : [],
    desiredBefore: typeof desiredBefore === 'number' ? desiredBefore : Number(desiredBefore),
    releaseId,
  };
}

/** What DescribeAutoScalingGroups says of one group. */
interface GroupView {
  desired: number;
  min: number;
  max: number;
  instances: AsgInstanceView[];
  /** The group's launch marks (its tags under `flotilla:new-host:`, core/asg-mark.ts). */
  marks: AsgMark[];
}

/** What DescribeInstances says of one instance. */
interface Ec2Instance extends Ec2InstanceView {
  state?: string;
  privateIp?: string;
}

type At = { awsRegion: string; roleArn?: string };

export class AsgScaleOut implements NewHostLauncher {
  readonly #clients: AsgNewHostClients;
  readonly #timeoutMs: number;
  readonly #prober: HealthProber | undefined;
  readonly #now: () => number;

  constructor(clients: AsgNewHostClients, options: AsgNewHostOptions) {
    this.#clients = clients;
    this.#timeoutMs = options.readinessTimeoutMs ?? 5 * 60_000;
    this.#prober = options.prober;
    this.#now = options.now ?? Date.now;
  }

  #groupOf(target: CodeDeployTarget): Promise<string | null> {
    if (!this.#clients.groupOf) {
      throw new Error('this function cannot find a Server group’s Auto Scaling group (no CodeDeploy client)');
    }
    return this.#clients.groupOf(target);
  }

  async launch(request: NewHostRequest): Promise<NewHostLaunch> {
    const { target } = request;
    if (target.kind !== 'codedeploy' || target.platform !== 'Server') {
      return { kind: 'unsupported', why: 'not an EC2/Server deployment group' };
    }
    const at = { awsRegion: target.awsRegion, ...(target.roleArn ? { roleArn: target.roleArn } : {}) };
    try {
      const name = await this.#groupOf(target);
      if (!name) return { kind: 'unsupported', why: NO_ASG_WHY };
      const group = await this.#describeGroup(at, name);
      if (!group)
        return { kind: 'failed', message: `Auto Scaling group ${name} (of ${target.deploymentGroup}) not found` };
      const now = this.#now();
      const ids = group.instances.map((i) => i.instanceId);
      // A retry of this launch (StartBake retried after it had raised the capacity): the group's
      // mark says so, and the handle is the one the first try made; nothing is raised again.
      const adopted = adoptedMark(group.marks, {
        releaseId: request.releaseId,
        region: request.region,
        now,
        maxAgeMs: request.readinessTimeoutMs > 0 ? request.readinessTimeoutMs : this.#timeoutMs,
      });
      if (adopted) {
        const ec2 = adopted.instanceId ? [] : await this.#instances(at, groupInstances(name));
        return started(request, target, at, name, {
          before: beforeOfMark(adopted, ids, ec2),
          desiredBefore: adopted.desiredBefore,
          launchedAt: adopted.at,
        });
      }
      if (group.desired >= group.max) {
        return {
          kind: 'unsupported',
          why: `Auto Scaling group ${name} is at its MaxSize (${group.desired} of ${group.max}), so it has no room for a new host (Flotilla never raises MaxSize): the wave is gated on its regions alone`,
        };
      }
      // Marked first, so that whatever happens after, a retry and the sweep know of the launch.
      const key = markKey(request.releaseId, request.region);
      await this.#mark(at, name, key, {
        releaseId: request.releaseId,
        wave: request.wave,
        desiredBefore: group.desired,
        at: now,
      });
      try {
        // HonorCooldown false: a cooldown from the deployment's own scaling must not hold the new host back.
        await this.#clients.query({
          service: 'autoscaling',
          ...at,
          action: 'SetDesiredCapacity',
          params: { AutoScalingGroupName: name, DesiredCapacity: String(group.desired + 1), HonorCooldown: 'false' },
        });
      } catch (error) {
        // Nothing launched: the mark goes (if this fails too, the sweep finds the capacity not raised).
        await this.#unmark(at, name, [key]).catch(() => {});
        throw error;
      }
      return started(request, target, at, name, { before: ids, desiredBefore: group.desired, launchedAt: now });
    } catch (error) {
      return { kind: 'failed', message: errorMessage(error) };
    }
  }

  async probe(
    host: Pick<NewHostRef, 'name' | 'region' | 'handle' | 'target'>,
    request: NewHostProbeRequest,
  ): Promise<ProbeSample[]> {
    const h = groupOf(host.handle);
    const count = Math.max(1, request.count);
    const missing = (message: string): ProbeSample[] => missingProbes(count, message);
    if (!h) return missing(`${host.name}: not an Auto Scaling instance's handle`);
    const { launchedAt, timeoutMs } = handleReadiness(host.handle, { now: this.#now(), timeoutMs: this.#timeoutMs });
    let group: GroupView | null;
    let tagged: Ec2Instance | undefined;
    try {
      [group, tagged] = await Promise.all([this.#describeGroup(h, h.group), this.#tagged(h, host.region)]);
    } catch (error) {
      // Not knowing is no evidence either way: unanswered, never passing.
      return missing(`reading Auto Scaling group ${h.group} failed: ${errorMessage(error)}`);
    }
    const facts = {
      inGroup: group?.instances ?? [],
      before: h.before,
      ...(tagged
        ? { tagged: { instanceId: tagged.instanceId, ...(tagged.state ? { state: tagged.state } : {}) } }
        : {}),
    };
    let seen = asgNewHost(facts);
    if (!group)
      seen = { ...seen, readiness: { kind: 'down', why: `is gone: Auto Scaling group ${h.group} no longer exists` } };
    if (seen.instanceId && seen.untagged) {
      // Best effort: an untagged new host still gates; only the sweep (`stopLeft`) needs the tag,
      // and the next round tries again.
      await this.#tag(h, seen.instanceId, host.region).catch(() => {});
    }
    const mark = group?.marks.find((m) => m.key === markKey(h.releaseId, host.region));
    const naming = toNameInMark(seen, mark);
    if (mark && naming) {
      // Best effort too: the sweep also finds it by its tag, or as the first launched since the mark.
      await this.#mark(h, h.group, mark.key, { ...mark, instanceId: naming }).catch(() => {});
    }
    const now = this.#now();
    if (
      seen.readiness.kind === 'down' ||
      (seen.readiness.kind === 'starting' && readinessOverdue({ launchedAt, timeoutMs, now }))
    ) {
      // Failing: the group's own account of it, when it has one (a launch the hook abandoned, no capacity).
      const activity = await this.#activity(h, seen.instanceId, launchedAt).catch(() => undefined);
      if (activity && group) seen = asgNewHost({ ...facts, activity });
    }
    const what = seen.instanceId
      ? `instance ${seen.instanceId} of Auto Scaling group ${h.group}`
      : `the new instance of Auto Scaling group ${h.group}`;
    // Up with no health path: InService and Healthy (CodeDeploy's install done, the group's health check passing) is the evidence.
    return probeReadyHost({
      prober: this.#prober,
      host,
      request,
      readiness: seen.readiness,
      what,
      launchedAt,
      timeoutMs,
      now: this.#now,
      urlOf: async (path) => {
        let ip = tagged?.instanceId === seen.instanceId ? tagged?.privateIp : undefined;
        if (!ip && seen.instanceId) {
          try {
            ip = (await this.#instances(h, { 'InstanceId.1': seen.instanceId }))[0]?.privateIp;
          } catch (error) {
            return missing(`DescribeInstances of ${seen.instanceId} failed: ${errorMessage(error)}`);
          }
        }
        if (!ip) return missing(`${what} is InService but has no private IP to probe ${path} on`);
        const scheme = typeof host.handle.healthScheme === 'string' ? host.handle.healthScheme : 'http';
        return hostUrl(scheme, ip, Number(host.handle.healthPort) || (scheme === 'https' ? 443 : 80), path);
      },
    });
  }

  /**
   * Terminates the new instance, the group's desired capacity lowered with it. One not seen yet is
   * found as a probe round finds it (and named in the launch's mark first); with none launched
   * yet, the desired capacity goes back down by the one the launch added while it is still above
   * the launch's (core/asg-mark.ts `stopPlan`). The mark is deleted last. Idempotent: an instance
   * already on its way out is left to finish, and a capacity already back is left alone.
   */
  async stop(host: Pick<NewHostRef, 'name' | 'region' | 'handle'>): Promise<void> {
    const h = groupOf(host.handle);
    if (!h) return;
    const [group, tagged] = await Promise.all([this.#describeGroup(h, h.group), this.#tagged(h, host.region)]);
    if (!group) return;
    const seen = asgNewHost({
      inGroup: group.instances,
      before: h.before,
      ...(tagged ? { tagged: { instanceId: tagged.instanceId } } : {}),
    });
    const mark = group.marks.find((m) => m.key === markKey(h.releaseId, host.region));
    const plan = stopPlan({
      seen,
      ...(mark ? { mark } : {}),
      desired: group.desired,
      min: group.min,
      desiredBefore: h.desiredBefore,
    });
    if (mark && plan.nameInMark) await this.#mark(h, h.group, mark.key, { ...mark, instanceId: plan.nameInMark });
    if (plan.terminate) await this.#terminate(h, plan.terminate);
    if (plan.desiredTo !== undefined) await this.#setDesired(h, h.group, plan.desiredTo);
    if (plan.deleteMark) await this.#unmark(h, h.group, [plan.deleteMark]);
  }

  /**
   * Terminates every new-host instance of the release (of any release, without an id) still in the
   * Auto Scaling groups of its Server groups, found by its `flotilla:release` tag. Each group is
   * tried; a failure in one is thrown after the others were.
   */
  async stopLeft(releaseId?: string, targets: readonly RegionTarget[] = []): Promise<string[]> {
    const servers = new Map<string, CodeDeployTarget>();
    for (const t of targets) {
      if (t.kind !== 'codedeploy' || t.platform !== 'Server') continue;
      servers.set([t.awsRegion, t.roleArn ?? '', t.application, t.deploymentGroup].join('|'), t);
    }
    const errors: string[] = [];
    const groups = new Map<string, { at: At; group: string }>();
    await Promise.all(
      [...servers.values()].map(async (target) => {
        try {
          const group = await this.#groupOf(target);
          const at = { awsRegion: target.awsRegion, ...(target.roleArn ? { roleArn: target.roleArn } : {}) };
          if (group) groups.set([target.awsRegion, target.roleArn ?? '', group].join('|'), { at, group });
        } catch (error) {
          errors.push(`${target.deploymentGroup}: ${errorMessage(error)}`);
        }
      }),
    );
    const stopped: string[] = [];
    await Promise.all(
      [...groups.values()].map(async ({ at, group }) => {
        try {
          stopped.push(...(await this.#stopLeftIn(at, group, releaseId)));
        } catch (error) {
          errors.push(`${group}: ${errorMessage(error)}`);
        }
      }),
    );
    if (errors.length > 0) throw new Error(`stopping the new hosts left failed in ${errors.join('; ')}`);
    return stopped.sort();
  }

  async #stopLeftIn(at: At, group: string, releaseId: string | undefined): Promise<string[]> {
    const view = await this.#describeGroup(at, group);
    if (!view) return [];
    const marked = view.marks.some((m) => releaseId === undefined || m.releaseId === releaseId);
    // With a mark of the release, every instance of the group (one may be its untagged new host);
    // without, only those tagged with the release (with any release, without an id).
    const ec2 = await this.#instances(
      at,
      marked
        ? groupInstances(group)
        : groupInstances(group, [releaseId === undefined ? 'tag-key' : `tag:${RELEASE_TAG}`, releaseId ?? RELEASE_TAG]),
    );
    const left = leftovers({
      ...(releaseId !== undefined ? { releaseId } : {}),
      marks: view.marks,
      desired: view.desired,
      min: view.min,
      inGroup: view.instances,
      ec2,
    });
    const stopped: string[] = [];
    for (const { instanceId, region } of left.terminate) {
      await this.#terminate(at, instanceId);
      stopped.push(newHostName(region ?? instanceId));
    }
    if (left.desiredTo !== undefined) {
      await this.#setDesired(at, group, left.desiredTo);
      stopped.push(...left.givenBack.map((region) => newHostName(region)));
    }
    if (left.deleteMarks.length > 0) await this.#unmark(at, group, left.deleteMarks);
    return stopped;
  }

  /** Writes (or rewrites) a launch's mark on the group: a group tag no instance gets. */
  async #mark(at: At, group: string, key: string, mark: Omit<AsgMark, 'key'>): Promise<void> {
    await this.#clients.query({
      service: 'autoscaling',
      awsRegion: at.awsRegion,
      ...(at.roleArn ? { roleArn: at.roleArn } : {}),
      action: 'CreateOrUpdateTags',
      params: {
        'Tags.member.1.ResourceId': group,
        'Tags.member.1.ResourceType': 'auto-scaling-group',
        'Tags.member.1.Key': key,
        'Tags.member.1.Value': markValue(mark),
        'Tags.member.1.PropagateAtLaunch': 'false',
      },
    });
  }

  async #unmark(at: At, group: string, keys: readonly string[]): Promise<void> {
    const params: Record<string, string> = {};
    keys.forEach((key, n) => {
      params[`Tags.member.${n + 1}.ResourceId`] = group;
      params[`Tags.member.${n + 1}.ResourceType`] = 'auto-scaling-group';
      params[`Tags.member.${n + 1}.Key`] = key;
    });
    await this.#clients.query({
      service: 'autoscaling',
      awsRegion: at.awsRegion,
      ...(at.roleArn ? { roleArn: at.roleArn } : {}),
      action: 'DeleteTags',
      params,
    });
  }

  async #setDesired(at: At, group: string, desired: number): Promise<void> {
    await this.#clients.query({
      service: 'autoscaling',
      awsRegion: at.awsRegion,
      ...(at.roleArn ? { roleArn: at.roleArn } : {}),
      action: 'SetDesiredCapacity',
      params: { AutoScalingGroupName: group, DesiredCapacity: String(desired), HonorCooldown: 'false' },
    });
  }

  async #terminate(at: At, instanceId: string): Promise<void> {
    await this.#clients.query({
      service: 'autoscaling',
      awsRegion: at.awsRegion,
      ...(at.roleArn ? { roleArn: at.roleArn } : {}),
      action: 'TerminateInstanceInAutoScalingGroup',
      params: { InstanceId: instanceId, ShouldDecrementDesiredCapacity: 'true' },
    });
  }

  async #tag(h: GroupHandle, instanceId: string, region: string): Promise<void> {
    await this.#clients.query({
      service: 'ec2',
      awsRegion: h.awsRegion,
      ...(h.roleArn ? { roleArn: h.roleArn } : {}),
      action: 'CreateTags',
      params: {
        'ResourceId.1': instanceId,
        'Tag.1.Key': RELEASE_TAG,
        'Tag.1.Value': h.releaseId,
        'Tag.2.Key': REGION_TAG,
        'Tag.2.Value': region,
      },
    });
  }

  /**
   * The instance tagged as this release's new host of this region, in any state (EC2 lists a
   * terminated one for a while): by its own tags, not the group's, which it may have lost.
   */
  async #tagged(h: GroupHandle, region: string): Promise<Ec2Instance | undefined> {
    const tagged = await this.#instances(h, {
      'Filter.1.Name': `tag:${RELEASE_TAG}`,
      'Filter.1.Value.1': h.releaseId,
      'Filter.2.Name': `tag:${REGION_TAG}`,
      'Filter.2.Value.1': region,
    });
    // Still running before gone: a replaced instance is never ours over the one still there.
    return tagged.find((i) => i.state !== 'terminated' && i.state !== 'shutting-down') ?? tagged[0];
  }

  async #describeGroup(at: At, name: string): Promise<GroupView | null> {
    const answer = await this.#clients.query({
      service: 'autoscaling',
      awsRegion: at.awsRegion,
      ...(at.roleArn ? { roleArn: at.roleArn } : {}),
      action: 'DescribeAutoScalingGroups',
      params: { 'AutoScalingGroupNames.member.1': name },
    });
    const groups = items(findPath(answer, ['DescribeAutoScalingGroupsResult', 'AutoScalingGroups']));
    const group = groups.find((g) => text(g, 'AutoScalingGroupName') === name) ?? groups[0];
    if (!group) return null;
    const int = (field: string) => {
      const value = Number(text(group, field));
      if (!Number.isInteger(value)) throw new Error(`DescribeAutoScalingGroups of ${name} answered no ${field}`);
      return value;
    };
    return {
      desired: int('DesiredCapacity'),
      min: int('MinSize'),
      max: int('MaxSize'),
      instances: items(group.children.find((c) => c.name === 'Instances')).flatMap((i) => {
        const instanceId = text(i, 'InstanceId');
        if (!instanceId) return [];
        const lifecycleState = text(i, 'LifecycleState');
        const healthStatus = text(i, 'HealthStatus');
        return [
          { instanceId, ...(lifecycleState ? { lifecycleState } : {}), ...(healthStatus ? { healthStatus } : {}) },
        ];
      }),
      marks: parseMarks(
        items(group.children.find((c) => c.name === 'Tags')).flatMap((t) => {
          const key = text(t, 'Key');
          return key ? [{ key, value: text(t, 'Value') ?? '' }] : [];
        }),
      ),
    };
  }

  /** DescribeInstances with `params` (ids or filters), every page, flattened out of their reservations. */
  async #instances(at: At, params: Record<string, string>): Promise<Ec2Instance[]> {
    const found: Ec2Instance[] = [];
    let token: string | undefined;
    do {
      const answer = await this.#clients.query({
        service: 'ec2',
        awsRegion: at.awsRegion,
        ...(at.roleArn ? { roleArn: at.roleArn } : {}),
        action: 'DescribeInstances',
        params: { ...params, ...(token ? { NextToken: token } : {}) },
      });
      const response = answer.children.find((c) => c.name === 'DescribeInstancesResponse') ?? answer;
      for (const reservation of items(response.children.find((c) => c.name === 'reservationSet'))) {
        for (const instance of items(reservation.children.find((c) => c.name === 'instancesSet'))) {
          const instanceId = text(instance, 'instanceId');
          if (!instanceId) continue;
          const tags: Record<string, string> = {};
          for (const tag of items(instance.children.find((c) => c.name === 'tagSet'))) {
            const key = text(tag, 'key');
            if (key) tags[key] = text(tag, 'value') ?? '';
          }
          const state = text(
            instance.children.find((c) => c.name === 'instanceState'),
            'name',
          );
          const privateIp = text(instance, 'privateIpAddress');
          const launchedAt = Date.parse(text(instance, 'launchTime') ?? '');
          found.push({
            instanceId,
            tags,
            ...(state ? { state } : {}),
            ...(privateIp ? { privateIp } : {}),
            ...(Number.isNaN(launchedAt) ? {} : { launchedAt }),
          });
        }
      }
      token = text(response, 'nextToken');
    } while (token);
    return found;
  }

  /**
   * The latest scaling activity's account of the new instance, or, before there is one, of the
   * group's latest launch since the new host's (a launch that failed for want of capacity, a bad
   * launch template).
   */
  async #activity(h: GroupHandle, instanceId: string | undefined, launchedAt: number): Promise<string | undefined> {
    const answer = await this.#clients.query({
      service: 'autoscaling',
      awsRegion: h.awsRegion,
      ...(h.roleArn ? { roleArn: h.roleArn } : {}),
      action: 'DescribeScalingActivities',
      params: { AutoScalingGroupName: h.group, MaxRecords: '20' },
    });
    // Newest first (DescribeScalingActivities' order).
    const activities = items(findPath(answer, ['DescribeScalingActivitiesResult', 'Activities']));
    const since = (a: XmlNode) => {
      const started = Date.parse(text(a, 'StartTime') ?? '');
      // A minute of slack for the clocks of this function and of Auto Scaling.
      return Number.isNaN(started) || started >= launchedAt - 60_000;
    };
    const about = activities.find((a) =>
      instanceId
        ? (text(a, 'Description') ?? '').includes(instanceId)
        : since(a) && /launching/i.test(text(a, 'Description') ?? ''),
    );
    if (!about) return undefined;
    const status = text(about, 'StatusCode');
    const message = text(about, 'StatusMessage') ?? text(about, 'Description');
    return [status, message].filter(Boolean).join(': ') || undefined;
  }
}

/** The element at `path` below the response element (whatever the response element is called). */
function findPath(answer: XmlNode, path: readonly string[]): XmlNode | undefined {
  let node: XmlNode | undefined = answer.children[0];
  for (const name of path) node = node?.children.find((c) => c.name === name);
  return node;
}

/** DescribeInstances filters for a group's instances still there or starting, those with a tag first when one is given. */
function groupInstances(group: string, tag?: [name: string, value: string]): Record<string, string> {
  const filters: [string, string[]][] = [
    ...(tag ? [[tag[0], [tag[1]]] as [string, string[]]] : []),
    ['tag:aws:autoscaling:groupName', [group]],
    ['instance-state-name', ['pending', 'running']],
  ];
  const params: Record<string, string> = {};
  filters.forEach(([name, values], n) => {
    params[`Filter.${n + 1}.Name`] = name;
    values.forEach((value, v) => {
      params[`Filter.${n + 1}.Value.${v + 1}`] = value;
    });
  });
  return params;
}

/** The launched host: its handle (what probing and stopping it need) and the region's target. */
function started(
  request: NewHostRequest,
  target: CodeDeployTarget,
  at: At,
  name: string,
  launch: { before: readonly string[]; desiredBefore: number; launchedAt: number },
): NewHostLaunch {
  const health = target.healthUrl ? new URL(target.healthUrl) : undefined;
  const handle: Handle = {
    platform: 'Server',
    ...at,
    autoScalingGroup: name,
    before: launch.before.join(','),
    desiredBefore: launch.desiredBefore,
    releaseId: request.releaseId,
    launchedAt: launch.launchedAt,
    readinessTimeoutMs: request.readinessTimeoutMs,
    ...(health
      ? {
          healthScheme: health.protocol.replace(/:$/, ''),
          healthPort: Number(health.port || (health.protocol === 'https:' ? 443 : 80)),
          healthPath: `${health.pathname}${health.search}`,
        }
      : {}),
  };
  return startedHost(request, target, handle);
}
