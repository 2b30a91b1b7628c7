/**
 * The release manager's API: a small HTTP server on 127.0.0.1 that records intents, starts
 * releases and rollbacks, and answers reads, for the CLI in another terminal (and anything else
 * that holds the token). Every request carries `Authorization: Bearer <token>`; the token lives in
 * `<stateDir>/control-token` (mode 0600), the port in `<stateDir>/control.json`.
 *
 * One route is not behind the token: `POST /github`, GitHub's push webhook (GitHub cannot send a
 * token), served by `flotilla up` when a webhook secret and an artifact template are set and
 * guarded by GitHub's signature instead; otherwise it is an unknown route (404).
 *
 * Nothing here touches a deploy: an intent is data the release applies at its next safe point.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { LocalBackend, StartedRelease } from '../backends/local/index.ts';
import type { FlotillaConfig } from '../config/types.ts';
import type { Intent, Verb } from '../core/control.ts';
import { namedError } from '../core/errors.ts';
import { executionName } from '../core/plan.ts';
import type { StartRequest, StartResult, WebhookResponse } from '../functions/github-webhook.ts';
import type { Ledger, ReleaseRecord } from '../ports/ledger.ts';

/** Largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;
export const CONTROL_FILE = 'control.json';
export const TOKEN_FILE = 'control-token';

/** The verbs POST /v1/intents takes; `rollback` has its own route (it starts a release). */
export const INTENT_VERBS = [
  'pause',
  'resume',
  'promote',
  'abort',
  'skip-region',
  'freeze',
  'unfreeze',
  'force',
] as const satisfies readonly Exclude<Verb, 'rollback'>[];
export type IntentVerb = (typeof INTENT_VERBS)[number];

export interface IntentBody {
  verb: IntentVerb;
  releaseId?: string | null;
  region?: string;
  reason: string;
  actor: string;
}

/** A release as the API returns it: the ledger's record and its audit trail, oldest first. */
export type ReleaseWithIntents = ReleaseRecord & { intents: Intent[] };

export interface WhereAnswer {
  service: string;
  regions: { region: string; version: string | null }[];
}

/** What the server needs from a backend. Errors named InvalidIntent, ServiceLocked or ReleaseExists become 409s. */
export interface ControlHandler {
  intent(request: IntentBody): Promise<Intent>;
  /** Starts a release; resolves once it is recorded (it goes on in the background). */
  start(request: { artifact: string; version: string }): Promise<{ releaseId: string }>;
  /** Starts the release that puts back what a SUCCEEDED release changed. */
  rollback(releaseId: string, who: { actor: string; reason: string }): Promise<{ releaseId: string }>;
  getRelease(releaseId: string): Promise<ReleaseRecord | undefined>;
  /** Newest first. */
  listReleases(limit: number): Promise<ReleaseRecord[]>;
  /** A release's intents oldest first; `null`: the service's global ones (freeze, unfreeze). */
  listIntents(releaseId: string | null): Promise<Intent[]>;
  where(): Promise<WhereAnswer>;
}

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
}

export interface ControlServer {
  port: number;
  url: string;
  /** Whether POST /github is served, and where; or why not. */
  github: GithubWebhookState;
  close(): Promise<void>;
}

/** The errors a caller can fix or retry: answered 409 with their message. */
const CONFLICTS: ReadonlySet<string> = new Set(['InvalidIntent', 'ServiceLocked', 'ReleaseExists']);

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, name: string, message: string) {
    super(message);
    this.status = status;
    this.name = name;
  }
}

/**
 * Reads the token file, or creates it (32 random bytes, hex, mode 0600). An existing file is used
 * only if no one but its owner may read or write it, it is a regular file (not a symlink) and it
 * belongs to this user; otherwise this throws, saying why.
 */
export async function ensureToken(stateDir: string): Promise<string> {
  await mkdir(stateDir, { recursive: true });
  const path = join(stateDir, TOKEN_FILE);
  const fresh = randomBytes(32).toString('hex');
  try {
    const created = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await created.chmod(0o600);
      await created.writeFile(`${fresh}\n`);
    } finally {
      await created.close();
    }
    return fresh;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const token = await readPrivateFile(path, 'InsecureToken', {
    what: 'the control token',
    risk: 'anyone who can read it can steer releases',
    fix: `Run \`chmod 600 ${path}\` (or delete it for a new token) and start again`,
  });
  if (token === undefined) throw namedError('InsecureToken', `${path} went away while it was being read`);
  if (token.length < 32) {
    throw namedError('InsecureToken', `${path} holds no usable token (under 32 characters): delete it for a new one`);
  }
  return token;
}

