/**
 * StartRegionDeploy (child execution): marks the region touched in the ledger *before* anything
 * changes there, so a crash at any later point still leaves it on the rollback list; then starts
 * the deployment (a deploy of the new build, or a rollback to the region's last-known-good).
 */

import { lambda } from '../backends/aws/lambda.ts';
import { ledgerFromEnv } from '../backends/aws/ledger.ts';
import { deployerFromEnv, eventsFromEnv } from '../backends/aws/ports.ts';
import type { RegionTask } from '../core/types.ts';
import { type Deps, emit, isoAt } from './deps.ts';

export interface DeploymentHandle {
  deploymentId: string;
  status: 'InProgress' | 'Succeeded' | 'Failed';
  message?: string;
  /** Seconds the child waits before the next poll (back-off). */
  waitSeconds: number;
  polls: number;
}

export const createStartRegionDeploy =
  (deps: Pick<Deps, 'ledger' | 'deployer' | 'events' | 'now'>) =>
  async ({ task }: { task: RegionTask }): Promise<DeploymentHandle> => {
    const record = await deps.ledger.getRelease(task.service, task.releaseId);
    const entry = record?.regions[task.region];
    // The platform's own record of what runs there is the last-known-good (CodeDeploy's last
    // successful deployment may predate Flotilla); the ledger's is the fallback. Captured once:
    // a retried start keeps what the first attempt recorded.
    let before = entry?.before ?? null;
    if (task.action === 'deploy' && (entry === undefined || entry.phase === 'pending')) {
      before = (await deps.deployer.currentRevision(task.region, task.target)) ?? before;
    }
    await deps.ledger.putReleaseRegion(task.service, task.releaseId, {
      region: task.region,
      wave: task.wave,
      phase: task.action === 'deploy' ? 'deploying' : 'rolling-back',
      before,
      updatedAt: isoAt(deps),
    });
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
    });
    return { deploymentId, status: 'InProgress', waitSeconds: task.deploy.pollSeconds, polls: 0 };
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createStartRegionDeploy({
    ledger: ledgerFromEnv(),
    deployer: deployerFromEnv(),
    events: eventsFromEnv(),
    now: Date.now,
  }),
);
