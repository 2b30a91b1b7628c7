/**
 * CheckRegionDeploy (child execution): one poll of a running deployment. Returns the next wait
 * with back-off, so a long deploy costs a bounded number of history events per hour.
 */

import { nextPollSeconds } from '../core/outcome.ts';
import type { RegionTask } from '../core/types.ts';
import type { DeploymentStatus } from '../ports/region-deployer.ts';
import type { Deps } from './deps.ts';
import { lambda, longPollMs } from './runtime/lambda.ts';
import { deployerFromEnv } from './runtime/ports.ts';
import type { DeploymentHandle } from './start-region-deploy.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const createCheckRegionDeploy =
  (deps: Pick<Deps, 'deployer' | 'now' | 'longPollMs' | 'pollEveryMs'>) =>
  async ({ task, deployment }: { task: RegionTask; deployment: DeploymentHandle }): Promise<DeploymentHandle> => {
    const deadline = deps.now() + deps.longPollMs;
    const ref = { region: task.region, target: task.target, deploymentId: deployment.deploymentId };
    let status: DeploymentStatus;
    if (deps.deployer.awaitDeployment && deps.longPollMs > 0) {
      status = await deps.deployer.awaitDeployment(ref, deps.longPollMs);
    } else {
      status = await deps.deployer.getDeployment(ref);
      while (status.status === 'InProgress' && deps.now() < deadline) {
        await sleep(deps.pollEveryMs);
        status = await deps.deployer.getDeployment(ref);
      }
    }
    const polls = deployment.polls + 1;
    const waitSeconds =
      polls === 1
        ? task.deploy.pollSeconds
        : nextPollSeconds(deployment.waitSeconds, task.deploy.pollSeconds, task.deploy.maxPollSeconds);
    return {
      deploymentId: deployment.deploymentId,
      status: status.status,
      ...(status.status === 'Failed' ? { message: status.message } : {}),
      ...(status.status === 'Failed' && status.untouched ? { untouched: true } : {}),
      waitSeconds,
      polls,
    };
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createCheckRegionDeploy({ deployer: deployerFromEnv(), now: Date.now, longPollMs: longPollMs(), pollEveryMs: 5_000 }),
);
