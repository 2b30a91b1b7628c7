/**
 * Validating release-config data that is already parsed (from YAML, JSON, or a state machine's
 * input): schema (`schema.ts`) then policy (`policy.ts`), every problem at once with its path.
 * No YAML parser here, so the Lambda that re-validates a release's config bundles none.
 */
import * as z from 'zod';
import {
  checkPolicyView,
  closestWords,
  comparePaths,
  didYouMean,
  formatPath,
  type PolicyView,
  policyViewOf,
} from './policy.ts';
import {
  defaultWaveName,
  deploySchema,
  describeValue,
  flotillaConfigSchema,
  flotillaInputSchema,
  gateSchema,
  knownKeysAt,
  policySchema,
  portSchema,
  regionNameSchema,
  waveInputSchema,
} from './schema.ts';
import type { ConfigProblem, FlotillaConfig } from './types.ts';

export type ConfigResult = { ok: true; config: FlotillaConfig } | { ok: false; problems: ConfigProblem[] };

/**
 * Validates already-parsed data (what a YAML or JSON document holds): the schema, then the policy.
 * When the schema fails, the policy rules still run on whatever parts of the data are usable,
 * so one call reports every problem. Problems come in path order.
 */
export function validateConfig(data: unknown): ConfigResult {
  if (data === null || data === undefined) {
    return { ok: false, problems: [{ path: '(root)', message: 'the config is empty' }] };
  }
  const parsed = flotillaConfigSchema.safeParse(data, { reportInput: true, error: issueMessage });
  if (parsed.success) {
    const problems = checkPolicyView(policyViewOf(parsed.data, bakeDefaultedOf(data)));
    return problems.length === 0
      ? { ok: true, config: parsed.data }
      : { ok: false, problems: problems.sort((a, b) => comparePaths(a.path, b.path)) };
  }
  const problems = parsed.error.issues.flatMap(issueProblems);
  const seen = new Set(problems.map((problem) => `${problem.path}\n${problem.message}`));
  for (const problem of checkPolicyView(rawPolicyView(data))) {
    const key = `${problem.path}\n${problem.message}`;
    if (!seen.has(key)) problems.push(problem);
    seen.add(key);
  }
  return { ok: false, problems: problems.sort((a, b) => comparePaths(a.path, b.path)) };
}

/** One line per problem: `<path>: <message>`. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((problem) => `${problem.path}: ${problem.message}`).join('\n');
}

/** JSON Schema (draft 2020-12) of what may be written in `flotilla.yml`, for editors. */
export function configJsonSchema(): Record<string, unknown> {
  return { title: 'Flotilla release configuration', ...z.toJSONSchema(flotillaInputSchema, { io: 'input' }) };
}

// ---------------------------------------------------------------------------------------------------------------
// Schema issues -> problems

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping (key: value pairs)',
  record: 'a mapping (key: value pairs)',
};

