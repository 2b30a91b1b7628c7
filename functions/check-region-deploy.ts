/**
 * CheckDeployment (child execution): the fallback for a missed event. The child's wait on the
 * deployment (functions/await-deployment.ts) timed out without its state change arriving, so this
 * looks at the deployment once: finished, it ends the wait as the event would have; still running
 * (or between steps, as blue/green's Ready), it says how long the next wait lasts (core/deploy-wait.ts).
 */
import { type DeploymentHandle, deploymentStep } from '../core/deploy-wait.ts';
import type { RegionTask } from '../core/types.ts';
import type { Deps } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { deployerFromEnv } from './runtime/ports.ts';

export const createCheckRegionDeploy =
  (deps: Pick<Deps, 'deployer' | 'ledger' | 'now'>) =>
  async ({ task, deployment }: { task: RegionTask; deployment: DeploymentHandle }): Promise<DeploymentHandle> => {
    const ref = { region: task.region, target: task.target, deploymentId: deployment.deploymentId };
    const status = await deps.deployer.getDeployment(ref);
    const step = deploymentStep({ handle: deployment, status, deploy: task.deploy, now: deps.now() });
    // Settled here: the wait kept for the event is no longer anyone's.
    if (step.kind === 'settled') await deps.ledger.takeDeployWait(deployment.deploymentId);
    return step.handle;
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createCheckRegionDeploy({ deployer: deployerFromEnv(), ledger: ledgerFromEnv(), now: Date.now }),
);
