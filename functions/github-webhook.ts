/**
 * GithubWebhook: GitHub's `push` webhook, behind API Gateway (HTTP API, payload format 2.0). A
 * merge to the release branch starts exactly one release of that commit; everything else is
 * answered and starts nothing. Not a Task of the state machines: it starts them.
 *
 *   body over the limit (Content-Length or actual size)   413
 *   X-Hub-Signature-256 missing or wrong                  401
 *   X-GitHub-Event `ping`                                 200 {pong: true}
 *   any other event than `push`                           202 {ignored}
 *   a body that is not JSON (or a form without payload)   400
 *   a push that starts no release (other ref, deletion)   202 {ignored}
 *   a push to the branch                                  202 {releaseId, status: started | already started}
 *
 * The release of a commit is named `<service>-<first 12 of the sha>` (core/github.ts), with
 * version `<first 12 of the sha>`, and started with the same input every time: a redelivery (same
 * X-GitHub-Delivery) or a duplicate event for the same commit reaches the same Step Functions
 * execution, which starts once. The answer comes at once; the release runs on without it.
 * The secret is never logged or echoed.
 */

import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { FlotillaConfig } from '../config/types.ts';
import {
  DELIVERY_HEADER,
  EVENT_HEADER,
  releaseFromPush,
  releaseIdForCommit,
  SIGNATURE_HEADER,
  verifySignature,
  versionForCommit,
} from '../core/github.ts';
import type { StartReleaseInput } from './plan-release.ts';
import { configFromEnv, misconfigured, secretFromSsm } from './runtime/env.ts';
import { rawBody } from './runtime/http.ts';
import { lambda, requireEnv } from './runtime/lambda.ts';

/** What the handler asks the release engine for: one commit's release. */
export interface StartRequest {
  releaseId: string;
  version: string;
  commit: string;
  artifact: string;
}

/** `exists`: that release was already started (by an earlier delivery, or by CI); nothing new ran. */
export type StartResult = 'started' | 'exists';

export interface GithubWebhookDeps {
  /** The webhook's secret (the one set on GitHub). */
  secret: () => Promise<string>;
  /** Starts the release, idempotently by `releaseId`. */
  start: (request: StartRequest) => Promise<StartResult>;
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

export interface WebhookResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const FORM = 'application/x-www-form-urlencoded';

const reply = (statusCode: number, body: Record<string, unknown>): WebhookResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

const logJson = (entry: Record<string, unknown>) => console.log(JSON.stringify(entry));

/** Header names in lower case (HTTP API already sends them so; a test or another proxy may not). */
function lowerCased(headers: APIGatewayProxyEventV2['headers'] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) out[name.toLowerCase()] = value;
  return out;
}

/** The error's name only: messages may carry anything, and the delivery log is read by humans. */
const nameOf = (error: unknown) => (error instanceof Error ? error.name : 'Error');

/**
 * The JSON document a delivery carries: the body itself (content type `application/json`), or its
 * `payload` field (`application/x-www-form-urlencoded`, GitHub's default content type).
 */
function payloadText(raw: Buffer, contentType: string | undefined): string | undefined {
  const text = raw.toString('utf8');
  if (contentType?.split(';')[0]?.trim().toLowerCase() !== FORM) return text;
  return new URLSearchParams(text).get('payload') ?? undefined;
}