/**
 * The trimmed text of a file that must be private: a regular file (not a symlink) of this user that
 * no one else may read or write (mode 0600 or narrower). `undefined` when there is no such file;
 * otherwise a wider mode, a link or another owner throws `errorName`, saying why and what to do.
 */
async function readPrivateFile(
  path: string,
  errorName: string,
  about: { what: string; risk: string; fix: string },
): Promise<string | undefined> {
  let existing: Awaited<ReturnType<typeof open>>;
  try {
    existing = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') {
      throw namedError(errorName, `${path} is a symbolic link: refusing to use it as ${about.what}`);
    }
    throw error;
  }
  try {
    const info = await existing.stat();
    if (!info.isFile()) throw namedError(errorName, `${path} is not a regular file`);
    const mode = info.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw namedError(
        errorName,
        `${path} has mode ${mode.toString(8).padStart(4, '0')}, wider than 0600: ${about.risk}. ${about.fix}`,
      );
    }
    if (typeof process.getuid === 'function' && info.uid !== process.getuid()) {
      throw namedError(errorName, `${path} belongs to another user (uid ${info.uid})`);
    }
    return (await existing.readFile('utf8')).trim();
  } finally {
    await existing.close();
  }
}

/** Constant-time comparison of the presented token with ours: equal-length digests, whatever was sent. */
function tokenMatches(presented: string, token: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer ([^\s]+)$/i.exec(header.trim());
  return match?.[1];
}

function readBody(req: IncomingMessage): Promise<unknown> {
  const tooLarge = () => new HttpError(413, 'PayloadTooLarge', `request body over ${MAX_BODY_BYTES} bytes`);
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return Promise.reject(tooLarge());
  return new Promise((ok, bad) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Stop keeping it; the rest drains (and the connection closes after the 413).
        req.off('data', onData);
        req.resume();
        bad(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('error', bad);
    req.once('end', () => {
      if (size > MAX_BODY_BYTES) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return ok({});
      try {
        ok(JSON.parse(text) as unknown);
      } catch {
        bad(new HttpError(400, 'BadRequest', 'the request body is not valid JSON'));
      }
    });
  });
}

// --- body checks: small and explicit, every problem named --------------------------------------

type Json = Record<string, unknown>;

function object(body: unknown): Json {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'BadRequest', 'the request body must be a JSON object');
  }
  return body as Json;
}

function onlyKeys(body: Json, allowed: readonly string[]): void {
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new HttpError(400, 'BadRequest', `unknown field(s): ${unknown.join(', ')}`);
}

function text(body: Json, key: string): string {
  const value = body[key];
  if (typeof value !== 'string') throw new HttpError(400, 'BadRequest', `${key} must be a string`);
  return value;
}

function optionalText(body: Json, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new HttpError(400, 'BadRequest', `${key} must be a string`);
  return value;
}

function intentBody(raw: unknown): IntentBody {
  const body = object(raw);
  onlyKeys(body, ['verb', 'releaseId', 'region', 'reason', 'actor']);
  const verb = text(body, 'verb');
  if (!(INTENT_VERBS as readonly string[]).includes(verb)) {
    const hint = verb === 'rollback' ? ' (POST /v1/rollbacks starts a rollback)' : '';
    throw new HttpError(400, 'BadRequest', `verb must be one of ${INTENT_VERBS.join(', ')}${hint}`);
  }
  const releaseId = optionalText(body, 'releaseId');
  const region = optionalText(body, 'region');
  return {
    verb: verb as IntentVerb,
    ...(releaseId !== undefined ? { releaseId } : {}),
    ...(region !== undefined ? { region } : {}),
    reason: text(body, 'reason'),
    actor: text(body, 'actor'),
  };
}

// --- POST /github: GitHub's push webhook, served locally ---------------------------------------

/** The webhook's path. Outside the bearer token (GitHub cannot send it), behind GitHub's signature. */
export const GITHUB_PATH = '/github';
/** `<stateDir>/github-secret` (mode 0600): the webhook secret, when FLOTILLA_GITHUB_SECRET is not set. */
export const GITHUB_SECRET_FILE = 'github-secret';
/** Largest delivery accepted on POST /github (the handler refuses larger ones with 413): 1 MiB. */
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
  start(request: StartRequest): Promise<StartResult>;
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

