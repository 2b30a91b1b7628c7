/**
 * What the control API accepts: each request body, route parameter and query as a zod schema.
 * Bodies are strict objects: an unknown field is a 400 that names it (a typo such as `reaosn`
 * must not become an intent without a reason). Every problem is listed, each with its field.
 */
import * as z from 'zod';
import { VERBS, type Verb } from '../core/verbs.ts';
import { versionProblem } from '../core/version.ts';
import { badRequest } from './http.ts';

/** The verbs POST /v1/intents takes: every verb but `rollback`, which has its own route (it starts a release). */
export const INTENT_VERBS = VERBS.filter((verb): verb is Exclude<Verb, 'rollback'> => verb !== 'rollback');
export type IntentVerb = Exclude<Verb, 'rollback'>;

/** POST /v1/intents. */
export interface IntentBody {
  verb: IntentVerb;
  releaseId?: string | null;
  region?: string;
  reason: string;
  actor: string;
}

const verbProblem = (input: unknown) =>
  `must be one of ${INTENT_VERBS.join(', ')}${input === 'rollback' ? ' (POST /v1/rollbacks starts a rollback)' : ''}`;

const intentBody = z
  .strictObject({
    verb: z.enum(INTENT_VERBS as [IntentVerb, ...IntentVerb[]], { error: (issue) => verbProblem(issue.input) }),
    releaseId: z.string().nullish(),
    region: z.string().nullish(),
    reason: z.string(),
    actor: z.string(),
  })
  // A null releaseId or region means none, as if left out.
  .transform(({ releaseId, region, ...rest }) => ({
    ...rest,
    ...(releaseId != null ? { releaseId } : {}),
    ...(region != null ? { region } : {}),
  }));

/** POST /v1/releases. */
const startBody = z
  .strictObject({
    artifact: z.string(),
    artifacts: z.record(z.string(), z.string().min(1)).optional(),
    // The one version rule (core/version.ts), with its own message.
    version: z.string().superRefine((value, ctx) => {
      const problem = versionProblem(value);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    }),
  })
  // Empty only when `artifacts` names the builds (core/artifacts.ts checks it names every region's).
  .superRefine((body, ctx) => {
    if (body.artifact === '' && body.artifacts === undefined) {
      ctx.addIssue({ code: 'custom', path: ['artifact'], message: 'must not be empty' });
    }
  });

/** What POST /v1/releases starts: the build (or one per region) and its version. */
export interface StartBody {
  artifact: string;
  artifacts?: Record<string, string>;
  version: string;
}

/** POST /v1/rollbacks. */
const rollbackBody = z.strictObject({ releaseId: z.string(), actor: z.string(), reason: z.string() });

/** The `:releaseId` of GET /v1/releases/:releaseId, once percent-decoded. */
const releaseParams = z.strictObject({ releaseId: z.string().min(1) });

const NO_PARAMS = z.strictObject({});

const LIMIT = 'must be a whole number from 1 to 200';

/** GET /v1/releases?limit=: other query parameters are ignored, as browsers and proxies add their own. */
const listQuery = z.object({
  limit: z.coerce
    .number({ error: LIMIT })
    .int({ error: LIMIT })
    .min(1, { error: LIMIT })
    .max(200, { error: LIMIT })
    .default(20),
});

/** Messages for the problems zod would otherwise phrase for programmers. */
const phrased: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'invalid_type')
    return issue.expected === 'object' ? 'must be a JSON object' : `must be a ${issue.expected}`;
  if (issue.code === 'too_small' && issue.origin === 'string') return 'must not be empty';
  return undefined;
};

/** Every problem in one line, unknown fields first: `unknown field(s): colour; reason must be a string`. */
export function describeProblems(error: z.ZodError, subject: string): string {
  const unknown = error.issues.flatMap((issue) => (issue.code === 'unrecognized_keys' ? issue.keys : []));
  const others = error.issues
    .filter((issue) => issue.code !== 'unrecognized_keys')
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : subject} ${issue.message}`);
  return [...(unknown.length > 0 ? [`unknown field(s): ${unknown.join(', ')}`] : []), ...others].join('; ');
}

/** The value as the schema reads it, or a 400 BadRequest listing every problem. */
function parse<S extends z.ZodType>(schema: S, value: unknown, subject: string): z.output<S> {
  const parsed = schema.safeParse(value, { error: phrased });
  if (!parsed.success) throw badRequest(describeProblems(parsed.error, subject));
  return parsed.data;
}

export const parseIntentBody = (body: unknown): IntentBody => parse(intentBody, body, 'the request body');
export const parseStartBody = (body: unknown): StartBody => parse(startBody, body, 'the request body');
export const parseRollbackBody = (body: unknown): z.output<typeof rollbackBody> =>
  parse(rollbackBody, body, 'the request body');
export const parseListQuery = (query: URLSearchParams): { limit: number } =>
  parse(listQuery, Object.fromEntries(query), 'the query');

const AFTER = 'must be a whole number >= 0';
const WAIT = 'must be a whole number of milliseconds from 0 to 25000';

/** GET /v1/releases/:id/events?after=&waitMs=: from which position, and how long to wait for one. */
const eventsQuery = z.object({
  after: z.coerce.number({ error: AFTER }).int({ error: AFTER }).min(0, { error: AFTER }).default(0),
  waitMs: z.coerce
    .number({ error: WAIT })
    .int({ error: WAIT })
    .min(0, { error: WAIT })
    .max(25_000, { error: WAIT })
    .default(0),
});

export const parseEventsQuery = (query: URLSearchParams): { after: number; waitMs: number } =>
  parse(eventsQuery, Object.fromEntries(query), 'the query');

/** The route parameters each route takes, by name: the router checks them before the route runs. */
export const PARAMS = {
  none: NO_PARAMS,
  release: releaseParams,
} as const;

export const parseParams = <S extends z.ZodType>(schema: S, params: Record<string, string>): z.output<S> =>
  parse(schema, params, 'the path');
