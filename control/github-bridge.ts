/**
 * POST /github served by `flotilla up`: GitHub's push webhook on the local backend. Not behind the
 * bearer token (GitHub cannot send one) but behind GitHub's signature. A delivery is answered by
 * the same code as on AWS (services/github-delivery.ts: core/github.ts decides, and a push to the
 * branch starts its release through services/start-from-push.ts); only the starter differs: here
 * the local backend's (control/local-handler.ts githubReleasesFor), on AWS Step Functions'.
 * Off (no secret, or no artifact template), POST /github is an unknown route (404).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import type { FlotillaConfig } from '../config/types.ts';
import { namedError } from '../core/errors.ts';
import { artifactOfCommit } from '../core/github.ts';
import type { BranchHeads } from '../ports/ledger.ts';
import { answerGithubDelivery } from '../services/github-delivery.ts';
import type { PushStarter } from '../services/start-from-push.ts';
import { readPrivateFile } from './auth.ts';
import { readRawBody, refuse } from './http.ts';

/** The webhook's path. Outside the bearer token (GitHub cannot send it), behind GitHub's signature. */
export const GITHUB_PATH = '/github';
/** `<stateDir>/github-secret` (mode 0600): the webhook secret, when FLOTILLA_GITHUB_SECRET is not set. */
export const GITHUB_SECRET_FILE = 'github-secret';
/** Largest delivery accepted on POST /github (larger ones get 413): 1 MiB. */
export const GITHUB_MAX_BODY_BYTES = 1024 * 1024;

type Env = Readonly<Record<string, string | undefined>>;

/** What serving POST /github takes: settings from `githubSettings`, or why it is off. */
export type GithubSettings =
  | {
      enabled: true;
      secret: string;
      /** Where the secret came from (never the secret itself). */
      secretFrom: string;
      branch: string;
      /** Absolute; `{commit}` is the full sha, `{version}` its first 12 characters. */
      artifactTemplate: string;
    }
  | { enabled: false; why: string };

/** What the server says about POST /github, for `flotilla up` to print: never the secret. */
export type GithubWebhookState =
  | { enabled: true; url: string; branch: string; artifactTemplate: string; secretFrom: string }
  | { enabled: false; why: string };

const PLACEHOLDER = /\{(?:commit|version)\}/;

/**
 * The local webhook's settings: the secret from `FLOTILLA_GITHUB_SECRET`, else from
 * `<stateDir>/github-secret` (which must be mode 0600: a wider one is refused, as is the control
 * token's); a build directory per commit from `FLOTILLA_ARTIFACT_TEMPLATE` (e.g.
 * `/srv/builds/{commit}`; relative to the current directory if not absolute); the branch from
 * `FLOTILLA_GITHUB_BRANCH` (default main). Off, saying why, without both a secret and a template.
 */
export async function githubSettings(stateDir: string, env: Env = process.env): Promise<GithubSettings> {
  const path = join(stateDir, GITHUB_SECRET_FILE);
  let secret = env.FLOTILLA_GITHUB_SECRET ?? '';
  let secretFrom = 'FLOTILLA_GITHUB_SECRET';
  if (secret === '') {
    const fromFile = await readPrivateFile(path, 'InsecureSecret', {
      what: 'the GitHub webhook secret',
      risk: 'anyone who can read it can sign deliveries that start releases',
      fix: `Run \`chmod 600 ${path}\` (and change the secret on GitHub if others may have read it)`,
    });
    if (fromFile === '') {
      throw namedError('InsecureSecret', `${path} is empty: an empty secret would let anyone sign a delivery`);
    }
    secret = fromFile ?? '';
    secretFrom = path;
  }
  const template = env.FLOTILLA_ARTIFACT_TEMPLATE ?? '';
  if (secret === '') {
    return {
      enabled: false,
      why: `no webhook secret (set FLOTILLA_GITHUB_SECRET, or write it to ${path} with mode 0600)`,
    };
  }
  if (template === '') {
    return { enabled: false, why: `a webhook secret is set (${secretFrom}) but FLOTILLA_ARTIFACT_TEMPLATE is not` };
  }
  if (!PLACEHOLDER.test(template)) {
    throw namedError(
      'InvalidSetting',
      `FLOTILLA_ARTIFACT_TEMPLATE must contain {commit} or {version}, or every commit would ship one build (got ${template})`,
    );
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(template)) {
    throw namedError(
      'InvalidSetting',
      `FLOTILLA_ARTIFACT_TEMPLATE names a local build directory per commit for flotilla up, not a URL (got ${template})`,
    );
  }
  return {
    enabled: true,
    secret,
    secretFrom,
    branch: env.FLOTILLA_GITHUB_BRANCH || 'main',
    artifactTemplate: resolve(template),
  };
}

