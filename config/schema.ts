/**
 * The zod schema for `flotilla.yml`.
 *
 * `flotillaInputSchema` describes what a user may write (it is also the source of the editor JSON Schema);
 * `flotillaConfigSchema` parses that input and fills in the defaults that depend on other fields
 * (wave names and bake times), producing exactly `FlotillaConfig`.
 *
 * Every object is strict: an unknown key is an error, so a typo never silently falls back to a default.
 */
import * as z from 'zod';
import { EMERGENCY_MIN_BAKE_SECONDS, ENGINE_MAX_PARALLEL } from '../core/plan.ts';
import { passEnvProblem } from '../core/service-env.ts';
import { ANYONE, SLACK_VERBS } from '../core/slack-authz.ts';
import { versionProblem } from '../core/version.ts';
import type {
  AwsBackendSettings,
  CodeDeployTarget,
  DeploySettings,
  FaultSpec,
  FlotillaConfig,
  GateSettings,
  LocalTarget,
  PolicySettings,
  RegionConfig,
  SlackSettings,
} from './types.ts';

export const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,39}$/;
export const REGION_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{1,40}$/;

/** A short, quoted rendering of a user's value for messages: `"abc"`, `12`, `a list`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

const int = (min: number, max?: number) => {
  const atLeast = z.int().min(min);
  return max === undefined ? atLeast : atLeast.max(max);
};

/**
 * The largest value each duration and timer takes. A bake longer than a week is a release nobody
 * watches; one-hour intervals, poll times and readiness timeouts are far past any real deploy; and
 * Node's timers take at most 2^31-1 ms (a longer one fires at once), so every `*Ms` is below that.
 */
export const LIMITS = {
  bakeSeconds: 7 * 24 * 3600,
  intervalSeconds: 3600,
  readinessTimeoutSeconds: 3600,
  pollSeconds: 3600,
  timerMs: 2 ** 31 - 1,
  probes: 1000,
  minSamples: 1_000_000,
} as const;

/** Whole seconds (Step Functions Wait states take whole seconds), at most `max`. */
const seconds = (min: number, max: number) => int(min, max);

/** Milliseconds a Node timer can wait. */
const ms = (min: number) => int(min, LIMITS.timerMs);

