/**
 * An ECS group's new host: one one-off task (RunTask) of the new task definition the AppSpec
 * names, in the cluster of the group's ECS service, with that service's launch type or capacity
 * providers and its awsvpc network (the AppSpec's NetworkConfiguration wins), started by
 * `flotilla-new-host`. It counts as up once ECS says RUNNING and, where the task definition has a
 * health check, HEALTHY; STOPPED or UNHEALTHY first is a failed fresh start, with ECS's reasons and
 * exit codes. While it runs, the gate probes the region's health URL path on the task's own private
 * IP and container port (none without a health URL). Torn down with StopTask.
 */
import { type CodeDeployClient, GetDeploymentGroupCommand } from '@aws-sdk/client-codedeploy';
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  type ECSClient,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import type { CodeDeployTarget } from '../../config/types.ts';
import type { NewHostLaunch, NewHostLauncher, NewHostRef, NewHostRequest } from '../../ports/new-host.ts';
import { ecsTaskSpec } from './appspec.ts';
import { errorMessage } from './errors.ts';

export interface EcsNewHostClients {
  ecs: (awsRegion: string, roleArn?: string) => ECSClient;
  codedeploy: (awsRegion: string, roleArn?: string) => CodeDeployClient;
}

export interface EcsNewHostOptions {
  /** How long the task may take to be RUNNING (and HEALTHY): the regions' readiness timeout. */
  readinessTimeoutMs: number;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export const STARTED_BY = 'flotilla-new-host';

export class EcsOneOffTask implements NewHostLauncher {
  readonly #clients: EcsNewHostClients;
  readonly #timeoutMs: number;
  readonly #pollMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(clients: EcsNewHostClients, options: EcsNewHostOptions) {
    this.#clients = clients;
    this.#timeoutMs = options.readinessTimeoutMs;
    this.#pollMs = options.pollMs ?? 5_000;
    this.#sleep = options.sleep ?? ((ms) => new Promise((ok) => setTimeout(ok, ms)));
  }

  async launch(request: NewHostRequest): Promise<NewHostLaunch> {
    const { target } = request;
    if (target.kind !== 'codedeploy' || target.platform !== 'ECS') {
      return { kind: 'unsupported', why: 'not an ECS deployment group' };
    }
    const ecs = this.#clients.ecs(target.awsRegion, target.roleArn);
    let cluster: string;
    let taskArn: string;
    let spec: ReturnType<typeof ecsTaskSpec>;
    try {
      spec = ecsTaskSpec(request.revision.artifact);
      const group = await this.#clients.codedeploy(target.awsRegion, target.roleArn).send(
        new GetDeploymentGroupCommand({
          applicationName: target.application,
          deploymentGroupName: target.deploymentGroup,
        }),
      );
      const service = group.deploymentGroupInfo?.ecsServices?.[0];
      if (!service?.clusterName || !service.serviceName) {
        return { kind: 'failed', message: `deployment group ${target.deploymentGroup} names no ECS service` };
      }
      cluster = service.clusterName;
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
          { key: 'flotilla:release', value: request.releaseId },
          { key: 'flotilla:new-host', value: request.region },
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
      taskArn = task.taskArn;
    } catch (error) {
      return { kind: 'failed', message: errorMessage(error) };
    }