/** What POST /github needs from a backend: the config (the service names the release) and a start. */
export interface GithubReleases {
  config: FlotillaConfig;
  /** Starts one commit's release with exactly `request.releaseId`, or answers `exists` and starts nothing. */
  start: PushStarter;
  /** The newest push seen per branch (the backend's ledger): an older push is stale and starts nothing. */
  heads: BranchHeads;
}

export interface GithubServeOptions {
  releases: GithubReleases;
  /** Where the settings are read (see githubSettings); default process.env. */
  env?: Env;
  /** One entry per delivery (never the secret); see githubLogLine. Default: none. */
  log?: (entry: Record<string, unknown>) => void;
}

/** A delivery's log entry as one line for a terminal. */
export function githubLogLine(entry: Record<string, unknown>): string {
  const field = (key: string) => (typeof entry[key] === 'string' ? (entry[key] as string) : undefined);
  const [delivery, release, why, error, message] = ['delivery', 'releaseId', 'why', 'error', 'message'].map(field);
  return [
    `GitHub ${field('event') ?? 'delivery'}${delivery ? ` ${delivery}` : ''}: ${field('outcome') ?? '?'}`,
    release ? ` ${release}` : '',
    why ? ` (${why})` : '',
    error ? ` (${error}${message ? `: ${message}` : ''})` : '',
  ].join('');
}

/** A header of a Node request by name, in any case; repeated ones joined as HTTP says. */
function headerOf(req: IncomingMessage): (name: string) => string | undefined {
  return (name) => {
    const value = req.headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(', ') : value;
  };
}

/** Serves POST /github (given to the server when the webhook is on); `undefined` answers 404. */
export type GithubBridge = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * POST /github on `settings`: each delivery read (at most 1 MiB) and answered by
 * answerGithubDelivery, its release started through `start` (the server passes the backend's
 * start, run one at a time with the API's own starts).
 */
export function githubBridge(
  settings: Extract<GithubSettings, { enabled: true }>,
  options: GithubServeOptions,
  start: PushStarter,
  onError: ((error: unknown) => void) | undefined,
): GithubBridge {
  const deps = {
    secret: async () => settings.secret,
    config: async () => options.releases.config,
    branch: settings.branch,
    artifactFor: (commit: string) => artifactOfCommit(settings.artifactTemplate, commit),
    start,
    heads: options.releases.heads,
    maxBodyBytes: GITHUB_MAX_BODY_BYTES,
    log: options.log ?? (() => {}),
  };
  return (req, res) => {
    const method = req.method ?? 'GET';
    if (method !== 'POST') {
      res.setHeader('allow', 'POST');
      refuse(req, res, 405, 'MethodNotAllowed', `${method} ${GITHUB_PATH}: use POST`);
      return;
    }
    readRawBody(req, GITHUB_MAX_BODY_BYTES)
      .then((body) => answerGithubDelivery({ header: headerOf(req), body }, deps))
      .then(
        (answer) => {
          if (answer.status === 413) res.setHeader('connection', 'close');
          const payload = JSON.stringify(answer.body);
          res.writeHead(answer.status, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            'cache-control': 'no-store',
          });
          res.end(payload);
        },
        (error: unknown) => {
          if (res.headersSent) return;
          onError?.(error);
          refuse(req, res, 500, 'InternalError', 'internal error');
        },
      );
  };
}

/** POST /github when the webhook is off: an unknown route. */
export function githubOff(req: IncomingMessage, res: ServerResponse): void {
  refuse(req, res, 404, 'NotFound', `no route ${req.method ?? 'GET'} ${GITHUB_PATH}`);
}
