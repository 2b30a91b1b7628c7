/**
 * The control API's routes: a table of method + path → handler, each route's parameters checked
 * by its schema (control/schemas.ts) before it runs, and how an outcome becomes an answer
 * (HttpError as it is, the conflicts a caller can fix as 409, anything else as 500). The token is
 * checked before any of this (control/auth.ts); POST /github is not routed here
 * (control/github-bridge.ts).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as z from 'zod';
import type { Intent } from '../core/control.ts';
import { REFUSALS } from '../core/errors.ts';
import type { ReleaseRecord } from '../ports/ledger.ts';
import type { RegionLiveness } from '../ports/region-liveness.ts';
import type { EventPage } from './event-log.ts';
import { badRequest, fail, HttpError, readJsonBody, send } from './http.ts';
import {
  type IntentBody,
  PARAMS,
  parseEventsQuery,
  parseIntentBody,
  parseListQuery,
  parseParams,
  parseRollbackBody,
  parseStartBody,
  type StartBody,
} from './schemas.ts';

/** A release as the API returns it: the ledger's record and its audit trail, oldest first. */
export type ReleaseWithIntents = ReleaseRecord & { intents: Intent[] };

export interface WhereAnswer {
  service: string;
  regions: {
    region: string;
    version: string | null;
    /** When the release that put `version` there recorded it (ISO 8601); null with nothing deployed. */
    since: string | null;
    /** The release (a deploy or a rollback) that put `version` there. */
    releaseId: string | null;
    /** Local backend only: whether the region's process runs and answers now. */
    process?: RegionLiveness;
  }[];
}

/** What the server needs from a backend. Refusals (core/errors.ts REFUSALS) and busy names get their own status (STATUS_OF). */
export interface ControlHandler {
  intent(request: IntentBody): Promise<Intent>;
  /** Starts a release; resolves once it is recorded (it goes on in the background). */
  start(request: StartBody): Promise<{ releaseId: string }>;
  /** Starts the release that puts back what a SUCCEEDED release changed. */
  rollback(releaseId: string, who: { actor: string; reason: string }): Promise<{ releaseId: string }>;
  getRelease(releaseId: string): Promise<ReleaseRecord | undefined>;
  /** Newest first. */
  listReleases(limit: number): Promise<ReleaseRecord[]>;
  /** A release's intents oldest first; `null`: the service's global ones (freeze, unfreeze). */
  listIntents(releaseId: string | null): Promise<Intent[]>;
  where(): Promise<WhereAnswer>;
  /**
   * The events of a release this process runs, from position `after` on, waiting up to `waitMs`
   * for one (control/event-log.ts). Absent where no events are kept: the route is then 404.
   */
  events?(releaseId: string, after: number, waitMs: number): Promise<EventPage>;
}

/** The errors a caller can fix or retry, each with its status and its message: one table, as the CLI's exit codes. */
export const STATUS_OF: Readonly<Record<string, number>> = {
  [REFUSALS.InvalidInput]: 400,
  [REFUSALS.NotFound]: 404,
  [REFUSALS.NotApplicable]: 409,
  [REFUSALS.NoChange]: 409,
  [REFUSALS.Busy]: 409,
  ServiceLocked: 409,
  ReleaseExists: 409,
  PortInUse: 409,
};

type Method = 'GET' | 'POST';
type Answer = [status: number, body: unknown];

interface Call<P> {
  handler: ControlHandler;
  params: P;
  query: URLSearchParams;
  /** The JSON body (`{}` when empty); read only by routes that take one. */
  body(): Promise<unknown>;
}

interface Route {
  method: Method;
  /** Segments; `:name` takes one non-empty segment as the parameter `name`. */
  path: string;
  run(call: Call<Record<string, string>>): Promise<Answer>;
}

function route<S extends z.ZodType>(
  method: Method,
  path: string,
  params: S,
  handle: (call: Call<z.output<S>>) => Promise<Answer>,
): Route {
  return { method, path, run: (call) => handle({ ...call, params: parseParams(params, call.params) }) };
}

