/**
 * The one step from a verified push to its release: name the release after the service and the
 * commit (core/github.ts), find the commit's build, and ask the release starter once. The Lambda
 * injects Step Functions StartExecution (functions/github-webhook.ts startWithStepFunctions), `flotilla
 * up` its local backend's start (control/local-handler.ts githubReleasesFor). Exactly one release
 * per commit follows from the name: the same commit always asks for the same release id with the
 * same request, and a starter starts an id at most once (answering `exists` after that).
 */
import type { FlotillaConfig } from '../core/config.ts';
import { namedError } from '../core/errors.ts';
import { branchOfRef, orderPush, type PushDecision, releaseIdForCommit, versionForCommit } from '../core/github.ts';
import { checkVersion } from '../core/version.ts';
import type { BranchHeads } from '../ports/ledger.ts';

/** What the release starter is asked for: one commit's release. */
export interface StartRequest {
  releaseId: string;
  version: string;
  commit: string;
  artifact: string;
}

/** `exists`: that release was already started (by an earlier delivery, or by CI); nothing new ran. */
export type StartResult = 'started' | 'exists';

/** Starts the release with exactly `request.releaseId`, or answers `exists` and starts nothing. */
export type PushStarter = (request: StartRequest) => Promise<StartResult>;

export type VerifiedPush = Extract<PushDecision, { kind: 'release' }>;

export interface StartFromPushDeps {
  /** The config whose service names the release. */
  config: () => Promise<Pick<FlotillaConfig, 'service'>>;
  /** Where the build of a commit is, e.g. `s3://builds/shop/<commit>.zip`. */
  artifactFor: (commit: string) => string;
  start: PushStarter;
  /** The newest push seen per branch (the ledger): a push older than it starts nothing. */
  heads: BranchHeads;
}

/**
 * How the step ended: misconfigured (no request could be made), stale (older than the newest push
 * seen for the branch: nothing started), the start failed, or started / exists.
 */
export type PushStart =
  | { kind: 'misconfigured'; error: unknown }
  | { kind: 'stale'; request: StartRequest; why: string; newest: string }
  | { kind: 'failed'; request: StartRequest; error: unknown }
  | { kind: StartResult; request: StartRequest };

/**
 * Given a verified push to the release branch, starts exactly one release of its commit, unless a
 * newer push of the branch was seen already (stale: nothing starts). Never throws.
 */
export async function startFromPush(push: VerifiedPush, deps: StartFromPushDeps): Promise<PushStart> {
  let request: StartRequest;
  let service: string;
  try {
    ({ service } = await deps.config());
    request = {
      releaseId: releaseIdForCommit(service, push.commit),
      // A short sha always passes the version rule; checked anyway, so no other form slips in.
      version: checkVersion(versionForCommit(push.commit)),
      commit: push.commit,
      artifact: deps.artifactFor(push.commit),
    };
  } catch (error) {
    return { kind: 'misconfigured', error };
  }
  try {
    const stale = await claimBranchHead(push, service, deps.heads);
    if (stale) return { kind: 'stale', request, ...stale };
    return { kind: await deps.start(request), request };
  } catch (error) {
    return { kind: 'failed', request, error };
  }
}

/** How often a delivery orders itself again after another one moved the branch's head under it. */
const HEAD_ATTEMPTS = 5;

/**
 * Orders the push against the newest seen for its branch (core/github.ts orderPush) and, when it is
 * newer, records it as the head before its release starts: a redelivered old push (A after B
 * shipped) then finds B and starts nothing, and of two deliveries racing, the loser of the
 * conditional write orders itself against the winner. The head is recorded even if the start then
 * fails: the same commit's redelivery is `same` and tries again, an older one stays stale.
 */
async function claimBranchHead(
  push: VerifiedPush,
  service: string,
  heads: BranchHeads,
): Promise<{ why: string; newest: string } | undefined> {
  const branch = branchOfRef(push.ref);
  for (let attempt = 1; ; attempt++) {
    const newest = await heads.getBranchHead(service, branch);
    const order = orderPush(push, newest);
    if (order.kind === 'stale') return { why: order.why, newest: newest?.commit ?? '' };
    if (order.kind === 'same') return undefined;
    if (await heads.putBranchHead(service, order.head, newest)) return undefined;
    if (attempt >= HEAD_ATTEMPTS) {
      throw namedError('Busy', `the newest push of ${branch} kept changing; gave up after ${attempt} attempts`);
    }
  }
}
