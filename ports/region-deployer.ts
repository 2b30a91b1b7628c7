/**
 * Port: puts a revision of the service into one region and reports how that went.
 * The local adapter runs real processes on 127.0.0.1; the AWS adapter (CodeDeploy) comes later.
 * The shape follows CodeDeploy on purpose: start a deployment, then poll it.
 */
import type { LocalTarget } from '../config/types.ts';

/** What gets deployed: a version and where its bits are. */
export interface Revision {
  version: string;
  /** Absolute path of the build directory (local) or a revision location (AWS). */
  artifact: string;
}

/** Why a deployment happens: drives fault injection locally and audit everywhere. */
export type DeployPurpose = 'deploy' | 'rollback';

export interface DeploymentRequest {
  service: string;
  releaseId: string;
  region: string;
  target: LocalTarget;
  purpose: DeployPurpose;
  /** The revision to run, or null to take the service out of the region (it had none before). */
  revision: Revision | null;
}

export type DeploymentStatus =
  | { status: 'InProgress' }
  | { status: 'Succeeded' }
  | { status: 'Failed'; message: string };

export interface RegionDeployer {
  /** Starts a deployment and returns at once; the work goes on in the background. */
  startDeployment(request: DeploymentRequest): Promise<{ deploymentId: string }>;
  /** Current status of a deployment started by this deployer. Unknown ids are an error (DeploymentNotFound). */
  getDeployment(region: string, deploymentId: string): Promise<DeploymentStatus>;
}
