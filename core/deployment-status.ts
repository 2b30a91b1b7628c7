/**
 * What a CodeDeploy deployment's status means for Flotilla: the deploy phase a region's child acts
 * on, and whether the deployment waits for Flotilla to continue it. One decision, used by whatever
 * reads a deployment (the deployer's GetDeployment, an EventBridge state-change handler).
 *
 * `Ready` is a blue/green deployment whose replacement is up and waiting for its traffic reroute to
 * be started (the group's deploymentReadyOption is STOP_DEPLOYMENT): nothing moves until someone
 * calls ContinueDeployment with READY_WAIT, and after the group's wait time CodeDeploy stops it. A
 * release is what decides there, so Flotilla continues it. Once the traffic is rerouted and the
 * wait before the original environment is terminated has begun (`instanceTerminationWaitTimeStarted`),
 * the deployment is CodeDeploy's own to finish: continuing it (TERMINATION_WAIT) would only throw
 * away the old environment early, so Flotilla waits.
 */

/** The deployment's fields this decision reads: a subset of CodeDeploy's DeploymentInfo. */
export interface CodeDeployDeploymentView {
  deploymentId?: string | undefined;
  /** Created, Queued, InProgress, Baking, Ready, Succeeded, Failed, Stopped (or absent). */
  status?: string | undefined;
  errorInformation?: { code?: string | undefined; message?: string | undefined } | undefined;
  rollbackInfo?: { rollbackDeploymentId?: string | undefined } | undefined;
  instanceTerminationWaitTimeStarted?: boolean | undefined;
}

/** The deploy phase, in the shape of the RegionDeployer port's DeploymentStatus. */
export type DeployPhase = { status: 'InProgress' } | { status: 'Succeeded' } | { status: 'Failed'; message: string };

export interface DeploymentStatusReading {
  phase: DeployPhase;
  /** Set when the deployment waits for ContinueDeployment with this wait type before it goes on. */
  continueWith?: 'READY_WAIT';
}

/** CodeDeploy's status as Flotilla's deploy phase, and whether the deployment must be continued. */
export function readDeploymentStatus(info: CodeDeployDeploymentView): DeploymentStatusReading {
  const id = info.deploymentId ?? 'the deployment';
  const reason = info.errorInformation?.message || info.errorInformation?.code || undefined;
  const rollbackId = info.rollbackInfo?.rollbackDeploymentId;
  if (rollbackId) {
    // CodeDeploy's own auto-rollback ran: whatever this deployment's status says, it did not stick.
    const what = info.status === 'Stopped' ? 'stopped' : 'failed';
    return {
      phase: {
        status: 'Failed',
        message: `${id} ${what}${reason ? `: ${reason}` : ''}; CodeDeploy rolled it back automatically in deployment ${rollbackId}`,
      },
    };
  }
  switch (info.status) {
    case 'Succeeded':
      return { phase: { status: 'Succeeded' } };
    case 'Failed':
      return { phase: { status: 'Failed', message: reason ?? `${id} failed (CodeDeploy gave no reason)` } };
    case 'Stopped':
      return { phase: { status: 'Failed', message: `stopped: ${reason ?? `${id} was stopped`}` } };
    case 'Ready':
      return info.instanceTerminationWaitTimeStarted === true
        ? { phase: { status: 'InProgress' } }
        : { phase: { status: 'InProgress' }, continueWith: 'READY_WAIT' };
    default:
      // Created, Queued, InProgress, Baking, or absent: CodeDeploy is still at it.
      return { phase: { status: 'InProgress' } };
  }
}
