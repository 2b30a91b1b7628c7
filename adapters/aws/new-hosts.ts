/**
 * The new-host gate on AWS, per platform of the wave's deployment group: a one-off ECS task
 * (adapters/aws/ecs-new-host.ts), a cold invocation of the new Lambda version
 * (adapters/aws/lambda-new-host.ts). A Server (EC2/on-premises) group has none (`SERVER_WHY`), and
 * the wave's gate events say so. Each Lambda gets only the parts its handler uses (StartBake
 * launches both kinds; CheckGate and the scheduled watcher probe and stop ECS tasks only), so its
 * bundle carries only those SDK clients (functions/runtime/ports.ts).
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
import type { EcsOneOffTask } from './ecs-new-host.ts';
import type { LambdaColdInvoke } from './lambda-new-host.ts';

/**
 * Why a Server group gets no new host. CodeDeploy deploys a scaled-out instance of a group's Auto
 * Scaling group with the group's last successful revision, which is this build only once the
 * region's deployment has succeeded, and one more instance changes the group's capacity and its
 * load balancer's targets: not a fresh host of this build that can be torn down without a trace.
 */
export const SERVER_WHY =
  'EC2/Server deployment groups get no new host on AWS (an extra Auto Scaling instance would change the group and is not supported): the wave is gated on its regions alone';

export interface AwsNewHostParts {
  ecs?: EcsOneOffTask;
  lambda?: LambdaColdInvoke;
}

const isEcs = (handle: NewHostRef['handle']) => handle.platform === 'ECS' || typeof handle.taskArn === 'string';

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
        return { kind: 'unsupported', why: SERVER_WHY };
    }
  }

  async probe(
    host: Pick<NewHostRef, 'name' | 'region' | 'handle' | 'target'>,
    request: NewHostProbeRequest,
  ): Promise<ProbeSample[]> {
    if (isEcs(host.handle) && this.#parts.ecs) return this.#parts.ecs.probe(host, request);
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
    // A Lambda's cold invocation leaves nothing to tear down.
  }

  async stopLeft(releaseId?: string, targets: readonly RegionTarget[] = []): Promise<string[]> {
    return this.#parts.ecs ? this.#parts.ecs.stopLeft(releaseId, targets) : [];
  }
}
