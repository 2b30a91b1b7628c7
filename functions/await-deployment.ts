/**
 * WaitForDeployment (child execution): the region's deployment as one `.waitForTaskToken` task,
 * so a deploy costs a few history events however long it runs. It keeps the token under the
 * deployment's id (the ledger's DeployWait), where the deployment's state change finds it
 * (functions/deployment-changed.ts on AWS, the local fleet as a restart ends), then looks at the
 * deployment once itself: one that ended before the token was kept found no one to wake. The
 * task's timeout (`deployment.waitSeconds`) is the fallback for a missed event: CheckDeployment
 * re-checks and the child waits again, the interval doubling up to deploy.maxPollSeconds.
 */
import type { DeploymentHandle } from '../core/deploy-wait.ts';
import type { DeployWait, RegionTask } from '../core/types.ts';
import { deploymentChanged } from '../services/deploy-watch.ts';
import { type Deps, isoAt } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { callbacksFromEnv, deployerFromEnv } from './runtime/ports.ts';

export interface AwaitDeploymentInput {
  taskToken: string;
  task: RegionTask;
  deployment: DeploymentHandle;
}

/** Where no one can be woken (a harness without task tokens): every wake is `gone`. */
const nobody = { succeed: async () => 'gone' as const, fail: async () => 'gone' as const };

export const createAwaitDeployment =
  (deps: Pick<Deps, 'ledger' | 'deployer' | 'now' | 'callbacks' | 'waitForToken' | 'signal'>) =>
  async ({
    taskToken,
    task,
    deployment,
  }: AwaitDeploymentInput): Promise<DeploymentHandle | Record<string, unknown>> => {
    // Locally the wait is in place before anyone can settle it, so no wake lands in between.
    const waiting = deps.waitForToken?.(taskToken, deps.signal);
    waiting?.catch(() => {});
    const kept: DeployWait = {
      deploymentId: deployment.deploymentId,
      token: taskToken,
      service: task.service,
      releaseId: task.releaseId,
      region: task.region,
      target: task.target,
      deploy: { pollSeconds: task.deploy.pollSeconds, maxPollSeconds: task.deploy.maxPollSeconds },
      handle: deployment,
      at: isoAt(deps),
    };
    await deps.ledger.putDeployWait(kept);
    // The wait as kept, not read back: a waker that took it since makes this look end `taken`.
    const outcome = await deploymentChanged(
      { ledger: deps.ledger, deployer: deps.deployer, callbacks: deps.callbacks ?? nobody, now: deps.now },
      deployment.deploymentId,
      { kept },
    );
    // AWS: a settled wait was woken by SendTaskSuccess just now, and this return is not its result.
    if (outcome.kind === 'settled' && outcome.woke === 'gone') return outcome.handle;
    return waiting ?? deployment;
  };

/** The Lambda entry point on AWS: keep the token and look once; the deployment's event (or the timeout) ends the wait. */
export const handler = lambda(() =>
  createAwaitDeployment({
    ledger: ledgerFromEnv(),
    deployer: deployerFromEnv(),
    now: Date.now,
    callbacks: callbacksFromEnv(),
  }),
);
