/**
 * An ECS group's new host: one one-off task (RunTask) of the new task definition the AppSpec
 * names, in the cluster of the group's ECS service, with that service's launch type or capacity
 * providers and its awsvpc network (the AppSpec's NetworkConfiguration wins), started by
 * `flotilla-new-host` and tagged with its release.
 *
 * Event-driven, no Lambda waits for it: `launch` runs the task and returns at once with the host
 * starting (`probedBy: 'launcher'`). Its readiness is gate evidence: every probe round of it (the
 * bake's first and final checks, the scheduled watcher between) asks DescribeTasks first
 * (core/ecs-task.ts says up, starting or down; core/new-host.ts `readinessRound` what that counts):
 * not yet up → no samples; STOPPED or UNHEALTHY, or still not up past the readiness timeout →
 * failed probes naming ECS's reasons and exit codes; up → the region's health URL path on the
 * task's own private IP and container port (awsvpc), through the ordinary prober. Without a
 * health URL, ECS saying it runs (and its container health check not failing) is the evidence.
 * Torn down with StopTask; `stopLeft` finds what a release left (ListTasks by `startedBy` in its
 * groups' clusters, its `flotilla:release` tag) and stops it.
 */
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  type ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import type { CodeDeployTarget, RegionTarget } from '../../config/types.ts';
import { ecsTaskReadiness } from '../../core/ecs-task.ts';
import type { ProbeSample } from '../../core/model.ts';
import { newHostName } from '../../core/new-host.ts';
import type { HealthProber } from '../../ports/health-prober.ts';
import type {
  NewHostLaunch,
  NewHostLauncher,
  NewHostProbeRequest,
  NewHostRef,
  NewHostRequest,
} from '../../ports/new-host.ts';
import { ecsTaskSpec } from './appspec.ts';
import type { EcsServiceOf } from './ecs-service.ts';
import { errorMessage } from './errors.ts';
import { handleReadiness, hostUrl, missingProbes, probeReadyHost, startedHost } from './new-host-probe.ts';
import { stagedMade } from './stage-id.ts';

export interface EcsNewHostClients {
  ecs: (awsRegion: string, roleArn?: string) => ECSClient;
  /**
   * The group's ECS service (adapters/aws/ecs-service.ts, CodeDeploy GetDeploymentGroup): launching
   * and `stopLeft` need it, probing and stopping do not (their bundles carry no CodeDeploy client).
   */
  serviceOf?: EcsServiceOf;
}

export interface EcsNewHostOptions {
  /** How long a task may take to be RUNNING when its handle does not say (the request's readiness timeout does). */
  readinessTimeoutMs?: number;
  /** Probes the health URL on the task's own IP once ECS says it runs (the region's own prober). */
  prober?: HealthProber;
  now?: () => number;
}

export const STARTED_BY = 'flotilla-new-host';
export const RELEASE_TAG = 'flotilla:release';
export const REGION_TAG = 'flotilla:new-host';
/** DescribeTasks takes at most 100 tasks a call. */
const DESCRIBE_LIMIT = 100;

type Handle = NewHostRef['handle'];

/** The handle's fields this launcher wrote, or null when it is not an ECS task's. */
function taskOf(handle: Handle): { awsRegion: string; cluster: string; taskArn: string; roleArn?: string } | null {
  const { awsRegion, cluster, taskArn, roleArn } = handle;
  if (typeof awsRegion !== 'string' || typeof cluster !== 'string' || typeof taskArn !== 'string') return null;
  return { awsRegion, cluster, taskArn, ...(typeof roleArn === 'string' ? { roleArn } : {}) };
}

export class EcsOneOffTask implements NewHostLauncher {
  readonly #clients: EcsNewHostClients;
  readonly #timeoutMs: number;
  readonly #prober: HealthProber | undefined;
  readonly #now: () => number;

  constructor(clients: EcsNewHostClients, options: EcsNewHostOptions) {
    this.#clients = clients;
    this.#timeoutMs = options.readinessTimeoutMs ?? 5 * 60_000;
    this.#prober = options.prober;
    this.#now = options.now ?? Date.now;
  }

  /** The cluster and service of the group's (first) ECS service. */
  #service(target: CodeDeployTarget): ReturnType<EcsServiceOf> {
    if (!this.#clients.serviceOf)
      throw new Error('this function cannot find an ECS group’s service (no CodeDeploy client)');
    return this.#clients.serviceOf(target);
  }

