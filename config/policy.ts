/**
 * Release policy: the cross-field rules a config must follow after the schema (`schema.ts`) accepts its shape.
 *
 * The rules run on a `PolicyView`, a forgiving view of the config in which anything unknown is `undefined`.
 * `checkPolicy` builds it from a validated `FlotillaConfig`; the loader also builds one from raw YAML data
 * that failed the schema, so that one run reports every mistake. A rule whose inputs are unknown is skipped
 * (the schema has already reported why they are unknown).
 */
import type { ConfigProblem, FlotillaConfig } from './types.ts';

export interface PolicyRegionView {
  /** Undefined when the region has no string name. */
  name?: string | undefined;
  /** Undefined when missing or invalid. */
  port?: number | undefined;
}

export interface PolicyWaveView {
  /** The wave's name, its default when none is written; undefined when invalid. */
  name?: string | undefined;
  /** Region names as written; an entry that is not a string is undefined. Undefined when not a list. */
  regions?: Array<string | undefined> | undefined;
  /** The wave's effective bake time; undefined when invalid. */
  bakeSeconds?: number | undefined;
  /** True when bakeSeconds came from gate.bakeSeconds rather than the wave itself. */
  bakeDefaulted: boolean;
}

export interface PolicyView {
  /** Undefined when `regions` is not a list. */
  regions?: PolicyRegionView[] | undefined;
  /** Undefined when `waves` is not a list. */
  waves?: PolicyWaveView[] | undefined;
  gate: { probes?: number; intervalSeconds?: number; minSamples?: number; bakeSeconds?: number };
  deploy: { pollSeconds?: number; maxPollSeconds?: number };
  allowMultiRegionCanary?: boolean | undefined;
}

/** Checks the rules the schema cannot express. Problems come in path order. */
export function checkPolicy(config: FlotillaConfig): ConfigProblem[] {
  return checkPolicyView(policyViewOf(config)).sort(compareProblems);
}

/**
 * The policy view of a validated config. `bakeDefaulted[i]` says wave i took its bake time from gate.bakeSeconds
 * (the loader knows; without it every wave's bake time counts as written on the wave).
 */
export function policyViewOf(config: FlotillaConfig, bakeDefaulted: readonly boolean[] = []): PolicyView {
  return {
    regions: config.regions.map((region) => ({
      name: region.name,
      ...(region.target.kind === 'local-process' ? { port: region.target.port } : {}),
    })),
    waves: config.waves.map((wave, index) => ({
      name: wave.name,
      regions: wave.regions,
      bakeSeconds: wave.bakeSeconds,
      bakeDefaulted: bakeDefaulted[index] ?? false,
    })),
    gate: config.gate,
    deploy: config.deploy,
    allowMultiRegionCanary: config.policy.allowMultiRegionCanary,
  };
}

const EVERY_REGION_ONE_WAVE = 'every region must be in exactly one wave';