    const handle = {
      awsRegion: target.awsRegion,
      cluster,
      taskArn,
      ...(target.roleArn ? { roleArn: target.roleArn } : {}),
    };
    const deadline = Date.now() + this.#timeoutMs;
    for (;;) {
      let task: Task | undefined;
      try {
        task = (await ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }))).tasks?.[0];
      } catch (error) {
        await this.stop({ name: request.name, region: request.region, handle });
        return { kind: 'failed', message: `DescribeTasks of ${taskArn} failed: ${errorMessage(error)}` };
      }
      const state = taskState(task);
      if (state.kind === 'up') {
        const probe = healthTarget(target, task, spec.containerName, spec.containerPort);
        return {
          kind: 'started',
          host: {
            name: request.name,
            region: request.region,
            wave: request.wave,
            handle,
            ...(probe ? { target: probe } : {}),
          },
          samples: [{ kind: 'ok' }],
        };
      }
      if (state.kind === 'down') {
        await this.stop({ name: request.name, region: request.region, handle });
        return { kind: 'failed', message: `task ${taskArn} of ${spec.taskDefinition} ${state.why}` };
      }
      if (Date.now() >= deadline) {
        await this.stop({ name: request.name, region: request.region, handle });
        return {
          kind: 'failed',
          message: `task ${taskArn} of ${spec.taskDefinition} not RUNNING and healthy within ${this.#timeoutMs} ms (${state.why})`,
        };
      }
      await this.#sleep(this.#pollMs);
    }
  }

  async stop(host: Pick<NewHostRef, 'name' | 'region' | 'handle'>): Promise<void> {
    const { awsRegion, cluster, taskArn, roleArn } = host.handle;
    if (typeof awsRegion !== 'string' || typeof cluster !== 'string' || typeof taskArn !== 'string') return;
    await this.#clients
      .ecs(awsRegion, typeof roleArn === 'string' ? roleArn : undefined)
      .send(new StopTaskCommand({ cluster, task: taskArn, reason: `flotilla: ${host.name} checked` }));
  }
}

function taskState(task: Task | undefined): { kind: 'up' | 'down' | 'starting'; why: string } {
  if (!task) return { kind: 'down', why: 'is gone' };
  if (task.lastStatus === 'STOPPED' || task.desiredStatus === 'STOPPED') {
    const exits = (task.containers ?? [])
      .filter((c) => c.exitCode !== undefined || c.reason)
      .map((c) =>
        `${c.name}: ${c.exitCode !== undefined ? `exit ${c.exitCode}` : ''}${c.reason ? ` ${c.reason}` : ''}`.trim(),
      );
    return {
      kind: 'down',
      why: `stopped: ${task.stoppedReason ?? task.stopCode ?? 'no reason given'}${exits.length > 0 ? ` (${exits.join('; ')})` : ''}`,
    };
  }
  if (task.healthStatus === 'UNHEALTHY')
    return { kind: 'down', why: 'is UNHEALTHY (its container health check failed)' };
  if (task.lastStatus === 'RUNNING' && task.healthStatus !== 'UNKNOWN') return { kind: 'up', why: 'RUNNING, HEALTHY' };
  // UNKNOWN health on a RUNNING task: no health check in the task definition, or not evaluated yet.
  if (
    task.lastStatus === 'RUNNING' &&
    !(task.containers ?? []).some((c) => c.healthStatus && c.healthStatus !== 'UNKNOWN')
  ) {
    const checked = (task.containers ?? []).some((c) => c.healthStatus !== undefined);
    if (!checked) return { kind: 'up', why: 'RUNNING (no health check)' };
  }
  return { kind: 'starting', why: `${task.lastStatus ?? 'PENDING'}, health ${task.healthStatus ?? 'UNKNOWN'}` };
}

/** The region's health URL path, on the task's private IP and container port; none without a health URL. */
function healthTarget(
  target: CodeDeployTarget,
  task: Task | undefined,
  containerName: string | undefined,
  containerPort: number | undefined,
): CodeDeployTarget | null {
  if (!target.healthUrl || !task) return null;
  const container = (task.containers ?? []).find((c) => containerName === undefined || c.name === containerName);
  const ip = container?.networkInterfaces?.[0]?.privateIpv4Address;
  const port = containerPort ?? container?.networkBindings?.[0]?.containerPort;
  if (!ip || !port) return null;
  const url = new URL(target.healthUrl);
  return {
    ...target,
    alarms: { names: [] },
    healthUrl: `http://${ip}:${port}${url.pathname}${url.search}`,
  };
}