  async launch(request: NewHostRequest): Promise<NewHostLaunch> {
    const { target } = request;
    if (target.kind !== 'codedeploy' || target.platform !== 'ECS') {
      return { kind: 'unsupported', why: 'not an ECS deployment group' };
    }
    const ecs = this.#clients.ecs(target.awsRegion, target.roleArn);
    let spec: ReturnType<typeof ecsTaskSpec>;
    try {
      spec = ecsTaskSpec(request.revision.artifact);
      // A task definition staging registered in the region (the AppSpec names its document): that one.
      const made = stagedMade(request.stageId);
      if (made?.kind === 'TaskDefinition') spec = { ...spec, taskDefinition: made.arn };
      else if (spec.taskDefinition.startsWith('s3://')) {
        return {
          kind: 'failed',
          message: `${request.region}: the AppSpec names a task-definition document, and staging registered none there (${request.stageId ?? 'no staging'})`,
        };
      }
      const service = await this.#service(target);
      if (!service)
        return { kind: 'failed', message: `deployment group ${target.deploymentGroup} names no ECS service` };
      const cluster = service.clusterName;
      const described = await ecs.send(new DescribeServicesCommand({ cluster, services: [service.serviceName] }));
      const running = described.services?.[0];
      const vpc = running?.networkConfiguration?.awsvpcConfiguration;
      const subnets = spec.subnets.length > 0 ? spec.subnets : (vpc?.subnets ?? []);
      const securityGroups = spec.securityGroups.length > 0 ? spec.securityGroups : (vpc?.securityGroups ?? []);
      const assignPublicIp = spec.assignPublicIp ?? vpc?.assignPublicIp;
      const input: RunTaskCommandInput = {
        cluster,
        taskDefinition: spec.taskDefinition,
        count: 1,
        startedBy: STARTED_BY,
        ...(running?.capacityProviderStrategy?.length
          ? { capacityProviderStrategy: running.capacityProviderStrategy }
          : running?.launchType
            ? { launchType: running.launchType }
            : {}),
        ...((spec.platformVersion ?? running?.platformVersion)
          ? { platformVersion: spec.platformVersion ?? running?.platformVersion }
          : {}),
        ...(subnets.length > 0
          ? {
              networkConfiguration: {
                awsvpcConfiguration: { subnets, securityGroups, ...(assignPublicIp ? { assignPublicIp } : {}) },
              },
            }
          : {}),
        tags: [
          { key: RELEASE_TAG, value: request.releaseId },
          { key: REGION_TAG, value: request.region },
        ],
      };
      const run = await ecs.send(new RunTaskCommand(input));
      const failure = run.failures?.[0];
      const task = run.tasks?.[0];
      if (failure || !task?.taskArn) {
        return {
          kind: 'failed',
          message: `RunTask of ${spec.taskDefinition} refused: ${failure?.reason ?? 'no task'}${failure?.detail ? ` (${failure.detail})` : ''}`,
        };
      }
      const health = target.healthUrl ? new URL(target.healthUrl) : undefined;
      // What the probe rounds need: the task, when it started, and where on it the health URL is.
      const handle: Handle = {
        platform: 'ECS',
        awsRegion: target.awsRegion,
        cluster,
        taskArn: task.taskArn,
        taskDefinition: spec.taskDefinition,
        launchedAt: this.#now(),
        readinessTimeoutMs: request.readinessTimeoutMs,
        ...(target.roleArn ? { roleArn: target.roleArn } : {}),
        ...(spec.containerName ? { container: spec.containerName } : {}),
        ...(spec.containerPort ? { port: spec.containerPort } : {}),
        ...(health ? { healthPath: `${health.pathname}${health.search}` } : {}),
      };
      return startedHost(request, target, handle);
    } catch (error) {
      return { kind: 'failed', message: errorMessage(error) };
    }
  }