/** Runs every rule whose inputs are known. Problems come grouped by rule. */
export function checkPolicyView(view: PolicyView): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const report = (path: string, message: string) => problems.push({ path, message });
  const regions = view.regions;
  const waves = view.waves;

  // Regions: unique names and ports.
  if (regions !== undefined) {
    const firstByName = new Map<string, number>();
    const firstByPort = new Map<number, number>();
    regions.forEach((region, index) => {
      if (region.name !== undefined) {
        const first = firstByName.get(region.name);
        if (first === undefined) firstByName.set(region.name, index);
        else report(`regions[${index}].name`, `duplicate region name "${region.name}" (first at regions[${first}])`);
      }
      if (region.port !== undefined) {
        const first = firstByPort.get(region.port);
        if (first === undefined) firstByPort.set(region.port, index);
        else {
          const owner = regions[first]?.name;
          const who = owner === undefined ? `regions[${first}]` : `region "${owner}" (regions[${first}])`;
          report(`regions[${index}].target.port`, `port ${region.port} is already used by ${who}`);
        }
      }
    });
  }

  if (waves === undefined) {
    checkDeploy(view, report);
    return problems;
  }
  if (waves.length === 0) report('waves', `no waves: ${EVERY_REGION_ONE_WAVE}`);

  // Regions named by waves: known, listed once, in one wave only.
  const regionNames = regions?.every((region) => region.name !== undefined)
    ? regions.flatMap((region) => (region.name === undefined ? [] : [region.name]))
    : undefined;
  const known = regionNames === undefined ? undefined : new Set(regionNames);
  /** Region -> index of the first wave naming it. */
  const waveOf = new Map<string, number>();
  /** Regions suggested for a misspelt name: not reported again as "in no wave". */
  const suggested = new Set<string>();
  waves.forEach((wave, waveIndex) => {
    if (wave.regions === undefined) return;
    if (wave.regions.length === 0) {
      report(`waves[${waveIndex}].regions`, `${waveLabel(wave, waveIndex)} has no regions`);
      return;
    }
    const seenHere = new Set<string>();
    wave.regions.forEach((name, entryIndex) => {
      if (name === undefined) return;
      const path = `waves[${waveIndex}].regions[${entryIndex}]`;
      if (known !== undefined && regionNames !== undefined && !known.has(name)) {
        const candidates = closestWords(name, regionNames);
        for (const candidate of candidates) suggested.add(candidate);
        report(path, `unknown region "${name}"${didYouMean(candidates)}`);
        return;
      }
      if (seenHere.has(name)) {
        report(path, `region "${name}" is listed twice in ${waveLabel(wave, waveIndex)}`);
        return;
      }
      seenHere.add(name);
      const firstWave = waveOf.get(name);
      if (firstWave === undefined) waveOf.set(name, waveIndex);
      else {
        const first = waves[firstWave];
        const label = first === undefined ? `waves[${firstWave}]` : waveLabel(first, firstWave);
        report(path, `region "${name}" is already in ${label}; ${EVERY_REGION_ONE_WAVE}`);
      }
    });
  });

  // The canary: one region unless the policy allows more.
  const canary = waves[0];
  if (canary?.regions !== undefined && view.allowMultiRegionCanary === false) {
    const distinct = new Set(canary.regions.filter((name) => name !== undefined));
    if (distinct.size > 1) {
      report(
        'waves[0].regions',
        `the first wave (the canary, ${waveLabel(canary, 0)}) has ${distinct.size} regions; ` +
          'it must have exactly one unless policy.allowMultiRegionCanary is true',
      );
    }
  }

  // Unique wave names.
  const firstWaveByName = new Map<string, number>();
  waves.forEach((wave, index) => {
    if (wave.name === undefined) return;
    const first = firstWaveByName.get(wave.name);
    if (first === undefined) firstWaveByName.set(wave.name, index);
    else report(`waves[${index}].name`, `duplicate wave name "${wave.name}" (first at waves[${first}])`);
  });

  // Every region in some wave (only decidable when every wave's list is known).
  if (regions !== undefined && waves.length > 0 && waves.every((wave) => wave.regions !== undefined)) {
    const reported = new Set<string>();
    regions.forEach((region, index) => {
      const name = region.name;
      if (name === undefined || waveOf.has(name) || suggested.has(name) || reported.has(name)) return;
      reported.add(name);
      report(`regions[${index}].name`, `region "${name}" is in no wave; ${EVERY_REGION_ONE_WAVE}`);
    });
  }

  checkDeploy(view, report);
  checkMinSamples(view, waves, report);
  return problems;
}

function checkDeploy(view: PolicyView, report: (path: string, message: string) => void): void {
  const { pollSeconds, maxPollSeconds } = view.deploy;
  if (pollSeconds !== undefined && maxPollSeconds !== undefined && maxPollSeconds < pollSeconds) {
    report('deploy.maxPollSeconds', `must be >= deploy.pollSeconds, which is ${pollSeconds} (got ${maxPollSeconds})`);
  }
}

/**
 * A region in wave w gets at most probes * (1 + floor(bake_w / interval)) samples: one check when the wave is
 * deployed, then one per interval while baking. A gate.minSamples above that can never pass, only be Inconclusive.
 */
function checkMinSamples(
  view: PolicyView,
  waves: PolicyWaveView[],
  report: (path: string, message: string) => void,
): void {
  const { probes, intervalSeconds: interval, minSamples } = view.gate;
  if (probes === undefined || interval === undefined || minSamples === undefined) return;
  const available = (bake: number) => probes * (1 + Math.floor(bake / interval));
  const formula = (bake: number) => `${probes} × (1 + floor(${bake} / ${interval})) = ${available(bake)}`;
  // The shortest bake that reaches minSamples: (ceil(minSamples / probes) - 1) whole intervals.
  const neededBake = (Math.ceil(minSamples / probes) - 1) * interval;

  /** Names (or paths) of the failing waves whose bake time is gate.bakeSeconds. */
  const defaulted: string[] = [];
  waves.forEach((wave, index) => {
    const bake = wave.bakeSeconds;
    if (bake === undefined || wave.regions === undefined || wave.regions.length === 0) return;
    if (available(bake) >= minSamples) return;
    if (wave.bakeDefaulted) {
      defaulted.push(wave.name === undefined ? `waves[${index}]` : `"${wave.name}"`);
      return;
    }
    report(
      `waves[${index}].bakeSeconds`,
      `${waveLabel(wave, index)} can never reach gate.minSamples (${minSamples}): a ${bake}s bake gives at most ` +
        `${formula(bake)} samples per region; bake at least ${neededBake}s or lower gate.minSamples`,
    );
  });
  const gateBake = view.gate.bakeSeconds;
  if (defaulted.length > 0 && gateBake !== undefined) {
    report(
      'gate.minSamples',
      `${minSamples} can never be reached in ${defaulted.length === 1 ? 'wave' : 'waves'} ${defaulted.join(', ')} ` +
        `(bake ${gateBake}s from gate.bakeSeconds): ` +
        `at most ${formula(gateBake)} samples per region; raise gate.bakeSeconds to at least ${neededBake} ` +
        `or lower gate.minSamples to ${available(gateBake)}`,
    );
  }
}