/** Messages for schema issues; checks with their own message (in schema.ts) keep it. */
function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  const input = issue.input;
  const got = `(got ${describeValue(input)})`;
  switch (issue.code) {
    case 'invalid_type': {
      if (input === undefined) return 'is required';
      if (issue.expected === 'int' && typeof input === 'number') return `must be a whole number ${got}`;
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      const hint = issue.expected === 'string' && typeof input !== 'object' ? '; quote it to make it a string' : '';
      return `must be ${expected} ${got}${hint}`;
    }
    case 'too_small': {
      if (issue.origin === 'number' || issue.origin === 'int') {
        return `must be ${issue.inclusive === false ? '>' : '>='} ${issue.minimum} ${got}`;
      }
      const unit = issue.origin === 'string' ? 'character' : 'item';
      if (Number(issue.minimum) === 1) return 'must not be empty';
      return `must have at least ${issue.minimum} ${unit}s`;
    }
    case 'too_big': {
      if (issue.origin === 'number' || issue.origin === 'int') {
        return `must be ${issue.inclusive === false ? '<' : '<='} ${issue.maximum} ${got}`;
      }
      const unit = issue.origin === 'string' ? 'character' : 'item';
      return `must have at most ${issue.maximum} ${unit}s`;
    }
    case 'invalid_value': {
      if (input === undefined) return 'is required';
      const values = issue.values.map((value) => JSON.stringify(value));
      const strings = issue.values.filter((value): value is string => typeof value === 'string');
      const hint = typeof input === 'string' ? didYouMean(closestWords(input, strings)) : '';
      const expected = values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(', ')}`;
      return `${expected} ${got}${hint}`;
    }
    case 'invalid_union': {
      // A discriminated union (a region target's `kind`): say which kinds exist.
      const { options, discriminator } = issue as { options?: unknown[]; discriminator?: string };
      if (!options || discriminator === undefined) return undefined;
      const value = asRecord(input)?.[discriminator] ?? (asRecord(input) ? undefined : input);
      if (value === undefined) return 'is required';
      const strings = options.filter((option): option is string => typeof option === 'string');
      const hint = typeof value === 'string' ? didYouMean(closestWords(value, strings)) : '';
      return `must be one of ${options.map((o) => JSON.stringify(o)).join(', ')} (got ${describeValue(value)})${hint}`;
    }
    case 'invalid_key': {
      // A record key its schema refuses (an env name): that schema's own message.
      const inner = (issue as { issues?: { message?: string }[] }).issues?.[0]?.message;
      return inner ?? `is not a valid key (got ${describeValue(input)})`;
    }
    case 'invalid_format':
      return issue.format === 'regex' && issue.pattern !== undefined ? `must match ${issue.pattern} ${got}` : undefined;
    default:
      return undefined;
  }
}

/** One problem per issue, except an unknown-keys issue: one problem per key, at the key's own path. */
function issueProblems(issue: z.core.$ZodIssue): ConfigProblem[] {
  if (issue.code !== 'unrecognized_keys') return [{ path: formatPath(issue.path), message: issue.message }];
  const written = new Set(Object.keys(issue.input ?? {}));
  const candidates = knownKeysAt(issue.path).filter((key) => !written.has(key));
  return issue.keys.map((key) => ({
    path: formatPath([...issue.path, key]),
    message: `unknown key${didYouMean(closestWords(key, candidates))}`,
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Policy on data that failed the schema

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The value if `schema` accepts it (with its default for undefined), else undefined. */
function valid<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
  const result = schema.safeParse(value);
  return result.success ? result.data : undefined;
}

/** Which waves take their bake time from gate.bakeSeconds. */
function bakeDefaultedOf(data: unknown): boolean[] {
  const waves = asRecord(data)?.waves;
  return Array.isArray(waves)
    ? waves.map((wave) => asRecord(wave)?.bakeSeconds === undefined && asRecord(wave)?.bake === undefined)
    : [];
}

/**
 * A policy view of data that failed the schema. A field counts only when its own schema accepts it, so one
 * mistake is not reported twice (a malformed region name leaves the region unnamed, which turns off the
 * "unknown region" rule rather than flagging every wave that names the region correctly).
 */
function rawPolicyView(data: unknown): PolicyView {
  const root = asRecord(data);
  if (root === undefined) return { gate: {}, deploy: {} };
  const gateData = root.gate === undefined ? {} : asRecord(root.gate);
  const deployData = root.deploy === undefined ? {} : asRecord(root.deploy);
  const policyData = root.policy === undefined ? {} : asRecord(root.policy);
  const gateShape = gateSchema.shape;
  const gate = {
    probes: gateData && valid(gateShape.probes, gateData.probes),
    intervalSeconds: gateData && valid(gateShape.intervalSeconds, gateData.intervalSeconds),
    minSamples: gateData && valid(gateShape.minSamples, gateData.minSamples),
    bakeSeconds: gateData && valid(gateShape.bakeSeconds, gateData.bakeSeconds),
  };
  const deploy = {
    pollSeconds: deployData && valid(deploySchema.shape.pollSeconds, deployData.pollSeconds),
    maxPollSeconds: deployData && valid(deploySchema.shape.maxPollSeconds, deployData.maxPollSeconds),
  };
  const regions = Array.isArray(root.regions)
    ? root.regions.map((value) => {
        const region = asRecord(value);
        return {
          name: valid(regionNameSchema, region?.name),
          port: valid(portSchema, asRecord(region?.target)?.port),
        };
      })
    : undefined;
  const waves = Array.isArray(root.waves)
    ? root.waves.map((value, index) => {
        const wave = asRecord(value);
        if (wave === undefined) return { bakeDefaulted: false };
        const name = waveInputSchema.shape.name.safeParse(wave.name);
        const adaptive = waveInputSchema.shape.bake.safeParse(wave.bake);
        const bake = waveInputSchema.shape.bakeSeconds.safeParse(
          adaptive.success && adaptive.data !== undefined ? adaptive.data.max : wave.bakeSeconds,
        );
        const bakeDefaulted = bake.success && bake.data === undefined;
        return {
          name: name.success ? (name.data ?? defaultWaveName(index)) : undefined,
          regions: Array.isArray(wave.regions)
            ? wave.regions.map((entry: unknown) => (typeof entry === 'string' ? entry : undefined))
            : undefined,
          bakeSeconds: bake.success ? (bake.data ?? gate.bakeSeconds) : undefined,
          bakeDefaulted,
        };
      })
    : undefined;
  return {
    regions,
    waves,
    gate,
    deploy,
    allowMultiRegionCanary:
      policyData && valid(policySchema.shape.allowMultiRegionCanary, policyData.allowMultiRegionCanary),
  };
}