async function withIntents(handler: ControlHandler, record: ReleaseRecord): Promise<ReleaseWithIntents> {
  return { ...record, intents: await handler.listIntents(record.releaseId) };
}

export const ROUTES: readonly Route[] = [
  route('GET', '/v1/ping', PARAMS.none, async () => [200, { ok: true, pid: process.pid }]),
  route('GET', '/v1/intents', PARAMS.none, async ({ handler }) => [200, { intents: await handler.listIntents(null) }]),
  route('POST', '/v1/intents', PARAMS.none, async ({ handler, body }) => [
    201,
    await handler.intent(parseIntentBody(await body())),
  ]),
  route('GET', '/v1/releases', PARAMS.none, async ({ handler, query }) => {
    const records = await handler.listReleases(parseListQuery(query).limit);
    return [200, { releases: await Promise.all(records.map((r) => withIntents(handler, r))) }];
  }),
  route('POST', '/v1/releases', PARAMS.none, async ({ handler, body }) => [
    202,
    await handler.start(parseStartBody(await body())),
  ]),
  route('POST', '/v1/rollbacks', PARAMS.none, async ({ handler, body }) => {
    const { releaseId, actor, reason } = parseRollbackBody(await body());
    return [202, await handler.rollback(releaseId, { actor, reason })];
  }),
  route('GET', '/v1/releases/:releaseId', PARAMS.release, async ({ handler, params }) => {
    const record = await handler.getRelease(params.releaseId);
    if (!record) throw new HttpError(404, 'NotFound', `no release ${params.releaseId}`);
    return [200, await withIntents(handler, record)];
  }),
  route('GET', '/v1/releases/:releaseId/events', PARAMS.release, async ({ handler, params, query }) => {
    const { after, waitMs } = parseEventsQuery(query);
    if (!handler.events) throw new HttpError(404, 'NotFound', 'this server keeps no release events');
    return [200, await handler.events(params.releaseId, after, waitMs)];
  }),
  route('GET', '/v1/where', PARAMS.none, async ({ handler }) => [200, await handler.where()]),
];

/** The route's parameters when `path` is one of its paths (percent-decoded), else undefined. */
function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, segment] of want.entries()) {
    const actual = got[i] ?? '';
    if (segment.startsWith(':')) {
      if (actual === '') return undefined;
      try {
        params[segment.slice(1)] = decodeURIComponent(actual);
      } catch {
        throw badRequest(`the path ${path} is not valid percent-encoding`);
      }
    } else if (segment !== actual) {
      return undefined;
    }
  }
  return params;
}

/** Runs the route a request names: 404 for an unknown path, 405 for a known one with another method. */
async function dispatch(handler: ControlHandler, req: IncomingMessage, url: URL): Promise<Answer> {
  const method = req.method ?? 'GET';
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const methods: string[] = [];
  for (const candidate of ROUTES) {
    const params = matchPath(candidate.path, path);
    if (params === undefined) continue;
    if (candidate.method !== method) {
      methods.push(candidate.method);
      continue;
    }
    return candidate.run({ handler, params, query: url.searchParams, body: () => readJsonBody(req) });
  }
  if (methods.length > 0) throw new HttpError(405, 'MethodNotAllowed', `${method} ${path}: use ${methods.join(',')}`);
  throw new HttpError(404, 'NotFound', `no route ${method} ${path}`);
}

/** Answers an authorized request. `onError` hears of every 500 (with its stack, which the client never sees). */
export function serveRoute(
  handler: ControlHandler,
  req: IncomingMessage,
  res: ServerResponse,
  onError: ((error: unknown) => void) | undefined,
): void {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://127.0.0.1');
  } catch {
    fail(res, 400, 'BadRequest', 'the request URL is not valid');
    return;
  }
  dispatch(handler, req, url).then(
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
      const status = STATUS_OF[name];
      if (status !== undefined) {
        fail(res, status, name, (error as Error).message);
        return;
      }
      onError?.(error);
      fail(res, 500, 'InternalError', `internal error: ${(error as Error | undefined)?.message ?? String(error)}`);
    },
  );
}