function waveLabel(wave: PolicyWaveView, index: number): string {
  return wave.name === undefined ? `waves[${index}]` : `wave "${wave.name}"`;
}

// ---------------------------------------------------------------------------------------------------------------
// Shared helpers: suggestions and paths.

/** Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [];
    for (let j = 0; j <= b.length; j++) {
      if (i === 0 || j === 0) {
        row.push(i + j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const above = rows[i - 1] ?? [];
      let best = Math.min((above[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (above[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}

/**
 * The candidates nearest to `word`, if within edit distance 2 (1 for words of up to 5 characters,
 * so that `on` does not suggest `ms`). Ties all come back, in candidate order.
 */
export function closestWords(word: string, candidates: readonly string[]): string[] {
  const limit = word.length <= 5 ? 1 : 2;
  let best = limit;
  let found: string[] = [];
  for (const candidate of new Set(candidates)) {
    const distance = editDistance(word, candidate);
    if (distance === 0 || distance > best) continue;
    if (distance < best) {
      best = distance;
      found = [];
    }
    found.push(candidate);
  }
  return found;
}

/** ` (did you mean "a"?)`, ` (did you mean "a" or "b"?)` or `` for no candidates. */
export function didYouMean(candidates: readonly string[]): string {
  if (candidates.length === 0) return '';
  const quoted = candidates.slice(0, 3).map((candidate) => `"${candidate}"`);
  const last = quoted.pop();
  return ` (did you mean ${quoted.length > 0 ? `${quoted.join(', ')} or ${last}` : last}?)`;
}

export type PathSegment = string | number;

/** `["waves", 1, "regions", 0]` -> `waves[1].regions[0]`; the empty path is `(root)`. */
export function formatPath(segments: readonly PropertyKey[]): string {
  if (segments.length === 0) return '(root)';
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      if (/^[A-Za-z_$][\w$-]*$/.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** The inverse of `formatPath`. */
export function parsePath(path: string): PathSegment[] {
  if (path === '(root)') return [];
  const segments: PathSegment[] = [];
  for (const match of path.matchAll(/\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([^.[\]]+)/g)) {
    if (match[1] !== undefined) segments.push(Number(match[1]));
    else if (match[2] !== undefined) segments.push(String(JSON.parse(match[2])));
    else if (match[3] !== undefined) segments.push(match[3]);
  }
  return segments;
}

const KEY_ORDER = [
  'service',
  'name',
  'regions',
  'target',
  'kind',
  'port',
  'command',
  'env',
  'faults',
  'on',
  'version',
  'ms',
  'waves',
  'bakeSeconds',
  'gate',
  'deploy',
  'policy',
];

/** Orders paths roughly as a config file is written: by the schema's key order, then by index. */
export function comparePaths(a: string, b: string): number {
  const left = parsePath(a);
  const right = parsePath(b);
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const x = left[i] as PathSegment;
    const y = right[i] as PathSegment;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    const rank = (segment: PathSegment) => {
      const at = typeof segment === 'string' ? KEY_ORDER.indexOf(segment) : -1;
      return at === -1 ? KEY_ORDER.length : at;
    };
    return rank(x) - rank(y) || String(x).localeCompare(String(y));
  }
  return left.length - right.length;
}

function compareProblems(a: ConfigProblem, b: ConfigProblem): number {
  return comparePaths(a.path, b.path);
}

/**
 * The regions the chosen backend cannot run, each at its `target.kind`: the local backend runs
 * `local-process` regions only, so a `codedeploy` region needs `--backend aws`. Checked before
 * anything deploys (a local release would otherwise deploy the canary, then fail the next wave).
 */
export function backendProblems(config: FlotillaConfig, backend: 'local' | 'aws'): ConfigProblem[] {
  if (backend !== 'local') return [];
  return config.regions.flatMap((region, index) =>
    region.target.kind === 'local-process'
      ? []
      : [
          {
            path: `regions[${index}].target.kind`,
            message: `region "${region.name}" is deployed by ${region.target.kind}, which the local backend cannot run: use --backend aws (or FLOTILLA_BACKEND=aws)`,
          },
        ],
  );
}