  async probe(
    host: Pick<NewHostRef, 'name' | 'region' | 'handle' | 'target'>,
    request: NewHostProbeRequest,
  ): Promise<ProbeSample[]> {
    const task = taskOf(host.handle);
    const count = Math.max(1, request.count);
    const missing = (message: string): ProbeSample[] => missingProbes(count, message);
    if (!task) return missing(`${host.name}: not an ECS task's handle`);
    let described: Task | undefined;
    try {
      const out = await this.#clients
        .ecs(task.awsRegion, task.roleArn)
        .send(new DescribeTasksCommand({ cluster: task.cluster, tasks: [task.taskArn] }));
      described = out.tasks?.find((t) => t.taskArn === task.taskArn) ?? out.tasks?.[0];
    } catch (error) {
      // Not knowing is no evidence either way: unanswered, never passing.
      return missing(`DescribeTasks of ${task.taskArn} failed: ${errorMessage(error)}`);
    }
    const { launchedAt, timeoutMs } = handleReadiness(host.handle, { now: this.#now(), timeoutMs: this.#timeoutMs });
    // Up with no health path: ECS saying it runs, its container health check not failing, is the evidence.
    return probeReadyHost({
      prober: this.#prober,
      host,
      request,
      readiness: ecsTaskReadiness(described),
      what: `task ${task.taskArn} of ${host.handle.taskDefinition ?? 'its task definition'}`,
      launchedAt,
      timeoutMs,
      now: this.#now,
      urlOf: async (path) =>
        taskUrl(described, host.handle, path) ??
        missing(
          `task ${task.taskArn} is RUNNING but has no private IP and port to probe ${path} on (the new host needs an awsvpc task)`,
        ),
    });
  }

  async stop(host: Pick<NewHostRef, 'name' | 'region' | 'handle'>): Promise<void> {
    const task = taskOf(host.handle);
    if (!task) return;
    await this.#clients
      .ecs(task.awsRegion, task.roleArn)
      .send(
        new StopTaskCommand({ cluster: task.cluster, task: task.taskArn, reason: `flotilla: ${host.name} checked` }),
      );
  }

  /**
   * Stops every new-host task of the release (every one started by flotilla, without a release id)
   * still running in the clusters of its ECS groups. Each cluster is tried; a failure in one is
   * thrown after the others were.
   */
  async stopLeft(releaseId?: string, targets: readonly RegionTarget[] = []): Promise<string[]> {
    const groups = new Map<string, CodeDeployTarget>();
    for (const t of targets) {
      if (t.kind !== 'codedeploy' || t.platform !== 'ECS') continue;
      groups.set([t.awsRegion, t.roleArn ?? '', t.application, t.deploymentGroup].join('|'), t);
    }
    const clusters = new Map<string, { target: CodeDeployTarget; cluster: string }>();
    const errors: string[] = [];
    await Promise.all(
      [...groups.values()].map(async (target) => {
        try {
          const service = await this.#service(target);
          if (service) {
            clusters.set([target.awsRegion, target.roleArn ?? '', service.clusterName].join('|'), {
              target,
              cluster: service.clusterName,
            });
          }
        } catch (error) {
          errors.push(`${target.deploymentGroup}: ${errorMessage(error)}`);
        }
      }),
    );
    const stopped: string[] = [];
    await Promise.all(
      [...clusters.values()].map(async ({ target, cluster }) => {
        try {
          stopped.push(
            ...(await this.#stopLeftIn(this.#clients.ecs(target.awsRegion, target.roleArn), cluster, releaseId)),
          );
        } catch (error) {
          errors.push(`${cluster}: ${errorMessage(error)}`);
        }
      }),
    );
    if (errors.length > 0) throw new Error(`stopping the new hosts left failed in ${errors.join('; ')}`);
    return stopped.sort();
  }

  async #stopLeftIn(ecs: ECSClient, cluster: string, releaseId: string | undefined): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await ecs.send(
        new ListTasksCommand({
          cluster,
          startedBy: STARTED_BY,
          desiredStatus: 'RUNNING',
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      arns.push(...(page.taskArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const stopped: string[] = [];
    for (let i = 0; i < arns.length; i += DESCRIBE_LIMIT) {
      const { tasks = [] } = await ecs.send(
        new DescribeTasksCommand({ cluster, tasks: arns.slice(i, i + DESCRIBE_LIMIT), include: ['TAGS'] }),
      );
      for (const task of tasks) {
        const tag = (key: string) => task.tags?.find((t) => t.key === key)?.value;
        if (!task.taskArn || task.lastStatus === 'STOPPED' || task.desiredStatus === 'STOPPED') continue;
        // Started by flotilla but not tagged with a release: not provably one of ours, left alone.
        if (tag(RELEASE_TAG) === undefined || (releaseId !== undefined && tag(RELEASE_TAG) !== releaseId)) continue;
        await ecs.send(
          new StopTaskCommand({
            cluster,
            task: task.taskArn,
            reason: `flotilla: new host left by ${tag(RELEASE_TAG)}`,
          }),
        );
        stopped.push(newHostName(tag(REGION_TAG) ?? task.taskArn));
      }
    }
    return stopped;
  }
}

/** The health URL path on the task's private IP and container port; null where the task has none (not awsvpc). */
function taskUrl(task: Task | undefined, handle: Handle, path: string): string | null {
  const name = typeof handle.container === 'string' ? handle.container : undefined;
  const container = (task?.containers ?? []).find((c) => name === undefined || c.name === name);
  const ip = container?.networkInterfaces?.[0]?.privateIpv4Address;
  const port = typeof handle.port === 'number' ? handle.port : container?.networkBindings?.[0]?.containerPort;
  if (!ip || !port) return null;
  return hostUrl('http', ip, port, path);
}
