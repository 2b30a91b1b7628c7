/**
 * Port: puts a revision of the service into one region and reports how that went.
 * The local adapter runs real processes on 127.0.0.1; the AWS adapter drives CodeDeploy.
 * The shape follows CodeDeploy on purpose: start a deployment, then read its state when it changes
 * (the local fleet says when; CodeDeploy's EventBridge event does on AWS).
 */
import type { RegionTarget } from '../core/config.ts';
import type { DeploymentStatus, Revision } from '../core/model.ts';

export type { DeploymentStatus, Revision };

/** Why a deployment happens: drives fault injection locally and audit everywhere. */
export type DeployPurpose = 'deploy' | 'rollback';

export interface DeploymentRequest {
  service: string;
  releaseId: string;
  region: string;
  target: RegionTarget;
  purpose: DeployPurpose;
  /** The revision to run, or null to take the service out of the region (it had none before). */
  revision: Revision | null;
  /** This release's staging in the region (startStaging's id), if any: the deploy uses what it staged. */
  stageId?: string;
}

export interface DeploymentRef {
  region: string;
  target: RegionTarget;
  deploymentId: string;
}

/**
 * A build put into a region ahead of its wave, without switching anything there: while the canary
 * bakes, every later region receives the bits, so its wave's deploy is only the switch.
 */
export interface StageRequest {
  service: string;
  releaseId: string;
  region: string;
  target: RegionTarget;
  revision: Revision;
  /** For removeStaged: the id startStaging returned there (the release record keeps it). */
  stageId?: string;
}

export type StageStatus = { status: 'InProgress' } | { status: 'Staged' } | { status: 'Failed'; message: string };

export interface StageRef {
  region: string;
  target: RegionTarget;
  stageId: string;
}

export interface RegionDeployer {
  /** Starts a deployment and returns at once; the work goes on in the background. */
  startDeployment(request: DeploymentRequest): Promise<{ deploymentId: string }>;
  /** Current status of a deployment. Unknown ids are an error named DeploymentNotFound. */
  getDeployment(ref: DeploymentRef): Promise<DeploymentStatus>;
  /**
   * What the region runs now according to the platform itself (locally the `current` release;
   * CodeDeploy: the deployment group's last successful deployment), or null when nothing was
   * ever deployed. This is the region's last-known-good, the revision a rollback returns to.
   */
  currentRevision(region: string, target: RegionTarget): Promise<Revision | null>;
  /**
   * Optional: resolves as soon as the deployment is no longer InProgress, or after `timeoutMs`
   * with its status then. Deployers that run deployments in this process (the local fleet) offer
   * it so a finished deploy is noticed at once instead of at the next poll; others are polled.
   */
  awaitDeployment?(ref: DeploymentRef, timeoutMs: number): Promise<DeploymentStatus>;
  /** Stops a running deployment (abort). Stopping one that already ended is a no-op. */
  stopDeployment(ref: DeploymentRef): Promise<void>;
  /**
   * Optional (a deployer without it deploys the bits at deploy time): starts staging a build in a
   * region and returns at once. A later deployment of the same release and revision there uses
   * what was staged; one started while staging runs waits for it.
   */
  startStaging?(request: StageRequest): Promise<{ stageId: string }>;
  /** Resolves when the staging is no longer InProgress, or after `timeoutMs` with its status then. */
  awaitStaging?(ref: StageRef, timeoutMs: number): Promise<StageStatus>;
  /**
   * Removes what this release staged in the region, unless the region runs it now: the end of a
   * release that rolled back, was aborted or superseded, or skipped the region. Idempotent.
   */
  removeStaged?(request: StageRequest): Promise<void>;
}
