/**
 * The web dashboard's HTTP side: the login URL, the page and its bundle, the state as JSON and as
 * server-sent events, and the steering requests (the same services as the CLI, through the
 * source). Mounted on the control server by `flotilla up` (and a local `flotilla dashboard`), or
 * served on its own on 127.0.0.1 (`flotilla dashboard --backend aws`). Who may use it:
 * dashboard/auth.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fail, HttpError, readJsonBody, send } from '../control/http.ts';
import { STATUS_OF } from '../control/routes.ts';
import { parseIntentBody, parseRollbackBody } from '../control/schemas.ts';
import { type DashboardAuth, dashboardAuth } from './auth.ts';
import { dashboardBundle } from './bundle.ts';
import { type DashboardSource, type Live, type LiveOptions, liveState } from './live.ts';

export const LOGIN_PATH = '/login';

/** The paths the dashboard answers; everything else on a shared server is the control API's. */
export function isDashboardPath(path: string): boolean {
  return path === '/' || path === LOGIN_PATH || path.startsWith('/assets/') || path.startsWith('/api/');
}

export interface DashboardOptions extends LiveOptions {
  source: DashboardSource;
  /** Who a steering request is recorded as when the page names no one: the user who started the server. */
  actor: string;
  /** Between two keep-alive comments on an event stream. */
  heartbeatMs?: number;
}

export interface Dashboard {
  /** Whether this request is the dashboard's (then it is answered). */
  handles(path: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse): void;
  /** Tells it where it listens; the login URLs name that. */
  listening(port: number): void;
  /** A login URL with a new one-time token. */
  loginUrl(): string;
  close(): void;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flotilla</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<div id="app"><p class="loading">Loading…</p></div>
<script src="/assets/app.js"></script>
</body>
</html>
`;

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function text(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}) {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': `${type}; charset=utf-8`,
    'content-length': Buffer.byteLength(body),
    ...extra,
  });
  res.end(body);
}

export function createDashboard(options: DashboardOptions): Dashboard {
  const live: Live = liveState(options.source, options);
  let auth: DashboardAuth | undefined;
  let port = 0;
  const streams = new Set<ServerResponse>();
  const heartbeatMs = options.heartbeatMs ?? 15_000;

  const steer = async (req: IncomingMessage, path: string): Promise<unknown> => {
    const raw = (await readJsonBody(req)) as Record<string, unknown> | null;
    const body = raw && typeof raw === 'object' && !Array.isArray(raw) ? { actor: options.actor, ...raw } : raw;
    if (path === '/api/intents') {
      const request = parseIntentBody(body);
      const intent = await options.source.intent({
        verb: request.verb,
        actor: request.actor,
        reason: request.reason,
        ...(request.releaseId ? { releaseId: request.releaseId } : {}),
        ...(request.region ? { region: request.region } : {}),
      });
      return intent;
    }
    const request = parseRollbackBody(body);
    return options.source.rollback(request.releaseId, { actor: request.actor, reason: request.reason });
  };

  const answerError = (res: ServerResponse, error: unknown) => {
    if (error instanceof HttpError) return fail(res, error.status, error.name, error.message);
    const name = (error as Error | undefined)?.name ?? 'Error';
    const status = STATUS_OF[name];
    if (status !== undefined) return fail(res, status, name, (error as Error).message);
    options.onError?.(error);
    fail(res, 500, 'InternalError', `internal error: ${(error as Error | undefined)?.message ?? String(error)}`);
  };

  const events = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
    });
    res.write('retry: 1000\n\n');
    streams.add(res);
    const stop = live.watch((state) => {
      res.write(`event: state\ndata: ${JSON.stringify(state)}\n\n`);
    });
    const beat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
    const end = () => {
      clearInterval(beat);
      stop();
      streams.delete(res);
    };
    req.once('close', end);
    res.once('close', end);
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (!auth) return fail(res, 503, 'Unavailable', 'the dashboard is starting');
    const host = auth.checkHost(req);
    if (!host.ok) {
      req.resume();
      return fail(res, host.status, 'Forbidden', host.message);
    }
    if (path === LOGIN_PATH && method === 'GET') {
      const session = auth.login(url.searchParams.get('token') ?? undefined);
      if (!session) {
        return text(
          res,
          401,
          'text/plain',
          'This login link was already used or has expired. Run `flotilla dashboard` for a new one.\n',
        );
      }
      res.writeHead(303, { ...SECURITY_HEADERS, 'set-cookie': auth.setCookie(session), location: '/' });
      res.end();
      return;
    }
    if (!auth.hasSession(req)) {
      req.resume();
      return fail(res, 401, 'Unauthorized', 'no dashboard session: open the login URL `flotilla dashboard` prints');
    }
    const origin = auth.checkOrigin(req);
    if (!origin.ok) {
      req.resume();
      return fail(res, origin.status, 'Forbidden', origin.message);
    }
    if (method === 'GET' && path === '/') return text(res, 200, 'text/html', PAGE);
    if (method === 'GET' && path === '/assets/app.js') {
      return text(res, 200, 'text/javascript', (await dashboardBundle()).js);
    }
    if (method === 'GET' && path === '/assets/app.css')
      return text(res, 200, 'text/css', (await dashboardBundle()).css);
    if (method === 'GET' && path === '/api/state') return send(res, 200, await live.current());
    if (method === 'GET' && path === '/api/events') return events(req, res);
    if (method === 'POST' && (path === '/api/intents' || path === '/api/rollbacks')) {
      const answer = await steer(req, path);
      live.poke();
      return send(res, path === '/api/intents' ? 201 : 202, answer);
    }
    req.resume();
    fail(res, 404, 'NotFound', `no route ${method} ${path}`);
  };

  return {
    handles: isDashboardPath,
    serve(req, res) {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://127.0.0.1');
      } catch {
        fail(res, 400, 'BadRequest', 'the request URL is not valid');
        return;
      }
      route(req, res, url).catch((error: unknown) => {
        if (!res.headersSent) answerError(res, error);
        else res.end();
      });
    },
    listening(p) {
      port = p;
      auth = dashboardAuth(p, options.now);
    },
    loginUrl() {
      if (!auth) throw new Error('the dashboard is not listening yet');
      return `http://127.0.0.1:${port}${LOGIN_PATH}?token=${auth.newLoginToken()}`;
    },
    close() {
      live.close();
      for (const s of streams) s.end();
      streams.clear();
    },
  };
}

export interface DashboardServer {
  url: string;
  port: number;
  dashboard: Dashboard;
  close(): Promise<void>;
}

/** The dashboard on a server of its own on 127.0.0.1 (no control API): `flotilla dashboard --backend aws`. */
export async function startDashboardServer(options: DashboardOptions & { port?: number }): Promise<DashboardServer> {
  const dashboard = createDashboard(options);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (dashboard.handles(path)) return dashboard.serve(req, res);
    req.resume();
    fail(res, 404, 'NotFound', `no route ${req.method} ${path}`);
  });
  server.headersTimeout = 10_000;
  await new Promise<void>((ok, bad) => {
    server.once('error', bad);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', bad);
      ok();
    });
  });
  const { port } = server.address() as AddressInfo;
  dashboard.listening(port);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dashboard,
    close: () =>
      new Promise<void>((ok) => {
        dashboard.close();
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
