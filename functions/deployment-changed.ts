/**
 * DeploymentChanged: EventBridge's "CodeDeploy Deployment State-change Notification" (forwarded
 * from each target region by the relay rule, infra/region-relay.yml) wakes the region child that
 * waits on that deployment (services/deploy-watch.ts): it reads the deployment's state (the event's
 * own `state` is only a hint: a deployment CodeDeploy rolled back itself reports SUCCESS for the
 * rollback, and the failure's reason is in GetDeployment) and, when it has finished, sends the
 * child's token the final state with SendTaskSuccess (SendTaskFailure DeploymentNotFound for a
 * deployment CodeDeploy no longer knows). READY (blue/green waiting for reroute), START and the
 * other in-between states leave the child waiting.
 */
import { namedError } from '../core/errors.ts';
import { type DeployWakeOutcome, deploymentChanged } from '../services/deploy-watch.ts';
import type { Deps } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { callbacksFromEnv, deployerFromEnv } from './runtime/ports.ts';

export const DEPLOYMENT_STATE_CHANGE = 'CodeDeploy Deployment State-change Notification';

export interface DeploymentStateChangeEvent {
  source?: string;
  'detail-type'?: string;
  region?: string;
  detail?: { deploymentId?: string; state?: string; application?: string; deploymentGroup?: string };
}

/** Reads what the handler needs from the event; anything else is a clear error, never a guess. */
export function parseDeploymentEvent(event: DeploymentStateChangeEvent): {
  deploymentId: string;
  state: string;
  awsRegion: string;
} {
  const deploymentId = event.detail?.deploymentId;
  const state = event.detail?.state;
  if (event['detail-type'] !== DEPLOYMENT_STATE_CHANGE || !deploymentId || !state || !event.region) {
    throw namedError('InvalidEvent', `not a ${DEPLOYMENT_STATE_CHANGE} event with a deployment id, state and region`);
  }
  return { deploymentId, state, awsRegion: event.region };
}

export const createDeploymentChanged =
  (deps: Pick<Deps, 'ledger' | 'deployer' | 'now'> & { callbacks: NonNullable<Deps['callbacks']> }) =>
  async (event: DeploymentStateChangeEvent): Promise<DeployWakeOutcome> =>
    deploymentChanged(deps, parseDeploymentEvent(event).deploymentId);

/** The Lambda entry point on AWS (an EventBridge rule on the orchestrator's bus). */
export const handler = lambda(() =>
  createDeploymentChanged({
    ledger: ledgerFromEnv(),
    deployer: deployerFromEnv(),
    now: Date.now,
    callbacks: callbacksFromEnv(),
  }),
);