/** A POSIX environment variable name: `A=B` or an empty name cannot be passed to a process. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const serviceNameSchema = z
  .string()
  .regex(SERVICE_NAME_PATTERN, {
    error: (issue) =>
      `must be 1-40 lowercase letters, digits or dashes, starting with a letter (got ${describeValue(issue.input)})`,
  })
  .describe('Service name: 1-40 lowercase letters, digits or dashes, starting with a letter.');

export const regionNameSchema = z
  .string()
  .regex(REGION_NAME_PATTERN, {
    error: (issue) =>
      `must be 2-41 lowercase letters, digits or dashes, like "us-east-1" (got ${describeValue(issue.input)})`,
  })
  .describe('Region name, e.g. us-east-1.');

export const portSchema = int(1024, 65535).describe('Port on 127.0.0.1 the region process listens on.');

export const faultSchema = z
  .strictObject({
    kind: z
      .enum([
        'deploy-fail',
        'stage-fail',
        'slow-start',
        'crash-after-start',
        'fresh-start',
        'unhealthy',
        'flapping',
        'silent',
      ])
      .describe('What goes wrong.'),
    on: z
      .enum(['deploy', 'rollback', 'start', 'always'])
      .default('always')
      .describe('When the fault applies: a deploy, a rollback, starting the current version, or always.'),
    version: z
      .string()
      .superRefine((value, ctx) => {
        const problem = versionProblem(value);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe('Only for this version, when set (the version rule of core/version.ts). Quote it: "1.0".'),
    ms: ms(0).default(0).describe('slow-start: extra start delay; crash-after-start: time after readiness.'),
  })
  .describe('A fault to inject (tests and demos).');

export const localTargetSchema = z
  .strictObject({
    kind: z.literal('local-process').describe('A real process on 127.0.0.1 (the local backend).'),
    port: portSchema,
    command: z
      .array(z.string().min(1))
      .min(1)
      .describe('argv run in the staged release directory, e.g. [node, server.js].'),
    env: z
      .record(
        z.string().regex(ENV_NAME_PATTERN, {
          error: (issue) =>
            `an environment variable name must match ${ENV_NAME_PATTERN.source} (got ${describeValue(issue.input)})`,
        }),
        z.string().refine((value) => !value.includes('\0'), { error: 'must not contain a NUL character' }),
      )
      .default({})
      .describe(
        'Extra environment variables for the process (names: letters, digits and _, not starting with a digit).',
      ),
    passEnv: z
      .array(
        z.string().superRefine((name, ctx) => {
          const problem = passEnvProblem(name);
          if (problem !== null) ctx.addIssue({ code: 'custom', message: problem, input: name });
        }),
      )
      .optional()
      .describe(
        "Names of Flotilla's environment variables the process also gets (POSIX names, never FLOTILLA_*); nothing else of it but PATH is passed.",
      ),
    faults: z.array(faultSchema).default([]).describe('Faults to inject.'),
  })
  .describe('Where the region runs.');

export const codeDeployTargetSchema = z
  .strictObject({
    kind: z.literal('codedeploy').describe('A region deployed by AWS CodeDeploy.'),
    awsRegion: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, {
        error: (issue) => `must be an AWS region like "eu-west-1" (got ${describeValue(issue.input)})`,
      })
      .describe('AWS region of the deployment group.'),
    application: z.string().min(1).max(100).describe('CodeDeploy application name.'),
    deploymentGroup: z.string().min(1).max(100).describe('CodeDeploy deployment group name.'),
    platform: z.enum(['Server', 'Lambda', 'ECS']).describe('Compute platform of the deployment group.'),
    roleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, {
        error: (issue) => `must be an IAM role ARN (got ${describeValue(issue.input)})`,
      })
      .optional()
      .describe('Role assumed for this region (cross-account).'),
    alarms: z
      .strictObject({
        names: z.array(z.string().min(1)).default([]).describe('Alarm names (metric or composite).'),
        prefix: z.string().min(1).optional().describe('Alarm name prefix.'),
      })
      .prefault({})
      .describe('CloudWatch alarms that gate this region.'),
    healthUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('HTTP(S) health URL probed during the gate.'),
  })
  .describe('A region deployed by AWS CodeDeploy.');

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, {
  error: (issue) => `must be HH:MM, 00:00 to 23:59 (got ${describeValue(issue.input)})`,
});

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

export const windowSchema = z
  .strictObject({
    days: z
      .array(z.enum(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']))
      .min(1)
      .describe('Days the window is open.'),
    start: hhmm.describe('Opening time, HH:MM, in the region’s time zone.'),
    end: hhmm.describe('Closing time, HH:MM (exclusive): after start, or with overnight: true, before it.'),
    overnight: z
      .boolean()
      .optional()
      .describe('The window closes at end on the next day (start 22:00, end 06:00): opens on each of days at start.'),
    timeZone: z
      .string()
      .refine(
        (zone) => {
          try {
            new Intl.DateTimeFormat('en-US', { timeZone: zone });
            return true;
          } catch {
            return false;
          }
        },
        { error: (issue) => `must be an IANA time zone like Europe/Dublin (got ${describeValue(issue.input)})` },
      )
      .describe('IANA time zone, e.g. Europe/Dublin.'),
  })
  .superRefine((window, ctx) => {
    // A window whose end is not after its start would never open (or stay open for good): it is an
    // overnight window, and says so, or it is a mistake.
    const start = minutesOf(window.start);
    const end = minutesOf(window.end);
    if (window.overnight === true) {
      if (end >= start)
        ctx.addIssue({
          code: 'custom',
          path: ['end'],
          message: `an overnight window ends the next day, so end must be before start ${window.start} (got "${window.end}"); a window within one day has no overnight: true`,
        });
    } else if (end <= start) {
      ctx.addIssue({
        code: 'custom',
        path: ['end'],
        message: `must be after start ${window.start} (got "${window.end}"); a window that runs past midnight is written with overnight: true (it closes at end on the next day)`,
      });
    }
  })
  .describe('When the region may be deployed to, in its local time.');

export const regionSchema = z.strictObject({
  name: regionNameSchema,
  window: windowSchema.optional(),
  target: z.discriminatedUnion('kind', [localTargetSchema, codeDeployTargetSchema]),
});

export const waveInputSchema = z
  .strictObject({
    name: z.string().min(1).max(64).optional().describe('Wave name; defaults to wave-<n> (1-based).'),
    regions: z.array(z.string()).describe('Names of the regions deployed in this wave.'),
    bakeSeconds: seconds(0, LIMITS.bakeSeconds)
      .optional()
      .describe('Bake time after the wave is deployed; defaults to gate.bakeSeconds.'),
    bake: z
      .strictObject({
        min: seconds(0, LIMITS.bakeSeconds).describe('The bake ends here once the evidence is in.'),
        max: seconds(0, LIMITS.bakeSeconds).describe('Otherwise it runs to here.'),
      })
      .superRefine((bake, ctx) => {
        if (bake.min > bake.max) {
          ctx.addIssue({
            code: 'custom',
            path: ['min'],
            message: `must be at most max (${bake.max}); got ${bake.min}`,
          });
        }
      })
      .optional()
      .describe(
        'A bake that ends when the evidence is in: at min once every region deployed so far passed with at least gate.minSamples samples and no signal above its threshold, otherwise at max. Instead of bakeSeconds.',
      ),
    approval: z.boolean().default(false).describe('Wait for a release manager to promote before deploying this wave.'),
    maxParallel: int(1, ENGINE_MAX_PARALLEL)
      .optional()
      .describe(
        `At most this many of the wave's regions deploy at once; default: all of them, up to ${ENGINE_MAX_PARALLEL} (the engine's limit).`,
      ),
    newHost: z
      .boolean()
      .optional()
      .describe(
        'After the wave deploys, start one fresh instance of the new build with nothing warm and gate on it too; default: on for a wave with a bake.',
      ),
  })
  .superRefine((wave, ctx) => {
    if (wave.bake !== undefined && wave.bakeSeconds !== undefined && wave.bakeSeconds !== wave.bake.max) {
      ctx.addIssue({
        code: 'custom',
        path: ['bake'],
        message: `a wave takes bakeSeconds (a fixed bake) or bake: {min, max} (one that ends when the evidence is in; its bakeSeconds is max); got bakeSeconds ${wave.bakeSeconds} and bake {min: ${wave.bake.min}, max: ${wave.bake.max}}`,
      });
    }
  });

export const gateSchema = z
  .strictObject({
    healthPath: z
      .string()
      .regex(/^\//, { error: (issue) => `must start with "/" (got ${describeValue(issue.input)})` })
      .default('/health')
      .describe('Path probed on each region.'),
    probes: int(1, LIMITS.probes).default(5).describe('Probes per region per check.'),
    intervalSeconds: seconds(1, LIMITS.intervalSeconds).default(2).describe('Seconds between checks while baking.'),
    maxErrorRate: z.number().min(0).max(1).default(0.05).describe('Error rate above which the gate fails (0..1).'),
    minSamples: int(1, LIMITS.minSamples)
      .default(10)
      .describe('Fewer samples per region than this at the end of the bake is Inconclusive.'),
    probeTimeoutMs: ms(1).default(1000).describe('Timeout of one probe.'),
    probeSpacingMs: ms(0).default(50).describe('Gap between two probes of one check.'),
    bakeSeconds: seconds(0, LIMITS.bakeSeconds).default(10).describe('Default bake time of a wave.'),
    onInconclusive: z
      .enum(['rollback', 'pause'])
      .default('rollback')
      .describe('What an Inconclusive gate does: roll back, or pause until a human promotes or aborts.'),
  })
  .describe('Health gate settings.');

export const deploySchema = z
  .strictObject({
    readinessTimeoutSeconds: seconds(1, LIMITS.readinessTimeoutSeconds)
      .default(20)
      .describe('How long a process may take to answer after a restart.'),
    pollSeconds: seconds(1, LIMITS.pollSeconds)
      .default(1)
      .describe("A deployment's wait re-checks it after this long, for an event that never came."),
    maxPollSeconds: seconds(1, LIMITS.pollSeconds).default(30).describe('The re-check interval doubles up to this.'),
  })
  .describe('Deployment settings.');

export const policySchema = z
  .strictObject({
    allowMultiRegionCanary: z.boolean().default(false).describe('Allow a first wave of more than one region.'),
  })
  .describe('Release policy.');

export const awsBackendSchema = z
  .strictObject({
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, {
        error: (issue) => `must be an AWS region like "eu-west-1" (got ${describeValue(issue.input)})`,
      })
      .describe('Region of the Flotilla stack.'),
    stateMachineArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:.+$/, {
        error: (issue) => `must be a Step Functions state machine ARN (got ${describeValue(issue.input)})`,
      })
      .describe('The release state machine (an output of osls deploy).'),
    table: z.string().min(3).max(255).describe('The ledger table (an output of osls deploy).'),
  })
  .describe('Where the deployed Flotilla stack is, for --backend aws.');

const slackUserIds = z
  .array(
    z.string().regex(/^(\*|[UW][A-Z0-9]{2,20})$/, {
      error: (issue) =>
        `must be a Slack user id like "U0123ABCD" (or '*' for anyone in the workspace) (got ${describeValue(issue.input)})`,
    }),
  )
  .max(1000);

export const slackSchema = z
  .strictObject({
    teamId: z
      .string()
      .regex(/^[TE][A-Z0-9]{2,20}$/, {
        error: (issue) => `must be a Slack workspace id like "T0123ABCD" (got ${describeValue(issue.input)})`,
      })
      .optional()
      .describe('The Slack workspace (team) whose clicks count; without it every Slack click is refused.'),
    allow: z
      .strictObject(
        Object.fromEntries(
          [...SLACK_VERBS, ANYONE].map((verb) => [
            verb,
            slackUserIds
              .optional()
              .describe(verb === ANYONE ? 'User ids who may use every verb.' : `User ids who may ${verb}.`),
          ]),
        ) as Record<(typeof SLACK_VERBS)[number] | typeof ANYONE, z.ZodOptional<typeof slackUserIds>>,
      )
      .default({})
      .describe("Slack user ids allowed per verb ('*' as a key: every verb; '*' as an id: anyone in the workspace)."),
  })
  .describe('Who may steer releases from the Slack buttons (refused to everyone unless set).');

/** What a user writes in `flotilla.yml`. */
export const emergencySchema = z
  .strictObject({
    minBakeSeconds: seconds(0, LIMITS.bakeSeconds)
      .default(EMERGENCY_MIN_BAKE_SECONDS)
      .describe('Every wave of an emergency release bakes this long (or its own bake, if shorter).'),
  })
  .describe('The break-glass lane: release --emergency, approved by a second person.');

