/**
 * GithubWebhook: GitHub's `push` webhook, behind API Gateway (HTTP API, payload format 2.0). A
 * merge to the release branch starts exactly one release of that commit; everything else is
 * answered and starts nothing. Not a Task of the state machines: it starts them. What each
 * delivery gets is decided in services/github-delivery.ts (the answers are listed there), the same
 * code `flotilla up` serves POST /github with; this file is its AWS edge: the event read through
 * functions/runtime/http.ts, and Step Functions as the release starter.
 *
 * The release of a commit is named `<service>-<first 12 of the sha>` (core/github.ts), with
 * version `<first 12 of the sha>`, and started with the same input every time: a redelivery (same
 * X-GitHub-Delivery) or a duplicate event for the same commit reaches the same Step Functions
 * execution, which starts once. A push older than the newest one seen for the branch (kept in the
 * ledger table) starts nothing: stale, never a downgrade. The answer comes at once; the release
 * runs on without it.
 * The secret is never logged or echoed.
 */

import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { FlotillaConfig } from '../config/types.ts';
import { artifactOfCommit, namesABuildPerCommit } from '../core/github.ts';
import type { BranchHeads } from '../ports/ledger.ts';
import { answerGithubDelivery } from '../services/github-delivery.ts';
import type { PushStarter, StartRequest, StartResult } from '../services/start-from-push.ts';
import type { StartReleaseInput } from './plan-release.ts';
import { configFromSsm, misconfigured, secretFromSsm } from './runtime/env.ts';
import { type HttpResponse, jsonResponse, readRequest } from './runtime/http.ts';
import { lambda, requireEnv } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';

export type { StartRequest, StartResult };

export interface GithubWebhookDeps {
  /** The webhook's secret (the one set on GitHub). */
  secret: () => Promise<string>;
  /** Starts the release, idempotently by `releaseId`. */
  start: PushStarter;
  /** The newest push seen per branch (the ledger): an older push is stale and starts nothing. */
  heads: BranchHeads;
  config: () => Promise<FlotillaConfig>;
  /** The branch whose pushes are released, e.g. `main`. */
  branch: string;
  /** Where the build of a commit is, e.g. `s3://builds/shop/<commit>.zip`. */
  artifactFor: (commit: string) => string;
  /** Larger bodies are refused (413). Default 1 MiB. */
  maxBodyBytes?: number;
  /** One structured line per delivery. Default: JSON on stdout (CloudWatch Logs on AWS). */
  log?: (entry: Record<string, unknown>) => void;
}

export type WebhookResponse = HttpResponse;

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const logJson = (entry: Record<string, unknown>) => console.log(JSON.stringify(entry));

export const createGithubWebhook = (deps: GithubWebhookDeps) => {
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = deps.log ?? logJson;
  return async (event: APIGatewayProxyEventV2): Promise<WebhookResponse> => {
    // Size first, before any work: the declared length, then the bytes themselves.
    const answer = await answerGithubDelivery(readRequest(event, maxBodyBytes), { ...deps, maxBodyBytes, log });
    return jsonResponse(answer.status, answer.body);
  };
};

/**
 * `s3://builds/shop/{commit}.zip` → where a commit's build is. `{commit}` is the full sha,
 * `{version}` its first 12 characters. A template with neither would name one artifact for every
 * commit, so it is refused.
 */
export function artifactFromTemplate(template: string): (commit: string) => string {
  if (!namesABuildPerCommit(template)) {
    throw misconfigured(`FLOTILLA_ARTIFACT_TEMPLATE must contain {commit} or {version} (got ${template})`);
  }
  return (commit) => artifactOfCommit(template, commit);
}

/**
 * How far before our own StartExecution call an execution's startDate must be for it to count as
 * started earlier (clock skew between the Lambda and Step Functions stays well within this).
 */
const EARLIER_START_MS = 5_000;

/**
 * `start` on AWS: StartExecution of the release state machine, named by the release id, with an
 * input that depends only on the commit and the function's settings (no delivery id, time or
 * host), so that repeating it is idempotent:
 * - while that execution runs, the same name and input succeed with the original execution (its
 *   own startDate, from before this call: reported as `exists`);
 * - once it has ended, or if it was started with another input (e.g. by `flotilla release`),
 *   Step Functions answers ExecutionAlreadyExists: `exists` too.
 * A duplicate arriving within seconds of the first start may be reported `started` as well; either
 * way Step Functions ran one execution.
 */
export function startWithStepFunctions(options: {
  sfn: SFNClient;
  stateMachineArn: string;
  config: () => Promise<FlotillaConfig>;
  now?: () => number;
}): PushStarter {
  const now = options.now ?? (() => Date.now());
  return async (request) => {
    const input: StartReleaseInput = {
      releaseId: request.releaseId,
      version: request.version,
      artifact: request.artifact,
      config: await options.config(),
      owner: 'github',
    };
    const sentAt = now();
    try {
      const out = await options.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: options.stateMachineArn,
          name: request.releaseId,
          input: JSON.stringify(input),
        }),
      );
      return out.startDate && out.startDate.getTime() < sentAt - EARLIER_START_MS ? 'exists' : 'started';
    } catch (error) {
      if ((error as Error).name === 'ExecutionAlreadyExists') return 'exists';
      throw error;
    }
  };
}

/**
 * The webhook wired to AWS from the environment serverless.yml sets. The artifact template and
 * the config (from the SSM parameter FLOTILLA_CONFIG_PARAM names) are read when a push needs
 * them: until a deployer sets them, pings still answer and pushes get a 500 naming the missing
 * setting in the log.
 */
export function githubWebhookFromEnv(clients: { ssm?: SSMClient; sfn?: SFNClient; ledger?: BranchHeads } = {}) {
  const secretParam = requireEnv('FLOTILLA_GITHUB_SECRET_PARAM');
  const stateMachineArn = requireEnv('FLOTILLA_RELEASE_STATE_MACHINE_ARN');
  let artifactOf: ((commit: string) => string) | undefined;
  const artifactFor = (commit: string) => {
    artifactOf ??= artifactFromTemplate(requireEnv('FLOTILLA_ARTIFACT_TEMPLATE'));
    return artifactOf(commit);
  };
  const ssm = clients.ssm ?? new SSMClient({});
  const loadConfig = configFromSsm(ssm);
  // The ledger (FLOTILLA_TABLE) is opened when a push needs it, as the template and the config are.
  let ledger: BranchHeads | undefined = clients.ledger;
  const heads: BranchHeads = {
    getBranchHead: (service, branch) => {
      ledger ??= ledgerFromEnv();
      return ledger.getBranchHead(service, branch);
    },
    putBranchHead: (service, head, previous) => {
      ledger ??= ledgerFromEnv();
      return ledger.putBranchHead(service, head, previous);
    },
  };
  return createGithubWebhook({
    secret: secretFromSsm(ssm, secretParam),
    heads,
    start: startWithStepFunctions({ sfn: clients.sfn ?? new SFNClient({}), stateMachineArn, config: loadConfig }),
    config: loadConfig,
    branch: process.env.FLOTILLA_BRANCH || 'main',
    artifactFor,
  });
}

/** The Lambda entry point on AWS (API Gateway HTTP API, `POST /github`). */
export const handler = lambda(() => githubWebhookFromEnv());

export { configFromSsm, secretFromSsm };
