/**
 * The release manager's API: a small HTTP server on 127.0.0.1 that records intents, starts
 * releases and rollbacks, and answers reads, for the CLI in another terminal (and anything else
 * that holds the token). This file creates it, says where it listens (`<stateDir>/control.json`)
 * and closes it; the token is control/auth.ts, the routes control/routes.ts (their bodies
 * control/schemas.ts), POST /github control/github-bridge.ts, and serving a local backend
 * control/local-handler.ts.
 *
 * Nothing here touches a deploy: an intent is data the release applies at its next safe point.
 *
 * A client proves the server holds the token before it sends it (GET /v1/challenge, answered here
 * without the token; control/auth.ts, control/client.ts), and every start writes a new token. A
 * challenge over TCP rather than a Unix-domain socket: POST /github needs HTTP on 127.0.0.1
 * anyway, a socket path is limited to 108 bytes (deep project and temp directories exceed it), and
 * the proof works for any HTTP client, so one listener serves both.
 */
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { authorized, CHALLENGE_PATH, CONTROL_FILE, challengeProof, freshToken, NONCE_PATTERN } from './auth.ts';
import {
  GITHUB_PATH,
  type GithubServeOptions,
  type GithubSettings,
  type GithubWebhookState,
  githubBridge,
  githubOff,
  githubSettings,
} from './github-bridge.ts';
import { fail, refuse, send } from './http.ts';
import { type ControlHandler, serveRoute } from './routes.ts';

export { CONTROL_FILE } from './auth.ts';

export interface ControlServerOptions {
  stateDir: string;
  handler: ControlHandler;
  host?: '127.0.0.1';
  /** 0 (the default): the OS picks a free port. */
  port?: number;
  /** Told of every 500 (with its stack, which the client never sees). */
  onError?: (error: unknown) => void;
  /**
   * Serve POST /github, GitHub's push webhook, when its settings are there (githubSettings): a
   * signed push to the branch starts that commit's release. Without this, or without the settings,
   * POST /github is an unknown route (404).
   */
  github?: GithubServeOptions;
  /**
   * Another site served on the same port before the token is looked at (the web dashboard,
   * dashboard/server.ts, which has its own session auth): the paths it `handles` are its own.
   * `POST /v1/dashboard/login` (with the token) answers a new login URL of it.
   */
  mount?: Mount;
}

/** What the control server needs of a site it serves beside the API. */
export interface Mount {
  handles(path: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse): void;
  /** Told the port once the server listens. */
  listening(port: number): void;
  loginUrl(): string;
  close(): void;
}

export const DASHBOARD_LOGIN_PATH = '/v1/dashboard/login';

export interface ControlServer {
  port: number;
  url: string;
  /** Whether POST /github is served, and where; or why not. */
  github: GithubWebhookState;
  /** A new one-time login URL of the site mounted beside the API (the dashboard), when there is one. */
  dashboardLogin?: () => string;
  close(): Promise<void>;
}

type Serial = <T>(work: () => Promise<T>) => Promise<T>;

/** Runs the works one after another, in the order asked, whatever each one's outcome. */
function serial(): Serial {
  let tail: Promise<unknown> = Promise.resolve();
  return (work) => {
    const run = tail.then(work, work);
    tail = run.catch(() => {});
    return run;
  };
}

/** Starts the API on 127.0.0.1 and says where it is in `<stateDir>/control.json`. */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1') throw new Error('the control API listens on 127.0.0.1 only');
  // A new token for every start: never the one a dead server (or whatever took its port) saw.
  const token = await freshToken(options.stateDir);
  // Starts one at a time: a commit's release id is checked free, then started, then recorded,
  // before any other start (from the API or a delivery) looks.
  const serially = serial();
  const handler: ControlHandler = {
    ...options.handler,
    start: (request) => serially(() => options.handler.start(request)),
  };
  const settings: GithubSettings = options.github
    ? await githubSettings(options.stateDir, options.github.env)
    : { enabled: false, why: 'not served by this command (flotilla up serves it)' };
  const github = options.github;
  const serveGithub =
    settings.enabled && github
      ? githubBridge(settings, github, (request) => serially(() => github.releases.start(request)), options.onError)
      : githubOff;

  const server = createServer((req, res) => {
    const requestUrl = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = requestUrl.pathname.replace(/\/+$/, '');
    const mount = options.mount;
    if (mount?.handles(requestUrl.pathname)) {
      mount.serve(req, res);
      return;
    }
    if (path === GITHUB_PATH) {
      serveGithub(req, res);
      return;
    }
    if (path === CHALLENGE_PATH && req.method === 'GET') {
      // Answered without the token: the proof shows the client this server holds it.
      const nonce = requestUrl.searchParams.get('nonce') ?? '';
      if (!NONCE_PATTERN.test(nonce)) {
        fail(res, 400, 'BadRequest', 'nonce: 64 lowercase hex characters');
        return;
      }
      send(res, 200, { proof: challengeProof(token, req.socket.localPort ?? 0, nonce) });
      return;
    }
    if (!authorized(req, token)) {
      // Nothing else is looked at, the body included: the handler is never reached.
      res.setHeader('www-authenticate', 'Bearer');
      refuse(req, res, 401, 'Unauthorized', 'missing or wrong bearer token (see control-token in the state directory)');
      return;
    }
    if (path === DASHBOARD_LOGIN_PATH) {
      if (!mount) fail(res, 404, 'NotFound', 'no dashboard is served here');
      else if (req.method !== 'POST') fail(res, 405, 'MethodNotAllowed', `${req.method} ${path}: use POST`);
      else send(res, 201, { url: mount.loginUrl() });
      req.resume();
      return;
    }
    serveRoute(handler, req, res, options.onError);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 120_000;

  await new Promise<void>((ok, bad) => {
    server.once('error', bad);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', bad);
      ok();
    });
  });
  const { port } = server.address() as AddressInfo;
  options.mount?.listening(port);
  const controlPath = join(options.stateDir, CONTROL_FILE);
  const mine = { port, pid: process.pid };
  try {
    const temp = `${controlPath}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(mine)}\n`, { mode: 0o644 });
    await rename(temp, controlPath);
  } catch (error) {
    await new Promise((ok) => server.close(ok));
    throw error;
  }

  let closing: Promise<void> | undefined;
  const url = `http://${host}:${port}`;
  const mounted = options.mount;
  return {
    port,
    url,
    ...(mounted ? { dashboardLogin: () => mounted.loginUrl() } : {}),
    github: settings.enabled
      ? {
          enabled: true,
          url: `${url}${GITHUB_PATH}`,
          branch: settings.branch,
          artifactTemplate: settings.artifactTemplate,
          secretFrom: settings.secretFrom,
        }
      : { enabled: false, why: settings.why },
    close() {
      closing ??= (async () => {
        const current = await readFile(controlPath, 'utf8')
          .then((t) => JSON.parse(t) as { port?: unknown; pid?: unknown })
          .catch(() => undefined);
        if (current?.pid === mine.pid && current.port === mine.port) await unlink(controlPath).catch(() => {});
        options.mount?.close();
        await new Promise<void>((ok) => {
          server.close(() => ok());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}

export { githubLogLine } from './github-bridge.ts';
export {
  controlHandlerFor,
  githubReleasesFor,
  globalIntents,
  type HandlerHooks,
  whereFromLedger,
} from './local-handler.ts';
// What cli/flotilla.ts imports from here, from their own homes now (its imports can move to them).
export type { ReleaseWithIntents, WhereAnswer } from './routes.ts';
export type { IntentBody, IntentVerb } from './schemas.ts';
export type { ControlHandler };