/**
 * Reads a raw body, keeping at most `limit + 1` bytes: enough for the handler to see it is too
 * large. One declared larger (Content-Length) is not read at all: the handler refuses it by that.
 */
function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(req.headers['content-length']) > limit) {
    req.resume();
    return Promise.resolve(Buffer.alloc(0));
  }
  return new Promise((ok, bad) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      const room = limit + 1 - size;
      if (chunk.length >= room) {
        chunks.push(chunk.subarray(0, room));
        size += room;
        // Stop keeping it; the rest drains (and the connection closes after the 413).
        req.off('data', onData);
        req.resume();
        ok(Buffer.concat(chunks));
        return;
      }
      chunks.push(chunk);
      size += chunk.length;
    };
    req.on('data', onData);
    req.once('error', bad);
    req.once('end', () => ok(Buffer.concat(chunks)));
  });
}

/** The Node request as API Gateway (HTTP API, payload 2.0) hands it to the Lambda: what the handler takes. */
function gatewayEvent(req: IncomingMessage, raw: Buffer): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  const now = Date.now();
  const method = req.method ?? 'POST';
  return {
    version: '2.0',
    routeKey: `POST ${GITHUB_PATH}`,
    rawPath: GITHUB_PATH,
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: 'local',
      apiId: 'flotilla-up',
      domainName: `127.0.0.1:${req.socket.localPort ?? ''}`,
      domainPrefix: '127',
      http: {
        method,
        path: GITHUB_PATH,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: `POST ${GITHUB_PATH}`,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body: raw.toString('utf8'),
    isBase64Encoded: false,
  };
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

/** The webhook's handler (functions/github-webhook.ts, the AWS Lambda's logic) on a local backend. */
async function localWebhook(
  settings: Extract<GithubSettings, { enabled: true }>,
  options: GithubServeOptions,
  serially: Serial,
): Promise<(event: APIGatewayProxyEventV2) => Promise<WebhookResponse>> {
  // Loaded only when the webhook is on: it brings the AWS SDK clients its Lambda wiring uses.
  const { artifactFromTemplate, createGithubWebhook } = await import('../functions/github-webhook.ts');
  const { releases } = options;
  return createGithubWebhook({
    secret: async () => settings.secret,
    start: (request) => serially(() => releases.start(request)),
    config: async () => releases.config,
    branch: settings.branch,
    artifactFor: artifactFromTemplate(settings.artifactTemplate),
    maxBodyBytes: GITHUB_MAX_BODY_BYTES,
    log: options.log ?? (() => {}),
  });
}

// --- the server ----------------------------------------------------------------------------------

function send(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  res.end(payload);
}

function fail(res: ServerResponse, status: number, name: string, message: string): void {
  send(res, status, { error: message, name });
}

async function withIntents(handler: ControlHandler, record: ReleaseRecord): Promise<ReleaseWithIntents> {
  return { ...record, intents: await handler.listIntents(record.releaseId) };
}

async function route(handler: ControlHandler, req: IncomingMessage, url: URL): Promise<[number, unknown]> {
  const method = req.method ?? 'GET';
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const release = /^\/v1\/releases\/([^/]+)$/.exec(path);
  const allowed = (methods: string) => {
    if (!methods.split(',').includes(method)) {
      throw new HttpError(405, 'MethodNotAllowed', `${method} ${path}: use ${methods}`);
    }
  };

  if (path === '/v1/ping') {
    allowed('GET');
    return [200, { ok: true, pid: process.pid }];
  }
  if (path === '/v1/intents') {
    allowed('GET,POST');
    if (method === 'GET') return [200, { intents: await handler.listIntents(null) }];
    return [201, await handler.intent(intentBody(await readBody(req)))];
  }
  if (path === '/v1/releases') {
    allowed('GET,POST');
    if (method === 'GET') {
      const raw = url.searchParams.get('limit');
      const limit = raw === null ? 20 : Number(raw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
        throw new HttpError(400, 'BadRequest', 'limit must be a whole number from 1 to 200');
      }
      const records = await handler.listReleases(limit);
      return [200, { releases: await Promise.all(records.map((r) => withIntents(handler, r))) }];
    }
    const body = object(await readBody(req));
    onlyKeys(body, ['artifact', 'version']);
    const artifact = text(body, 'artifact');
    const version = text(body, 'version');
    if (!artifact || !version) throw new HttpError(400, 'BadRequest', 'artifact and version must not be empty');
    return [202, await handler.start({ artifact, version })];
  }
  if (path === '/v1/rollbacks') {
    allowed('POST');
    const body = object(await readBody(req));
    onlyKeys(body, ['releaseId', 'actor', 'reason']);
    const releaseId = text(body, 'releaseId');
    return [202, await handler.rollback(releaseId, { actor: text(body, 'actor'), reason: text(body, 'reason') })];
  }
  if (release?.[1]) {
    allowed('GET');
    const id = decodeURIComponent(release[1]);
    const record = await handler.getRelease(id);
    if (!record) throw new HttpError(404, 'NotFound', `no release ${id}`);
    return [200, await withIntents(handler, record)];
  }
  if (path === '/v1/where') {
    allowed('GET');
    return [200, await handler.where()];
  }
  throw new HttpError(404, 'NotFound', `no route ${method} ${path}`);
}

/**
 * POST /github: no bearer token (GitHub cannot send one); the handler checks GitHub's signature
 * before anything else. Off, it is an unknown route. Its body may be up to 1 MiB, not 64 KiB.
 */
function serveGithub(
  req: IncomingMessage,
  res: ServerResponse,
  webhook: ((event: APIGatewayProxyEventV2) => Promise<WebhookResponse>) | undefined,
  onError: ((error: unknown) => void) | undefined,
): void {
  const method = req.method ?? 'GET';
  const refuse = (status: number, name: string, message: string) => {
    res.setHeader('connection', 'close');
    fail(res, status, name, message);
    req.resume();
  };
  if (!webhook) {
    refuse(404, 'NotFound', `no route ${method} ${GITHUB_PATH}`);
    return;
  }
  if (method !== 'POST') {
    res.setHeader('allow', 'POST');
    refuse(405, 'MethodNotAllowed', `${method} ${GITHUB_PATH}: use POST`);
    return;
  }
  readRawBody(req, GITHUB_MAX_BODY_BYTES)
    .then((raw) => webhook(gatewayEvent(req, raw)))
    .then(
      (answer) => {
        if (answer.statusCode === 413) res.setHeader('connection', 'close');
        res.writeHead(answer.statusCode, {
          ...answer.headers,
          'content-length': Buffer.byteLength(answer.body),
          'cache-control': 'no-store',
        });
        res.end(answer.body);
      },
      (error: unknown) => {
        if (res.headersSent) return;
        onError?.(error);
        refuse(500, 'InternalError', 'internal error');
      },
    );
}

/** Starts the API on 127.0.0.1 and says where it is in `<stateDir>/control.json`. */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1') throw new Error('the control API listens on 127.0.0.1 only');
  const token = await ensureToken(options.stateDir);
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
  const webhook =
    settings.enabled && options.github ? await localWebhook(settings, options.github, serially) : undefined;

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname.replace(/\/+$/, '');
    if (path === GITHUB_PATH) {
      serveGithub(req, res, webhook, options.onError);
      return;
    }
    const presented = bearer(req);
    if (presented === undefined || !tokenMatches(presented, token)) {
      // Nothing else is looked at, the body included: the handler is never reached.
      res.setHeader('www-authenticate', 'Bearer');
      res.setHeader('connection', 'close');
      fail(res, 401, 'Unauthorized', 'missing or wrong bearer token (see control-token in the state directory)');
      req.resume();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    route(handler, req, url).then(
      ([status, body]) => send(res, status, body),
      (error: unknown) => {
        if (res.headersSent) return;
        if (error instanceof HttpError) {
          if (error.status === 413) {
            res.setHeader('connection', 'close');
            req.resume();
          }
          fail(res, error.status, error.name, error.message);
          return;
        }
        const name = (error as Error | undefined)?.name ?? 'Error';
        if (CONFLICTS.has(name)) {
          fail(res, 409, name, (error as Error).message);
          return;
        }
        options.onError?.(error);
        fail(res, 500, 'InternalError', `internal error: ${(error as Error | undefined)?.message ?? String(error)}`);
      },
    );
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
  return {
    port,
    url,
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
        await new Promise<void>((ok) => {
          server.close(() => ok());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}

// --- a LocalBackend as a handler -----------------------------------------------------------------

/** Which version each configured region runs, as the ledger knows it (the `where` answer). */
export async function whereFromLedger(ledger: Ledger, config: FlotillaConfig): Promise<WhereAnswer> {
  const states = new Map((await ledger.listRegions(config.service)).map((s) => [s.region, s]));
  return {
    service: config.service,
    regions: config.regions.map((r) => ({ region: r.name, version: states.get(r.name)?.current?.version ?? null })),
  };
}

/** The service's global intents (freeze, unfreeze), oldest first: all services share their key. */
export async function globalIntents(ledger: Ledger, service: string): Promise<Intent[]> {
  return (await ledger.listIntents(service, null)).filter((i) => i.service === service);
}

export interface HandlerHooks {
  /** A release (or rollback) the API started; `done` settles when it ends. */
  onStarted?: (started: StartedRelease) => void;
  /** How long start/rollback wait for the release to be recorded before answering anyway. */
  recordTimeoutMs?: number;
}

/** Answers once the release is in the ledger, or with the error that kept it from starting (ServiceLocked). */
async function recordedRelease(
  ledger: Ledger,
  service: string,
  started: StartedRelease,
  hooks: HandlerHooks,
): Promise<{ releaseId: string }> {
  hooks.onStarted?.(started);
  let settled: { error: unknown } | undefined;
  started.done.catch((error: unknown) => {
    settled = { error };
  });
  const deadline = Date.now() + (hooks.recordTimeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (settled) throw settled.error;
    if (await ledger.getRelease(service, started.releaseId)) return { releaseId: started.releaseId };
    await new Promise((ok) => setTimeout(ok, 25));
  }
  return { releaseId: started.releaseId };
}

/**
 * Serves the API from a local backend: reads from its ledger, intents through it, and releases
 * started on it that go on in this process after the request is answered.
 */
export function controlHandlerFor(
  backend: LocalBackend,
  config: FlotillaConfig,
  hooks: HandlerHooks = {},
): ControlHandler {
  const { service } = config;
  const { ledger } = backend;
  const recorded = (started: StartedRelease) => recordedRelease(ledger, service, started, hooks);

  /** A rollback is refused up front while another release runs, so its intent is not recorded in vain. */
  const unlocked = async () => {
    const lock = await ledger.getLock(service);
    if (lock) {
      throw namedError(
        'ServiceLocked',
        `${service} is being released by ${lock.releaseId} (${lock.owner}, since ${lock.acquiredAt})`,
      );
    }
  };

  return {
    intent: (request) => backend.intent(request),
    // A release started while another runs queues behind it (the newest queued build runs next).
    start: async (request) => recorded(await backend.start(request)),
    async rollback(releaseId, who) {
      await unlocked();
      return recorded(await backend.rollback(releaseId, who));
    },
    getRelease: (releaseId) => ledger.getRelease(service, releaseId),
    listReleases: (limit) => ledger.listReleases(service, limit),
    listIntents: (releaseId) =>
      releaseId === null ? globalIntents(ledger, service) : ledger.listIntents(service, releaseId),
    where: () => whereFromLedger(ledger, config),
  };
}

/**
 * POST /github on a local backend: one release per commit, named as on AWS. The ledger is looked
 * at first: a release with the commit's id already there (an earlier delivery, or a `flotilla
 * release --version <short sha>`) is `exists` and nothing starts. Otherwise the commit's build
 * directory must be there (else the delivery fails, nothing is recorded, and a redelivery can try
 * again), and the release starts under exactly that id, the local backend's first name for the
 * version (`executionName(service, shortSha, 1)` = releaseIdForCommit). While another release runs
 * it queues, as any release does. The server runs starts one at a time, so no other start comes
 * between the look and the start.
 */
export function githubReleasesFor(
  backend: LocalBackend,
  config: FlotillaConfig,
  hooks: HandlerHooks = {},
): GithubReleases {
  const { service } = config;
  const { ledger } = backend;
  return {
    config,
    async start(request) {
      if (await ledger.getRelease(service, request.releaseId)) return 'exists';
      const named = executionName(service, request.version, 1);
      if (named !== request.releaseId) {
        throw namedError(
          'ReleaseIdMismatch',
          `the local backend would name ${request.commit}'s release ${named}, not ${request.releaseId}`,
        );
      }
      const build = await stat(request.artifact).catch(() => undefined);
      if (!build?.isDirectory()) {
        throw namedError('BuildMissing', `no build directory for ${request.commit} at ${request.artifact}`);
      }
      const started = await backend.start({ version: request.version, artifact: request.artifact });
      try {
        await recordedRelease(ledger, service, started, hooks);
      } catch (error) {
        if ((error as Error).name === 'ReleaseExists') return 'exists';
        throw error;
      }
      if (started.releaseId !== request.releaseId) {
        throw namedError('ReleaseIdMismatch', `started ${started.releaseId}, not ${request.releaseId}`);
      }
      return 'started';
    },
  };
}
