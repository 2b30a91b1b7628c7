/**
 * The CLI's side of the control API: find the server a `flotilla up` (or a running `release`)
 * serves for a state directory, and call it. Errors come back as Errors with the server's name
 * and message (NotFound, NotApplicable, NoChange, ServiceLocked, Unauthorized, ...).
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { processAlive } from '../backends/local/process.ts';
import type { Intent } from '../core/control.ts';
import { namedError } from '../core/errors.ts';
import { TOKEN_FILE } from './auth.ts';
import type { ReleaseWithIntents, WhereAnswer } from './routes.ts';
import type { IntentBody } from './schemas.ts';
import { CONTROL_FILE } from './server.ts';

export type { IntentBody, ReleaseWithIntents, WhereAnswer };

export interface ControlEndpoint {
  url: string;
  token: string;
}

interface Answer {
  status: number;
  body: unknown;
}

/** One JSON request over node:http (no keep-alive: a CLI makes a handful of calls). */
function call(
  endpoint: ControlEndpoint,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<Answer> {
  const url = new URL(path, endpoint.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((ok, bad) => {
    const req = request(
      url,
      {
        method,
        agent: false,
        timeout: timeoutMs,
        headers: {
          authorization: `Bearer ${endpoint.token}`,
          accept: 'application/json',
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', bad);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
          } catch {
            // Not JSON: keep the text for the error message.
          }
          ok({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () =>
      req.destroy(namedError('ControlTimeout', `${method} ${url.href}: no answer in ${timeoutMs} ms`)),
    );
    req.on('error', bad);
    req.end(payload);
  });
}

/** The server's error as an Error: its name (401 is always Unauthorized) and message. */
function errorOf(method: string, path: string, answer: Answer): Error {
  const body = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as {
    error?: unknown;
    name?: unknown;
  };
  const message =
    typeof body.error === 'string'
      ? body.error
      : `${method} ${path}: HTTP ${answer.status}${typeof answer.body === 'string' ? ` ${answer.body}` : ''}`;
  const name =
    answer.status === 401
      ? 'Unauthorized'
      : typeof body.name === 'string'
        ? body.name
        : answer.status === 404
          ? 'NotFound'
          : 'ControlError';
  const error = namedError(name, message);
  (error as Error & { status?: number }).status = answer.status;
  return error;
}

async function json<T>(endpoint: ControlEndpoint, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const answer = await call(endpoint, method, path, body);
  if (answer.status < 200 || answer.status >= 300) throw errorOf(method, path, answer);
  return answer.body as T;
}

/**
 * The control server serving `stateDir`, if one runs: control.json names a live process and its
 * port answers. A leftover file (the process died, the port is gone) counts as none.
 */
export async function findControlServer(stateDir: string): Promise<ControlEndpoint | undefined> {
  let info: { port?: unknown; pid?: unknown };
  try {
    info = JSON.parse(await readFile(join(stateDir, CONTROL_FILE), 'utf8')) as typeof info;
  } catch {
    return undefined;
  }
  const { port, pid } = info;
  if (typeof port !== 'number' || typeof pid !== 'number' || !Number.isInteger(port) || !Number.isInteger(pid)) {
    return undefined;
  }
  if (!processAlive(pid)) return undefined;
  let token: string;
  try {
    token = (await readFile(join(stateDir, TOKEN_FILE), 'utf8')).trim();
  } catch (error) {
    throw namedError(
      'Unauthorized',
      `a control server runs for ${stateDir} (pid ${pid}) but its token is unreadable: ${(error as Error).message}`,
    );
  }
  const endpoint = { url: `http://127.0.0.1:${port}`, token };
  const answer = await call(endpoint, 'GET', '/v1/ping', undefined, 2_000).catch(() => undefined);
  if (!answer) return undefined;
  // Something else took the port after the server died: not ours.
  if (answer.status === 200 && (answer.body as { pid?: unknown } | undefined)?.pid !== pid) return undefined;
  return endpoint;
}

/** Typed calls for each route. */
export function controlClient(endpoint: ControlEndpoint) {
  return {
    endpoint,
    intent: (body: IntentBody) => json<Intent>(endpoint, 'POST', '/v1/intents', body),
    globalIntents: async () => (await json<{ intents: Intent[] }>(endpoint, 'GET', '/v1/intents')).intents,
    startRelease: (body: { artifact: string; version: string }) =>
      json<{ releaseId: string }>(endpoint, 'POST', '/v1/releases', body),
    rollback: (body: { releaseId: string; actor: string; reason: string }) =>
      json<{ releaseId: string }>(endpoint, 'POST', '/v1/rollbacks', body),
    getRelease: (releaseId: string) =>
      json<ReleaseWithIntents>(endpoint, 'GET', `/v1/releases/${encodeURIComponent(releaseId)}`),
    /** `undefined` when the server has no such release. */
    async findRelease(releaseId: string): Promise<ReleaseWithIntents | undefined> {
      try {
        return await json<ReleaseWithIntents>(endpoint, 'GET', `/v1/releases/${encodeURIComponent(releaseId)}`);
      } catch (error) {
        if ((error as Error).name === 'NotFound') return undefined;
        throw error;
      }
    },
    listReleases: async (limit = 20) =>
      (await json<{ releases: ReleaseWithIntents[] }>(endpoint, 'GET', `/v1/releases?limit=${limit}`)).releases,
    where: () => json<WhereAnswer>(endpoint, 'GET', '/v1/where'),
  };
}

export type ControlClient = ReturnType<typeof controlClient>;
