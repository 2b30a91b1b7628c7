/** Targets and requests shared by the AWS adapter tests. */
import type { CodeDeployTarget, GateSettings, LocalTarget } from '../../../config/types.ts';
import type { DeploymentRequest } from '../../../ports/region-deployer.ts';

export function cdTarget(over: Partial<CodeDeployTarget> = {}): CodeDeployTarget {
  return {
    kind: 'codedeploy',
    awsRegion: 'eu-west-1',
    application: 'shop',
    deploymentGroup: 'shop-prod',
    platform: 'Server',
    alarms: { names: [] },
    ...over,
  };
}

export const localTarget: LocalTarget = {
  kind: 'local-process',
  port: 7101,
  command: ['node', 'server.js'],
  env: {},
  faults: [],
};

export function deployRequest(over: Partial<DeploymentRequest> = {}): DeploymentRequest {
  return {
    service: 'shop',
    releaseId: 'shop-1.1.0-r1',
    region: 'eu-west',
    target: cdTarget(),
    purpose: 'deploy',
    revision: { version: '1.1.0', artifact: 's3://builds/shop/1.1.0.zip' },
    ...over,
  };
}

export const gate = (over: Partial<GateSettings> = {}): GateSettings => ({
  healthPath: '/health',
  probes: 3,
  intervalSeconds: 1,
  maxErrorRate: 0,
  minSamples: 1,
  probeTimeoutMs: 1000,
  probeSpacingMs: 0,
  bakeSeconds: 1,
  onInconclusive: 'rollback',
  ...over,
});

/** The Error a promise rejects with, for assertions on name, message and cause. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected a rejection, but the promise resolved');
}
