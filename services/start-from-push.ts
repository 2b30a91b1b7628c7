/**
 * The one step from a verified push to its release: name the release after the service and the
 * commit (core/github.ts), find the commit's build, and ask the release starter once. The Lambda
 * injects Step Functions StartExecution (functions/github-webhook.ts startWithStepFunctions), `flotilla
 * up` its local backend's start (control/local-handler.ts githubReleasesFor). Exactly one release
 * per commit follows from the name: the same commit always asks for the same release id with the
 * same request, and a starter starts an id at most once (answering `exists` after that).
 */
import type { FlotillaConfig } from '../core/config.ts';
import { type PushDecision, releaseIdForCommit, versionForCommit } from '../core/github.ts';
import { checkVersion } from '../core/version.ts';

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
}

/** How the step ended: misconfigured (no request could be made), the start failed, or started / exists. */
export type PushStart =
  | { kind: 'misconfigured'; error: unknown }
  | { kind: 'failed'; request: StartRequest; error: unknown }
  | { kind: StartResult; request: StartRequest };

/** Given a verified push to the release branch, starts exactly one release of its commit. Never throws. */
export async function startFromPush(push: VerifiedPush, deps: StartFromPushDeps): Promise<PushStart> {
  let request: StartRequest;
  try {
    const { service } = await deps.config();
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
    return { kind: await deps.start(request), request };
  } catch (error) {
    return { kind: 'failed', request, error };
  }
}
