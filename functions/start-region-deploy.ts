/**
 * StartRegionDeploy (child execution): starts the deployment (a deploy of the new build, or a
 * rollback to the region's last-known-good). The parent marked the region touched in the ledger
 * before this child started (EnterWave, PlanRollback), so a crash from here on still leaves it on
 * the rollback list. The child then waits for the deployment's end (functions/await-deployment.ts).
 */

import { type DeploymentHandle, startedHandle } from '../core/deploy-wait.ts';
import type { RegionTask } from '../core/types.ts';
import { type Deps, emit } from './deps.ts';
import { deployStarterFromEnv } from './runtime/deploy-starter.ts';
import { lambda } from './runtime/lambda.ts';
import { eventsFromEnv } from './runtime/ports.ts';

export type { DeploymentHandle };

export const createStartRegionDeploy =
  (deps: Pick<Deps, 'deployer' | 'events' | 'now'>) =>
  async ({ task }: { task: RegionTask }): Promise<DeploymentHandle> => {
    await emit(deps, task.service, task.releaseId, {
      kind: 'region',
      wave: task.wave,
      region: task.region,
      state: task.action === 'deploy' ? 'deploying' : 'rolling-back',
      version: task.revision?.version ?? null,
    });
    const { deploymentId } = await deps.deployer.startDeployment({
      service: task.service,
      releaseId: task.releaseId,
      region: task.region,
      target: task.target,
      purpose: task.action,
      revision: task.revision,
      ...(task.action === 'deploy' && task.stageId !== undefined ? { stageId: task.stageId } : {}),
    });
    return startedHandle(deploymentId, task.deploy, deps.now());
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createStartRegionDeploy({ deployer: deployStarterFromEnv(), events: eventsFromEnv(), now: Date.now }),
);
