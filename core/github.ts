/**
 * GitHub webhook decisions: is a delivery really from GitHub (its signature), does a `push` start a
 * release, and which release. Pure: no I/O, no clock; node:crypto for the HMAC only. The AWS
 * Lambda (functions/github-webhook.ts) and `flotilla up`'s bridge (control/github-bridge.ts) both
 * decide through here, by way of services/github-delivery.ts.
 *
 * One commit is one release: the release id (the Step Functions execution name) comes from the
 * service and the commit alone, so a redelivered or duplicated event names the same execution,
 * which Step Functions starts once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { executionName } from './plan.ts';

/** GitHub's header names, as API Gateway hands them over (lower case). */
export const SIGNATURE_HEADER = 'x-hub-signature-256';
export const EVENT_HEADER = 'x-github-event';
export const DELIVERY_HEADER = 'x-github-delivery';

/** Characters of the commit sha kept in the version and the release id. */
export const SHORT_SHA_LENGTH = 12;

const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;
const COMMIT_SHA = /^[0-9a-fA-F]{40}$/;
const NO_COMMIT = /^0{40}$/;

const bytesOf = (body: Buffer | string): Buffer => (typeof body === 'string' ? Buffer.from(body, 'utf8') : body);

/** `sha256=<hex HMAC-SHA256 of the raw body>`: the X-Hub-Signature-256 GitHub sends. */
export function signatureOf(secret: string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(bytesOf(rawBody)).digest('hex')}`;
}

/**
 * Whether `header` (X-Hub-Signature-256) is GitHub's signature of exactly these body bytes under
 * `secret`, compared in constant time. A missing or malformed header is false, and so is an empty
 * secret: anyone can compute an HMAC under the empty key, so a secret that was never set must not
 * turn into "everything is signed".
 */
export function verifySignature(secret: string, rawBody: Buffer | string, header: string | undefined): boolean {
  if (secret === '' || typeof header !== 'string') return false;
  const hex = SIGNATURE.exec(header)?.[1];
  if (hex === undefined) return false;
  const given = Buffer.from(hex, 'hex');
  const expected = createHmac('sha256', secret).update(bytesOf(rawBody)).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export type PushDecision =
  | {
      kind: 'release';
      commit: string;
      ref: string;
      repository: string;
      /** When the push happened, to order it against the others of its branch: see pushTimes. */
      pushedAt: number;
      /** head_commit.timestamp in ms since the epoch, when the payload has one: the tie-breaker. */
      committedAt?: number;
      pusher?: string;
      compareUrl?: string;
    }
  | { kind: 'ignored'; why: string };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `main` and `refs/heads/main` both mean the branch main. */
export function branchRef(branch: string): string {
  return branch.startsWith('refs/heads/') ? branch : `refs/heads/${branch}`;
}

/**
 * What a parsed `push` payload asks for. Only a push that moves `refs/heads/<branch>` to a commit
 * starts a release: pushes to other branches or tags, the branch's deletion (`deleted: true`, or
 * `after` all zeros) and anything that is not a push payload are ignored, with the reason.
 */
export function releaseFromPush(event: unknown, settings: { branch: string }): PushDecision {
  if (!isRecord(event)) return { kind: 'ignored', why: 'the payload is not a JSON object' };
  const { ref, after, deleted, repository, pusher, compare, head_commit: headCommit } = event;
  if (typeof ref !== 'string') return { kind: 'ignored', why: 'the payload has no ref: not a push' };
  const wanted = branchRef(settings.branch);
  if (ref !== wanted) return { kind: 'ignored', why: `push to ${ref}, not ${wanted}` };
  if (deleted === true) return { kind: 'ignored', why: `${wanted} was deleted` };
  if (typeof after !== 'string' || !COMMIT_SHA.test(after)) {
    return { kind: 'ignored', why: 'the push names no commit sha in "after"' };
  }
  if (NO_COMMIT.test(after)) return { kind: 'ignored', why: `${wanted} points at no commit after the push` };
  const name = isRecord(repository) ? (repository.full_name ?? repository.name) : undefined;
  if (typeof name !== 'string' || name === '') return { kind: 'ignored', why: 'the push names no repository' };
  const times = pushTimes(repository, headCommit);
  if (times === undefined) {
    return {
      kind: 'ignored',
      why: 'the push carries no time (repository.pushed_at, head_commit.timestamp) to order it by',
    };
  }
  const by = isRecord(pusher) ? pusher.name : undefined;
  return {
    kind: 'release',
    commit: after.toLowerCase(),
    ref,
    repository: name,
    ...times,
    ...(typeof by === 'string' && by !== '' ? { pusher: by } : {}),
    ...(typeof compare === 'string' && compare !== '' ? { compareUrl: compare } : {}),
  };
}

/** A time of a payload as ms since the epoch: Unix seconds (GitHub's pushed_at) or an ISO 8601 string. */
function epochMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value * 1000;
  if (typeof value === 'string' && value !== '') {
    const ms = Date.parse(value);
    return Number.isFinite(ms) ? ms : undefined;
  }
  return undefined;
}

/**
 * What orders a push against the other pushes of its branch. `repository.pushed_at` first: GitHub
 * stamps it when it receives the push, so for one branch a later push always carries a later (or,
 * within one second, equal) value, and a redelivery carries the original push's value, never the
 * time it was resent. `head_commit.timestamp` only as a fallback and a tie-breaker: it is the
 * commit's own date, which its author's clock, a rebase or a cherry-pick can set to anything, so
 * alone it would let an old-dated commit pushed today count as older than it is.
 */
export function pushTimes(
  repository: unknown,
  headCommit: unknown,
): { pushedAt: number; committedAt?: number } | undefined {
  const pushed = isRecord(repository) ? epochMs(repository.pushed_at) : undefined;
  // head_commit.timestamp is always an ISO 8601 string (with its offset); a number there is not one.
  const committed =
    isRecord(headCommit) && typeof headCommit.timestamp === 'string' ? epochMs(headCommit.timestamp) : undefined;
  const pushedAt = pushed ?? committed;
  if (pushedAt === undefined) return undefined;
  return { pushedAt, ...(committed === undefined ? {} : { committedAt: committed }) };
}

/** The newest push seen for a branch (kept in the ledger): what a later delivery is ordered against. */
export interface BranchHead {
  /** The branch's name, e.g. `main`. */
  branch: string;
  commit: string;
  pushedAt: number;
  committedAt?: number;
}

/** `refs/heads/main` → `main`. */
export function branchOfRef(ref: string): string {
  return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref;
}

/**
 * Whether a verified push is newer than the newest already seen for its branch:
 *   newer  it moves the branch on: record it as the branch's head, then start its release
 *   same   the commit already seen last (a redelivery, a duplicate): start it (the start is idempotent)
 *   stale  older than the newest seen, or of the same time but another commit (which is newer
 *          cannot be told, and a release must never downgrade): start nothing
 * Pushes are ordered by pushedAt, then committedAt (see pushTimes). A person can still release
 * any commit by hand (`flotilla release`): this decides webhook deliveries only.
 */
export type PushOrder = { kind: 'newer'; head: BranchHead } | { kind: 'same' } | { kind: 'stale'; why: string };

export function orderPush(push: Extract<PushDecision, { kind: 'release' }>, newest: BranchHead | undefined): PushOrder {
  const branch = branchOfRef(push.ref);
  const head: BranchHead = {
    branch,
    commit: push.commit,
    pushedAt: push.pushedAt,
    ...(push.committedAt === undefined ? {} : { committedAt: push.committedAt }),
  };
  if (newest === undefined) return { kind: 'newer', head };
  const order =
    Math.sign(push.pushedAt - newest.pushedAt) ||
    Math.sign((push.committedAt ?? push.pushedAt) - (newest.committedAt ?? newest.pushedAt));
  if (order > 0) return { kind: 'newer', head };
  if (push.commit === newest.commit) return { kind: 'same' };
  const than = order < 0 ? 'is older than' : 'is no newer than (pushed at the same time as)';
  return { kind: 'stale', why: `stale: ${push.commit} ${than} ${newest.commit} already seen for ${branch}` };
}

function checkedCommit(commit: string): string {
  if (!COMMIT_SHA.test(commit)) throw new TypeError(`not a 40-character commit sha: ${JSON.stringify(commit)}`);
  return commit.toLowerCase();
}

/**
 * The version a commit is released as: its first 12 hex characters (what `git log --abbrev=12`
 * shows). `flotilla release … --version <the same 12>` names the same release (see below).
 */
export function versionForCommit(commit: string): string {
  return checkedCommit(commit).slice(0, SHORT_SHA_LENGTH);
}

/**
 * The release id, i.e. the Step Functions execution name, of a commit's release:
 * `<service>-<first 12 of the sha>`, e.g. `shop-6113728f27ae`. It is the name the CLI gives
 * `--version <first 12 of the sha>` (`executionName(service, version, 1)`), so a webhook delivery
 * and a CI job for the same commit name one execution. At most 80 characters of
 * `[A-Za-z0-9_.-]`: a service name too long for that (the schema allows 40) is cut, never the sha.
 */
export function releaseIdForCommit(service: string, commit: string): string {
  const version = versionForCommit(commit);
  return executionName(service.slice(0, 80 - 1 - version.length), version, 1);
}

const FORM = 'application/x-www-form-urlencoded';

/**
 * The JSON text a delivery carries: the body itself (content type `application/json`), or its
 * `payload` field (`application/x-www-form-urlencoded`, GitHub's default content type); undefined
 * for a form without one.
 */
export function payloadText(body: Buffer, contentType: string | undefined): string | undefined {
  const text = body.toString('utf8');
  if (contentType?.split(';')[0]?.trim().toLowerCase() !== FORM) return text;
  return new URLSearchParams(text).get('payload') ?? undefined;
}

/** What a delivery asks for, checked in this order: its signature, its event, its payload, the push. */
export type DeliveryDecision =
  | { kind: 'unsigned'; signed: boolean }
  | { kind: 'pong' }
  | { kind: 'not-a-push'; why: string }
  | { kind: 'malformed' }
  | PushDecision;

/**
 * Decides a delivery from its exact body bytes and its headers (looked up by GitHub's lower-case
 * names): nothing is read before the signature holds, so an unsigned body is never parsed.
 */
export function decideDelivery(delivery: {
  secret: string;
  branch: string;
  body: Buffer;
  header: (name: string) => string | undefined;
}): DeliveryDecision {
  const signature = delivery.header(SIGNATURE_HEADER);
  if (!verifySignature(delivery.secret, delivery.body, signature)) {
    return { kind: 'unsigned', signed: signature !== undefined };
  }
  const event = delivery.header(EVENT_HEADER);
  if (event === 'ping') return { kind: 'pong' };
  if (event !== 'push') return { kind: 'not-a-push', why: `event ${event || '(none)'} is not a push` };
  let payload: unknown;
  try {
    const text = payloadText(delivery.body, delivery.header('content-type'));
    if (text === undefined) return { kind: 'malformed' };
    payload = JSON.parse(text);
  } catch {
    return { kind: 'malformed' };
  }
  return releaseFromPush(payload, { branch: delivery.branch });
}

/** Whether an artifact template names a build per commit: `{commit}` (the full sha) or `{version}` (its first 12). */
export function namesABuildPerCommit(template: string): boolean {
  return template.includes('{commit}') || template.includes('{version}');
}

/** Where a commit's build is, from a template such as `s3://builds/shop/{commit}.zip`. */
export function artifactOfCommit(template: string, commit: string): string {
  return template.replaceAll('{commit}', commit).replaceAll('{version}', versionForCommit(commit));
}