export const flotillaInputSchema = z
  .strictObject({
    service: serviceNameSchema,
    regions: z.array(regionSchema).min(1).describe('The regions the service runs in.'),
    waves: z.array(waveInputSchema).describe('Waves, in order; every region must be in exactly one wave.'),
    gate: gateSchema.prefault({}),
    deploy: deploySchema.prefault({}),
    policy: policySchema.prefault({}),
    aws: awsBackendSchema.optional(),
    slack: slackSchema.optional(),
    emergency: emergencySchema.optional(),
  })
  .describe('Flotilla release configuration (flotilla.yml).');

export type FlotillaInput = z.input<typeof flotillaInputSchema>;

/** Parses `flotilla.yml` data into `FlotillaConfig`, defaults applied. Cross-field rules live in `policy.ts`. */
export const flotillaConfigSchema = flotillaInputSchema.transform(
  (input): FlotillaConfig => ({
    ...input,
    waves: input.waves.map((wave, index) => ({
      name: wave.name ?? defaultWaveName(index),
      regions: wave.regions,
      bakeSeconds: wave.bake?.max ?? wave.bakeSeconds ?? input.gate.bakeSeconds,
      ...(wave.bake === undefined ? {} : { bake: wave.bake }),
      approval: wave.approval,
      ...(wave.maxParallel === undefined ? {} : { maxParallel: wave.maxParallel }),
      ...(wave.newHost === undefined ? {} : { newHost: wave.newHost }),
    })),
  }),
);

