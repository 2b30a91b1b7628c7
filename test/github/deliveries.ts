/**
 * GitHub deliveries as API Gateway (HTTP API, payload 2.0) hands them to the webhook: REAL payloads
 * from @octokit/webhooks-examples (what GitHub sends, collected by the Octokit project), signed here
 * with a test secret by an HMAC written out in this file, not by the code under test.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { WebhookDefinition } from '@octokit/webhooks-examples';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

export const SECRET = 'test-webhook-secret-4f1c9a';

type PushEvent = WebhookDefinition<'push'>['examples'][number];
type PingEvent = WebhookDefinition<'ping'>['examples'][number];

// The package is JSON behind a CommonJS main: loaded with require, typed by its own index.d.ts.
const definitions = createRequire(import.meta.url)('@octokit/webhooks-examples') as WebhookDefinition[];

function examplesOf<T>(name: string): T[] {
  const found = definitions.find((d) => d.name === name);
  if (!found || found.examples.length === 0) throw new Error(`@octokit/webhooks-examples has no ${name} examples`);
  return structuredClone(found.examples) as T[];
}

export const pushExamples = (): PushEvent[] => examplesOf<PushEvent>('push');

function onePush(test: (e: PushEvent) => boolean, what: string): PushEvent {
  const found = pushExamples().find(test);
  if (!found) throw new Error(`@octokit/webhooks-examples has no ${what} push`);
  return found;
}

/** The real push of a commit to the branch `master` (Codertocat/Hello-World), unchanged. */
export const pushToMaster = (): PushEvent =>
  onePush((e) => e.ref === 'refs/heads/master' && !e.deleted, 'branch (refs/heads/master)');

/** That same real push, to `main`: only `ref` is rewritten. */
export function pushToMain(): PushEvent {
  const push = pushToMaster();
  push.ref = 'refs/heads/main';
  return push;
}

/** A real push of a tag (refs/tags/simple-tag). */
export const tagPush = (): PushEvent => onePush((e) => e.ref.startsWith('refs/tags/') && !e.deleted, 'tag');

/** A real deletion push (`deleted: true`, `after` all zeros; a tag in the examples), moved to main. */
export function mainDeleted(): PushEvent {
  const push = onePush((e) => e.deleted, 'deletion');
  push.ref = 'refs/heads/main';
  return push;
}

/**
 * A later push of `commit` to main: the real push, with `after` and `before` rewritten and
 * `repository.pushed_at` (Unix seconds, what orders pushes) moved `seconds` on.
 */
export function laterPushToMain(commit: string, seconds: number, before?: string): PushEvent {
  const push = pushToMain();
  push.after = commit;
  if (before !== undefined) push.before = before;
  push.repository.pushed_at = Number(push.repository.pushed_at) + seconds;
  return push;
}

export const pingExample = (): PingEvent => examplesOf<PingEvent>('ping')[0] as PingEvent;

/** `sha256=<hex HMAC-SHA256>` of the bytes, as GitHub computes X-Hub-Signature-256. */
export function sign(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface DeliveryOptions {
  /** X-GitHub-Event; default `push`. */
  event?: string;
  /** X-GitHub-Delivery; default a fresh GUID. */
  id?: string;
  /** Signed with this secret; default SECRET. `null`: no signature header. */
  secret?: string | null;
  /** Overrides the signature header. */
  signature?: string;
  /** Hand the body over base64-encoded, as HTTP API does for non-text content types. */
  base64?: boolean;
  contentType?: string;
  /** Extra or replaced headers (after the defaults). */
  headers?: Record<string, string>;
}

/** A delivery of `payload` (an object is sent as GitHub serialises it, a string or Buffer as is). */
export function delivery(payload: unknown, options: DeliveryOptions = {}): APIGatewayProxyEventV2 {
  const raw = Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload), 'utf8');
  const secret = options.secret === undefined ? SECRET : options.secret;
  const signature = options.signature ?? (secret === null ? undefined : sign(secret, raw));
  const headers: Record<string, string> = {
    accept: '*/*',
    'content-type': options.contentType ?? 'application/json',
    'content-length': String(raw.length),
    'user-agent': 'GitHub-Hookshot/8e03811',
    'x-github-delivery': options.id ?? randomUUID(),
    'x-github-event': options.event ?? 'push',
    'x-github-hook-id': '292430182',
    'x-github-hook-installation-target-id': '79929171',
    'x-github-hook-installation-target-type': 'repository',
    ...(signature === undefined ? {} : { 'x-hub-signature-256': signature }),
    ...options.headers,
  };
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: 'POST /github',
    rawPath: '/github',
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123defg',
      domainName: 'abc123defg.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123defg',
      http: {
        method: 'POST',
        path: '/github',
        protocol: 'HTTP/1.1',
        sourceIp: '140.82.115.251',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: `req-${now}`,
      routeKey: 'POST /github',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body: options.base64 ? raw.toString('base64') : raw.toString('utf8'),
    isBase64Encoded: options.base64 ?? false,
  };
}
