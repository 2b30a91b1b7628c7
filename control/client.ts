/**
 * The CLI's side of the control API: find the server a `flotilla up` (or a running `release`)
 * serves for a state directory, and call it. Errors come back as Errors with the server's name
 * and message (NotFound, NotApplicable, NoChange, ServiceLocked, Unauthorized, ...).
 *
 * The token goes only to a server that proved it holds it: every connection starts with the
 * challenge (control/auth.ts), on that same connection, before the request that carries the
 * token is written; a peer that fails it gets nothing more (ControlUnproven). So a stale
 * control.json (a dead `up`, its port since taken by another program) costs nothing: the CLI
 * sees the server is not ours, removes the file and works on the state directory itself.
 */
import { readFile, unlink } from 'node:fs/promises';
import type { AgentOptions, ClientRequestArgs, Agent as HttpAgent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { processAlive } from '../backends/local/process.ts';
import type { Intent } from '../core/control.ts';
import { namedError } from '../core/errors.ts';
import { CHALLENGE_PATH, CONTROL_FILE, newNonce, proofMatches, readToken } from './auth.ts';
import type { EventPage } from './event-log.ts';
import type { ReleaseWithIntents, WhereAnswer } from './routes.ts';
import type { IntentBody, StartBody } from './schemas.ts';

export type { IntentBody, ReleaseWithIntents, WhereAnswer };

// node:http as CommonJS gives it: an ESM import of it also evaluates its lazy WebSocket exports,
// which loads undici, a good part of a read verb's start-up.
const { Agent, request } = process.getBuiltinModule('node:http');

export interface ControlEndpoint {
  url: string;
  token: string;
}

interface Answer {
  status: number;
  body: unknown;
}

/** Largest challenge answer read (a proof is some 80 bytes of JSON; anything bigger is not ours). */
const MAX_CHALLENGE_BYTES = 4096;

/**
 * Asks the challenge on `socket` (connected, nothing sent yet) and resolves once the peer proved
 * it holds `token`; rejects ControlUnproven otherwise. Spoken directly on the socket, so the
 * answer comes from the peer the token will then be written to.
 */
function challenge(socket: Socket, token: string, port: number, timeoutMs: number): Promise<void> {
  const nonce = newNonce();
  return new Promise((ok, bad) => {
    let received = Buffer.alloc(0);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error) bad(error);
      else ok();
    };
    const unproven = (why: string) =>
      finish(namedError('ControlUnproven', `127.0.0.1:${port} is not this state directory's control server: ${why}`));
    const onError = (error: Error) => finish(error);
    const onClose = () => unproven('it closed the connection');
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length > MAX_CHALLENGE_BYTES) return unproven('its answer is too long');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = received.subarray(0, end).toString('latin1').split('\r\n');
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(head[0] ?? '')?.[1];
      if (status !== '200') return unproven(`it answered ${head[0] ?? 'nothing'}`);
      const length = Number(
        head
          .slice(1)
          .find((h) => /^content-length:/i.test(h))
          ?.slice('content-length:'.length)
          .trim(),
      );
      if (!Number.isInteger(length) || length < 0) return unproven('its answer has no length');
      const body = received.subarray(end + 4);
      if (body.length < length) return;
      if (body.length > length) return unproven('it sent more than it answered');
      let proof: unknown;
      try {
        proof = (JSON.parse(body.toString('utf8')) as { proof?: unknown }).proof;
      } catch {
        return unproven('its answer is not JSON');
      }
      if (!proofMatches(proof, token, port, nonce)) return unproven('it does not hold the token');
      finish();
    };
    const timer = setTimeout(() => unproven(`no answer in ${timeoutMs} ms`), timeoutMs);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(
      `GET ${CHALLENGE_PATH}?nonce=${nonce} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
        'Accept: application/json\r\nConnection: keep-alive\r\n\r\n',
    );
  });
}

/**
 * An agent whose every connection has passed the challenge before node:http writes a request on
 * it. No keep-alive: each call is its own connection, challenged anew.
 */
class ProvenAgent extends Agent {
  readonly #token: string;
  readonly #timeoutMs: number;
  constructor(token: string, timeoutMs: number, options?: AgentOptions) {
    super({ ...options, keepAlive: false });
    this.#token = token;
    this.#timeoutMs = timeoutMs;
  }
  override createConnection(
    options: ClientRequestArgs,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    if (!callback) throw new Error('ProvenAgent connects asynchronously: it needs the callback');
    const port = Number(options.port);
    const socket = connect({ host: options.host ?? '127.0.0.1', port });
    const onConnectError = (error: Error) => callback(error, socket);
    socket.once('error', onConnectError);
    socket.once('connect', () => {
      socket.off('error', onConnectError);
      challenge(socket, this.#token, port, this.#timeoutMs).then(
        () => callback(null, socket),
        (error: Error) => {
          socket.destroy();
          callback(error, socket);
        },
      );
    });
    return undefined;
  }
}

const agents = new WeakMap<ControlEndpoint, HttpAgent>();

/** The endpoint's agent: the one place its token is written, after the proof. */
function agentOf(endpoint: ControlEndpoint): HttpAgent {
  const known = agents.get(endpoint);
  if (known) return known;
  const agent = new ProvenAgent(endpoint.token, 5_000);
  agents.set(endpoint, agent);
  return agent;
}

/** One JSON request over node:http, on a connection whose peer proved it holds the token. */
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
        agent: agentOf(endpoint),
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
 * port proves it holds the token. A stale file (its process died, its port refuses, or whatever
 * listens there fails the challenge) counts as none and is removed, so nothing reads it again;
 * the caller then works on the state directory itself. A token file that is not private to this
 * user throws InsecureToken.
 */
export async function findControlServer(stateDir: string): Promise<ControlEndpoint | undefined> {
  const path = join(stateDir, CONTROL_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  let info: { port?: unknown; pid?: unknown } = {};
  try {
    info = JSON.parse(text) as typeof info;
  } catch {
    // Unreadable: stale.
  }
  const { port, pid } = info ?? {};
  const stale = async () => {
    // Only the file as it was read: a server that started since has written its own.
    if ((await readFile(path, 'utf8').catch(() => undefined)) === text) await unlink(path).catch(() => {});
    return undefined;
  };
  if (
    typeof port !== 'number' ||
    typeof pid !== 'number' ||
    !Number.isInteger(port) ||
    !Number.isInteger(pid) ||
    port < 1 ||
    port > 65_535
  ) {
    return stale();
  }
  if (!processAlive(pid)) return stale();
  const token = await readToken(stateDir);
  // No token to prove anything with: not ours to use, not ours to call stale either.
  if (token === undefined) return undefined;
  const endpoint = { url: `http://127.0.0.1:${port}`, token };
  let answer: Answer;
  try {
    answer = await call(endpoint, 'GET', '/v1/ping', undefined, 2_000);
  } catch (error) {
    const { name, code } = error as NodeJS.ErrnoException;
    // Not ours, or nothing there: stale. A server that is slow to answer may be ours: left alone.
    if (name === 'ControlUnproven' && !/no answer in/.test((error as Error).message)) return stale();
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return stale();
    return undefined;
  }
  // It holds the token, yet another process: an older server of this state dir. Not ours to use.
  if (answer.status !== 200 || (answer.body as { pid?: unknown } | undefined)?.pid !== pid) return undefined;
  return endpoint;
}

/** Typed calls for each route. */
export function controlClient(endpoint: ControlEndpoint) {
  return {
    endpoint,
    intent: (body: IntentBody) => json<Intent>(endpoint, 'POST', '/v1/intents', body),
    globalIntents: async () => (await json<{ intents: Intent[] }>(endpoint, 'GET', '/v1/intents')).intents,
    startRelease: (body: StartBody) => json<{ releaseId: string }>(endpoint, 'POST', '/v1/releases', body),
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
    /** A new one-time login URL of the dashboard the server serves (404 NotFound when it serves none). */
    dashboardLogin: () => json<{ url: string }>(endpoint, 'POST', '/v1/dashboard/login'),
    /** The release's events from position `after` on, waiting up to `waitMs` for one (a long poll). */
    events: (releaseId: string, after: number, waitMs: number) =>
      json<EventPage>(
        endpoint,
        'GET',
        `/v1/releases/${encodeURIComponent(releaseId)}/events?after=${after}&waitMs=${waitMs}`,
      ),
  };
}

export type ControlClient = ReturnType<typeof controlClient>;