export function defaultWaveName(index: number): string {
  return `wave-${index + 1}`;
}

/** The keys an object in the input accepts at `path` (for "did you mean" on unknown keys); [] if none. */
export function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType | undefined = flotillaInputSchema;
  for (let index = 0; index <= path.length && schema !== undefined; ) {
    if (
      schema instanceof z.ZodOptional ||
      schema instanceof z.ZodDefault ||
      schema instanceof z.ZodPrefault ||
      schema instanceof z.ZodNullable
    ) {
      schema = schema.unwrap() as z.ZodType;
      continue;
    }
    if (schema instanceof z.ZodPipe) {
      schema = schema.in as z.ZodType;
      continue;
    }
    if (schema instanceof z.ZodUnion) {
      // A region target is one of several kinds: offer the keys of every kind (or follow the
      // path into the first kind that has the next key).
      const options: readonly z.ZodType[] = schema.options as readonly z.ZodType[];
      const objects: z.ZodObject[] = options.filter((o): o is z.ZodObject => o instanceof z.ZodObject);
      if (index === path.length) return [...new Set(objects.flatMap((o): string[] => Object.keys(o.shape)))];
      const segment = path[index];
      schema = objects.find((o) => typeof segment === 'string' && segment in o.shape);
      continue;
    }
    if (index === path.length) break;
    const segment = path[index];
    index += 1;
    if (schema instanceof z.ZodObject && typeof segment === 'string') {
      schema = schema.shape[segment] as z.ZodType | undefined;
    } else if (schema instanceof z.ZodArray && typeof segment === 'number') {
      schema = schema.element as z.ZodType;
    } else if (schema instanceof z.ZodRecord) {
      schema = schema.valueType as z.ZodType;
    } else {
      schema = undefined;
    }
  }
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

// Compile-time guards: the parts of the schema produce exactly the shapes in types.ts.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Expect<T extends true> = T;
export type SchemaMatchesTypes = [
  Expect<Same<z.output<typeof faultSchema>, FaultSpec>>,
  Expect<Same<z.output<typeof localTargetSchema>, LocalTarget>>,
  Expect<Same<z.output<typeof codeDeployTargetSchema>, CodeDeployTarget>>,
  Expect<Same<z.output<typeof awsBackendSchema>, AwsBackendSettings>>,
  Expect<Same<z.output<typeof regionSchema>, RegionConfig>>,
  Expect<Same<z.output<typeof gateSchema>, GateSettings>>,
  Expect<Same<z.output<typeof deploySchema>, DeploySettings>>,
  Expect<Same<z.output<typeof policySchema>, PolicySettings>>,
  Expect<Same<z.output<typeof slackSchema>, SlackSettings>>,
  Expect<Same<z.output<typeof flotillaConfigSchema>, FlotillaConfig>>,
];