export const createGithubWebhook = (deps: GithubWebhookDeps) => {
  const limit = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = deps.log ?? logJson;
  return async (event: APIGatewayProxyEventV2): Promise<WebhookResponse> => {
    const headers = lowerCased(event.headers);
    const delivery = headers[DELIVERY_HEADER];
    const kind = headers[EVENT_HEADER];
    const seen = { delivery, event: kind };

    // Size first, before any work: the declared length, then the bytes themselves.
    const tooLarge = () => {
      log({ ...seen, outcome: 'too-large', limit });
      return reply(413, { error: `body over ${limit} bytes` });
    };
    const raw = rawBody(event, headers['content-length'], limit);
    if (!raw) return tooLarge();

    let secret: string;
    try {
      secret = await deps.secret();
    } catch (error) {
      log({ ...seen, outcome: 'no-secret', error: nameOf(error) });
      return reply(500, { error: 'the webhook secret is unavailable' });
    }
    if (!verifySignature(secret, raw, headers[SIGNATURE_HEADER])) {
      log({ ...seen, outcome: 'bad-signature', signed: headers[SIGNATURE_HEADER] !== undefined });
      return reply(401, { error: 'signature missing or wrong' });
    }

    if (kind === 'ping') {
      log({ ...seen, outcome: 'pong' });
      return reply(200, { pong: true });
    }
    if (kind !== 'push') {
      const why = `event ${kind || '(none)'} is not a push`;
      log({ ...seen, outcome: 'ignored', why });
      return reply(202, { ignored: why });
    }

    let payload: unknown;
    try {
      const text = payloadText(raw, headers['content-type']);
      if (text === undefined) throw new SyntaxError('form body without a payload field');
      payload = JSON.parse(text);
    } catch {
      log({ ...seen, outcome: 'malformed' });
      return reply(400, { error: 'the body is not a JSON document' });
    }

    const push = releaseFromPush(payload, { branch: deps.branch });
    if (push.kind === 'ignored') {
      log({ ...seen, outcome: 'ignored', why: push.why });
      return reply(202, { ignored: push.why });
    }

    let request: StartRequest;
    try {
      const config = await deps.config();
      request = {
        releaseId: releaseIdForCommit(config.service, push.commit),
        version: versionForCommit(push.commit),
        commit: push.commit,
        artifact: deps.artifactFor(push.commit),
      };
    } catch (error) {
      // The details (which may quote the config) go to the log only.
      log({ ...seen, outcome: 'misconfigured', error: nameOf(error), message: (error as Error).message });
      return reply(500, { error: 'flotilla is misconfigured: see the function log' });
    }
    const about = { ...seen, releaseId: request.releaseId, commit: push.commit, repository: push.repository };
    let result: StartResult;
    try {
      result = await deps.start(request);
    } catch (error) {
      log({ ...about, outcome: 'start-failed', error: nameOf(error), message: (error as Error).message });
      return reply(500, { releaseId: request.releaseId, error: `the release could not be started (${nameOf(error)})` });
    }
    log({ ...about, outcome: result, pusher: push.pusher, compare: push.compareUrl });
    return reply(202, {
      releaseId: request.releaseId,
      status: result === 'started' ? 'started' : 'already started',
      version: request.version,
      commit: push.commit,
    });
  };
};

/**
 * `s3://builds/shop/{commit}.zip` → where a commit's build is. `{commit}` is the full sha,
 * `{version}` its first 12 characters. A template with neither would name one artifact for every
 * commit, so it is refused.
 */
export function artifactFromTemplate(template: string): (commit: string) => string {
  if (!template.includes('{commit}') && !template.includes('{version}')) {
    throw misconfigured(`FLOTILLA_ARTIFACT_TEMPLATE must contain {commit} or {version} (got ${template})`);
  }
  return (commit) => template.replaceAll('{commit}', commit).replaceAll('{version}', versionForCommit(commit));
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
}): (request: StartRequest) => Promise<StartResult> {
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
 * the config are read when a push needs them: until a deployer sets them, pings still answer and
 * pushes get a 500 naming the missing setting in the log.
 */
export function githubWebhookFromEnv(clients: { ssm?: SSMClient; sfn?: SFNClient } = {}) {
  const secretParam = requireEnv('FLOTILLA_GITHUB_SECRET_PARAM');
  const stateMachineArn = requireEnv('FLOTILLA_RELEASE_STATE_MACHINE_ARN');
  let artifactOf: ((commit: string) => string) | undefined;
  const artifactFor = (commit: string) => {
    artifactOf ??= artifactFromTemplate(requireEnv('FLOTILLA_ARTIFACT_TEMPLATE'));
    return artifactOf(commit);
  };
  let config: Promise<FlotillaConfig> | undefined;
  const loadConfig = () => {
    config ??= Promise.resolve().then(configFromEnv);
    return config;
  };
  return createGithubWebhook({
    secret: secretFromSsm(clients.ssm ?? new SSMClient({}), secretParam),
    start: startWithStepFunctions({ sfn: clients.sfn ?? new SFNClient({}), stateMachineArn, config: loadConfig }),
    config: loadConfig,
    branch: process.env.FLOTILLA_BRANCH || 'main',
    artifactFor,
  });
}

/** The Lambda entry point on AWS (API Gateway HTTP API, `POST /github`). */
export const handler = lambda(() => githubWebhookFromEnv());

export { configFromEnv, secretFromSsm };
