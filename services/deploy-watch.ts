/**
 * Waking a region's child execution when its deployment ends. The child sleeps on one task token
 * for the whole deployment (no polling in its history); whoever learns that the deployment changed
 * calls `deploymentChanged`: on AWS the handler of CodeDeploy's "Deployment State-change
 * Notification" (EventBridge, relayed from the target region), locally the process fleet as a
 * restart ends, and the child itself when it starts a round of the wait (the deployment may have
 * ended before the token was kept). It reads the deployment's state, asks the core whether that
 * ends the wait (core/deploy-wait.ts `deploymentStep`) and, if so, wakes the child with it.
 */
import { type DeploymentHandle, deploymentStep } from '../core/deploy-wait.ts';
import type { DeployWait } from '../core/types.ts';
import type { Ledger } from '../ports/ledger.ts';
import type { RegionDeployer } from '../ports/region-deployer.ts';
import type { TaskCallbacks } from '../ports/task-callbacks.ts';

export interface DeployWatchDeps {
  ledger: Pick<Ledger, 'getDeployWait' | 'takeDeployWait' | 'putDeployWait'>;
  deployer: Pick<RegionDeployer, 'getDeployment'>;
  callbacks: TaskCallbacks;
  now: () => number;
}

/** What a look at a waited-on deployment did. */
export type DeployWake =
  /** No child waits on this deployment (not Flotilla's, or already woken). */
  | { kind: 'not-waited' }
  /** Not finished (running, queued, blue/green Ready...): the child keeps waiting. */
  | { kind: 'waiting' }
  /** Finished: the child was woken with `handle` (`gone`: its wait had already moved on). */
  | { kind: 'settled'; handle: DeploymentHandle; woke: 'woken' | 'gone' }
  /** The deployment is unknown to its platform: the child's wait was failed with DeploymentNotFound. */
  | { kind: 'lost'; woke: 'woken' | 'gone' }
  /** Another waker (the event and the child's own look racing) took the wait first. */
  | { kind: 'taken' };

export type DeployWakeOutcome = { deploymentId: string } & DeployWake;

/**
 * The deployment `deploymentId` may have changed state: wake its waiting child if it has finished.
 * `kept` is the wait as its child just stored it (the child's own look): no need to read it back.
 * `ended`: the caller knows the deployment has finished (the local fleet, as a restart ends), so
 * the wait is taken at once rather than read first, one ledger request instead of two.
 */
export async function deploymentChanged(
  deps: DeployWatchDeps,
  deploymentId: string,
  known: { kept?: DeployWait; ended?: boolean } = {},
): Promise<DeployWakeOutcome> {
  // Taken first when the deployment is known to have ended: a wait that turns out not to end goes back.
  const takenFirst = known.ended === true && !known.kept;
  const wait =
    known.kept ??
    (takenFirst ? await deps.ledger.takeDeployWait(deploymentId) : await deps.ledger.getDeployWait(deploymentId));
  if (!wait) return { deploymentId, kind: 'not-waited' };
  /** The wait, taken from the ledger (null: another waker took it first). */
  const take = async () => (takenFirst ? wait : ((await deps.ledger.takeDeployWait(deploymentId)) ?? null));
  let status: Awaited<ReturnType<RegionDeployer['getDeployment']>>;
  try {
    status = await deps.deployer.getDeployment({ region: wait.region, target: wait.target, deploymentId });
  } catch (error) {
    if (!(error instanceof Error) || error.name !== 'DeploymentNotFound') {
      if (takenFirst) await deps.ledger.putDeployWait(wait);
      throw error;
    }
    const taken = await take();
    if (!taken) return { deploymentId, kind: 'taken' };
    const woke = await deps.callbacks.fail(taken.token, 'DeploymentNotFound', error.message);
    return { deploymentId, kind: 'lost', woke };
  }
  const step = deploymentStep({ handle: wait.handle, status, deploy: wait.deploy, now: deps.now() });
  if (step.kind === 'wait') {
    // Not finished after all: a wait taken first goes back for the next waker or the child's re-check.
    if (takenFirst) await deps.ledger.putDeployWait(wait);
    return { deploymentId, kind: 'waiting' };
  }
  const taken = await take();
  if (!taken) return { deploymentId, kind: 'taken' };
  return settle(deps, taken, step.handle);
}

async function settle(deps: DeployWatchDeps, taken: DeployWait, handle: DeploymentHandle): Promise<DeployWakeOutcome> {
  let woke: 'woken' | 'gone';
  try {
    woke = await deps.callbacks.succeed(taken.token, { ...handle });
  } catch (error) {
    // Not reached (throttled, the network): keep the wait for the next waker or the re-check.
    await deps.ledger.putDeployWait(taken);
    throw error;
  }
  return { deploymentId: taken.deploymentId, kind: 'settled', handle, woke };
}
