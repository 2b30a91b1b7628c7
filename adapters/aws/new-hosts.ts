/**
 * The new-host gate on AWS, per platform of the wave's deployment group: a one-off ECS task
 * (adapters/aws/ecs-new-host.ts), a cold invocation of the new Lambda version
 * (adapters/aws/lambda-new-host.ts), one more instance of a Server group's Auto Scaling group
 * (adapters/aws/asg-new-host.ts). A Server group without an Auto Scaling group has none
 * (`NO_ASG_WHY`), nor one whose group is at its MaxSize, and the wave's gate events say so. Each
 * Lambda gets only the parts its handler uses (StartBake launches every kind; CheckGate and the
 * scheduled watcher probe and stop ECS tasks and Auto Scaling instances), so its bundle carries
 * only those SDK clients (functions/runtime/new-hosts.ts).
 */

import type { RegionTarget } from '../../core/config.ts';
import type { ProbeSample } from '../../core/model.ts';
import type {
  NewHostLaunch,
  NewHostLauncher,
  NewHostProbeRequest,
  NewHostRef,
  NewHostRequest,
} from '../../ports/new-host.ts';
import type { AsgScaleOut } from './asg-new-host.ts';
import type { EcsOneOffTask } from './ecs-new-host.ts';
import type { LambdaColdInvoke } from './lambda-new-host.ts';

/**
 * Why a Server wave gets no new host when the function was given no Auto Scaling part (each
 * handler that launches is: functions/runtime/new-hosts.ts). A group that names no Auto Scaling
 * group gets `NO_ASG_WHY` (adapters/aws/asg-new-host.ts) instead.
 */
export const SERVER_WHY =
  'EC2/Server deployment groups get a new host only through their Auto Scaling group, and this function cannot start one: the wave is gated on its regions alone';

export interface AwsNewHostParts {
  ecs?: EcsOneOffTask;
  lambda?: LambdaColdInvoke;
  server?: AsgScaleOut;
}

const isEcs = (handle: NewHostRef['handle']) => handle.platform === 'ECS' || typeof handle.taskArn === 'string';
const isServer = (handle: NewHostRef['handle']) =>
  handle.platform === 'Server' || typeof handle.autoScalingGroup === 'string';

export class AwsNewHosts implements NewHostLauncher {
  readonly #parts: AwsNewHostParts;

  constructor(parts: AwsNewHostParts) {
    this.#parts = parts;
  }

  async launch(request: NewHostRequest): Promise<NewHostLaunch> {
    const { target } = request;
    if (target.kind !== 'codedeploy') {
      return { kind: 'unsupported', why: `a ${target.kind} target has no new host on AWS` };
    }
    switch (target.platform) {
      case 'ECS':
        return this.#parts.ecs
          ? this.#parts.ecs.launch(request)
          : { kind: 'failed', message: 'this function cannot start ECS tasks (no ECS launcher given)' };
      case 'Lambda':
        return this.#parts.lambda
          ? this.#parts.lambda.launch(request)
          : { kind: 'failed', message: 'this function cannot invoke Lambda functions (no Lambda launcher given)' };
      case 'Server':
        return this.#parts.server ? this.#parts.server.launch(request) : { kind: 'unsupported', why: SERVER_WHY };
    }
  }

  async probe(
    host: Pick<NewHostRef, 'name' | 'region' | 'handle' | 'target'>,
    request: NewHostProbeRequest,
  ): Promise<ProbeSample[]> {
    if (isEcs(host.handle) && this.#parts.ecs) return this.#parts.ecs.probe(host, request);
    if (isServer(host.handle) && this.#parts.server) return this.#parts.server.probe(host, request);
    // Never a pass for want of a prober: unanswered.
    return Array.from({ length: Math.max(1, request.count) }, () => ({
      kind: 'missing' as const,
      message: `${host.name}: this function cannot probe it`,
    }));
  }

  async stop(host: Pick<NewHostRef, 'name' | 'region' | 'handle'>): Promise<void> {
    if (isEcs(host.handle)) {
      if (!this.#parts.ecs) throw new Error(`${host.name}: this function cannot stop ECS tasks`);
      await this.#parts.ecs.stop(host);
    }
    if (isServer(host.handle)) {
      if (!this.#parts.server) throw new Error(`${host.name}: this function cannot stop Auto Scaling instances`);
      await this.#parts.server.stop(host);
    }
    // A Lambda's cold invocation leaves nothing to tear down.
  }

  /** Both sweeps run; a failure in one is thrown after the other ran. */
  async stopLeft(releaseId?: string, targets: readonly RegionTarget[] = []): Promise<string[]> {
    const parts = [this.#parts.ecs, this.#parts.server].filter((p) => p !== undefined);
    const swept = await Promise.allSettled(parts.map((p) => p.stopLeft(releaseId, targets)));
    const failed = swept.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    return swept.flatMap((s) => (s.status === 'fulfilled' ? s.value : [])).sort();
  }
}
