/**
 * One GitHub delivery, whatever carried it (API Gateway to the Lambda, or `flotilla up`'s local
 * server): decided by core/github.ts, a push to the branch started by services/start-from-push.ts,
 * and answered with a status and a JSON body, one log entry per delivery. The transports only read
 * the bytes (refusing a body over the limit undecoded) and write the answer.
 *
 *   body over the limit (Content-Length or actual size)   413
 *   the secret cannot be had                              500
 *   X-Hub-Signature-256 missing or wrong                  401
 *   X-GitHub-Event `ping`                                 200 {pong: true}
 *   any other event than `push`                           202 {ignored}
 *   a body that is not JSON (or a form without payload)   400
 *   a push that starts no release (other ref, deletion)   202 {ignored}
 *   a push older than the newest seen for the branch      202 {status: stale, ignored: "stale: …"}: nothing started
 *   a push to the branch                                  202 {releaseId, status: started | already started}
 *   no release could be named, or its start failed        500 (the details in the log only)
 *
 * The secret is never logged or echoed.
 */
import { DELIVERY_HEADER, decideDelivery, EVENT_HEADER } from '../core/github.ts';
import { type StartFromPushDeps, startFromPush } from './start-from-push.ts';

export interface GithubDeliveryDeps extends StartFromPushDeps {
  /** The webhook's secret (the one set on GitHub). */
  secret: () => Promise<string>;
  /** The branch whose pushes are released, e.g. `main`. */
  branch: string;
  /** The body limit the transport applied, for the 413's message. */
  maxBodyBytes: number;
  /** One structured entry per delivery. */
  log: (entry: Record<string, unknown>) => void;
}

export interface GithubDelivery {
  /** A header by name, in any case. */
  header: (name: string) => string | undefined;
  /** The exact bytes sent; `undefined`: over the limit (the transport did not keep them). */
  body: Buffer | undefined;
}

export interface DeliveryAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** The error's name only: messages may carry anything, and the delivery log is read by humans. */
const nameOf = (error: unknown) => (error instanceof Error ? error.name : 'Error');
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function answerGithubDelivery(
  delivery: GithubDelivery,
  deps: GithubDeliveryDeps,
): Promise<DeliveryAnswer> {
  const seen = { delivery: delivery.header(DELIVERY_HEADER), event: delivery.header(EVENT_HEADER) };
  const { log } = deps;
  const answer = (status: number, body: Record<string, unknown>): DeliveryAnswer => ({ status, body });

  if (delivery.body === undefined) {
    log({ ...seen, outcome: 'too-large', limit: deps.maxBodyBytes });
    return answer(413, { error: `body over ${deps.maxBodyBytes} bytes` });
  }
  let secret: string;
  try {
    secret = await deps.secret();
  } catch (error) {
    log({ ...seen, outcome: 'no-secret', error: nameOf(error) });
    return answer(500, { error: 'the webhook secret is unavailable' });
  }

  const decision = decideDelivery({ secret, branch: deps.branch, body: delivery.body, header: delivery.header });
  switch (decision.kind) {
    case 'unsigned':
      log({ ...seen, outcome: 'bad-signature', signed: decision.signed });
      return answer(401, { error: 'signature missing or wrong' });
    case 'pong':
      log({ ...seen, outcome: 'pong' });
      return answer(200, { pong: true });
    case 'not-a-push':
    case 'ignored':
      log({ ...seen, outcome: 'ignored', why: decision.why });
      return answer(202, { ignored: decision.why });
    case 'malformed':
      log({ ...seen, outcome: 'malformed' });
      return answer(400, { error: 'the body is not a JSON document' });
    case 'release':
      break;
    default:
      return decision satisfies never;
  }

  const push = decision;
  const started = await startFromPush(push, deps);
  if (started.kind === 'misconfigured') {
    // The details (which may quote the config) go to the log only.
    log({ ...seen, outcome: 'misconfigured', error: nameOf(started.error), message: messageOf(started.error) });
    return answer(500, { error: 'flotilla is misconfigured: see the function log' });
  }
  const { request } = started;
  const about = { ...seen, releaseId: request.releaseId, commit: push.commit, repository: push.repository };
  if (started.kind === 'stale') {
    // Never a downgrade: a redelivered old push starts nothing (a person can release it by hand).
    log({ ...about, outcome: 'stale', why: started.why, newest: started.newest });
    return answer(202, { status: 'stale', ignored: started.why, commit: push.commit, newest: started.newest });
  }
  if (started.kind === 'failed') {
    log({ ...about, outcome: 'start-failed', error: nameOf(started.error), message: messageOf(started.error) });
    return answer(500, {
      releaseId: request.releaseId,
      error: `the release could not be started (${nameOf(started.error)})`,
    });
  }
  log({ ...about, outcome: started.kind, pusher: push.pusher, compare: push.compareUrl });
  return answer(202, {
    releaseId: request.releaseId,
    status: started.kind === 'started' ? 'started' : 'already started',
    version: request.version,
    commit: push.commit,
  });
}
