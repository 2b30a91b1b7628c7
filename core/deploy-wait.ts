/**
 * A region's deployment as one wait: the child execution starts it and sleeps on a task token,
 * woken by the deployment's own state change (CodeDeploy's EventBridge event on AWS, the local
 * fleet when a restart ends). A slow re-check on the wait's timeout catches an event that never
 * came (EventBridge delivers CodeDeploy's events best effort). These are the rules of that wait,
 * used alike by whoever wakes it and by the re-check. Pure: `now` is passed in.
 */
import type { DeploySettings } from './config.ts';
import type { DeploymentStatus } from './model.ts';

/** What the child carries of its deployment between the wait's rounds. */
export interface DeploymentHandle {
  deploymentId: string;
  status: 'InProgress' | 'Succeeded' | 'Failed';
  message?: string;
  /** A failed deployment the deployer knows changed nothing in the region. */
  untouched?: boolean;
  /** Seconds the wait lasts before its re-check (the fallback for a missed event). */
  waitSeconds: number;
  /** Re-checks so far. */
  polls: number;
  /** When the deployment was started (ms since the epoch). */
  startedAt: number;
}

/** What a look at the deployment decides. */
export type DeploymentStep =
  /** Still running (or between steps: queued, blue/green `Ready`, baking): keep waiting, re-check after `waitSeconds`. */
  | { kind: 'wait'; handle: DeploymentHandle }
  /** Finished, as `handle.status` says: wake the child with it. */
  | { kind: 'settled'; handle: DeploymentHandle };

/**
 * Whether the deployment is finished and as what, and if not, how long the next wait lasts: the
 * re-check interval starts at `deploy.pollSeconds` and doubles up to `deploy.maxPollSeconds`.
 * Only Succeeded and Failed end the wait; every other state (the deployer reports CodeDeploy's
 * Created, Queued, InProgress, Baking and Ready as InProgress) keeps it.
 */
export function deploymentStep(input: {
  handle: DeploymentHandle;
  status: DeploymentStatus;
  deploy: Pick<DeploySettings, 'pollSeconds' | 'maxPollSeconds'>;
  now: number;
}): DeploymentStep {
  const { handle, status, deploy } = input;
  const polls = handle.polls + 1;
  if (status.status === 'InProgress') {
    const waitSeconds = Math.min(deploy.maxPollSeconds, Math.max(deploy.pollSeconds, handle.waitSeconds * 2));
    return { kind: 'wait', handle: { ...common(handle), status: 'InProgress', waitSeconds, polls } };
  }
  const settled: DeploymentHandle = { ...common(handle), status: status.status, waitSeconds: 0, polls };
  if (status.status === 'Failed') {
    const ran = Math.max(0, Math.round((input.now - handle.startedAt) / 1000));
    settled.message = status.message || `${handle.deploymentId} failed after ${ran} s`;
    if (status.untouched) settled.untouched = true;
  }
  return { kind: 'settled', handle: settled };
}

/** The handle a just-started deployment waits with: its first re-check comes after `deploy.pollSeconds`. */
export function startedHandle(
  deploymentId: string,
  deploy: Pick<DeploySettings, 'pollSeconds'>,
  now: number,
): DeploymentHandle {
  return { deploymentId, status: 'InProgress', waitSeconds: deploy.pollSeconds, polls: 0, startedAt: now };
}

function common(handle: DeploymentHandle): Pick<DeploymentHandle, 'deploymentId' | 'startedAt'> {
  return { deploymentId: handle.deploymentId, startedAt: handle.startedAt };
}
