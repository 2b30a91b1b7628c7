/**
 * Property-style tests: many random valid configs always load; the same configs with exactly one random
 * mistake always yield exactly one problem, at the mistake's path. Seeded, so failures reproduce.
 */

import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../config/load.ts';
import { type Data, deleteAt, getAt, problemsOf, pushAt, region, setAt } from './fixtures.ts';

/** mulberry32: a small seeded PRNG. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const chance = (p = 0.5) => next() < p;
  function pick<T>(items: readonly T[]): T {
    const item = items[int(0, items.length - 1)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
  function shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = int(0, i);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
  return { int, chance, pick, shuffle };
}
type Random = ReturnType<typeof random>;

const REGION_POOL = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-central-1',
  'eu-north-1',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-south-1',
  'sa-east-1',
  'ca-central-1',
];
const FAULT_KINDS = ['deploy-fail', 'slow-start', 'crash-after-start', 'unhealthy', 'flapping', 'silent'];

interface Generated {
  data: Data;
  regionCount: number;
  waveCount: number;
  /** Wave names after defaults. */
  waveNames: string[];
  /** Names and ports not used by the config, for mistakes that add a region. */
  spareName: string;
  sparePort: number;
  probes: number;
}

/** A random valid config: 2-8 regions, a one-region canary, the rest split into 1+ waves; bakes reach minSamples. */
function generate(r: Random): Generated {
  const regionCount = r.int(2, 8);
  const names = r.shuffle(REGION_POOL);
  const ports = r.shuffle(Array.from({ length: 100 }, (_, i) => 7000 + i));
  const regions = Array.from({ length: regionCount }, (_, i) => {
    const entry = region(names[i] as string, ports[i] as number);
    const target = entry.target as Data;
    if (r.chance(0.3)) target.env = { LOCALE: r.pick(['en-US', 'de-DE', 'ja-JP']) };
    if (r.chance(0.2)) {
      const fault: Data = { kind: r.pick(FAULT_KINDS) };
      if (r.chance()) fault.on = r.pick(['deploy', 'rollback', 'start', 'always']);
      if (r.chance()) fault.ms = r.int(0, 500);
      if (r.chance(0.3)) fault.version = `1.${r.int(0, 9)}.0`;
      target.faults = [fault];
    }
    return entry;
  });

  const gate: Data = {};
  const probes = r.chance(0.7) ? r.int(1, 5) : 5;
  if (probes !== 5 || r.chance()) gate.probes = probes;
  const interval = r.chance(0.7) ? r.int(1, 3) : 2;
  if (interval !== 2 || r.chance()) gate.intervalSeconds = interval;
  // Every bake is at least two intervals: three checks, 3 × probes samples >= minSamples.
  gate.minSamples = r.int(probes + 1, 3 * probes);
  if (r.chance()) gate.bakeSeconds = r.int(2 * interval, 20);
  if (r.chance(0.3)) gate.maxErrorRate = r.int(0, 100) / 100;
  if (r.chance(0.3)) gate.healthPath = '/healthz';

  // Split regions 1..n-1 into consecutive groups after the canary.
  const rest = names.slice(1, regionCount);
  const groups: string[][] = [[names[0] as string]];
  let current: string[] = [];
  for (const name of rest) {
    current.push(name);
    if (r.chance(0.4)) {
      groups.push(current);
      current = [];
    }
  }
  if (current.length > 0) groups.push(current);
  const waveNames: string[] = [];
  const waves = groups.map((group, i) => {
    const wave: Data = { regions: group };
    const named = r.chance();
    const name = named ? (i === 0 ? 'canary' : `batch-${i}`) : `wave-${i + 1}`;
    if (named) wave.name = name;
    waveNames.push(name);
    if (r.chance()) wave.bakeSeconds = r.int(2 * interval, 20);
    return wave;
  });

  const data: Data = { service: r.pick(['shop', 'cart', 'search-api']), regions, waves, gate };
  if (r.chance()) {
    const poll = r.int(1, 4);
    data.deploy = { pollSeconds: poll, maxPollSeconds: r.int(poll, 30) };
  }
  if (r.chance(0.2)) data.policy = { allowMultiRegionCanary: false };
  return {
    data,
    regionCount,
    waveCount: waves.length,
    waveNames,
    spareName: names[regionCount] as string,
    sparePort: ports[regionCount] as number,
    probes,
  };
}

interface Mistake {
  name: string;
  /** Makes the mistake; returns the path of the one problem it must cause. */
  apply: (g: Generated, r: Random) => string;
}

const MISTAKES: Mistake[] = [
  {
    name: 'unknown top-level key',
    apply: (g) => {
      g.data.colour = 'blue';
      return 'colour';
    },
  },
  {
    name: 'unknown nested key',
    apply: (g, r) => {
      const path = r.pick([
        'gate.zzz',
        `waves[${r.int(0, g.waveCount - 1)}].zzz`,
        `regions[${r.int(0, g.regionCount - 1)}].target.zzz`,
      ]);
      setAt(g.data, path, 1);
      return path;
    },
  },
  {
    name: 'negative wave bake',
    apply: (g, r) => {
      const path = `waves[${r.int(0, g.waveCount - 1)}].bakeSeconds`;
      setAt(g.data, path, -r.int(1, 100));
      return path;
    },
  },
  {
    name: 'negative gate bake',
    apply: (g) => {
      setAt(g.data, 'gate.bakeSeconds', -1);
      return 'gate.bakeSeconds';
    },
  },
  {
    name: 'misspelt region in a wave',
    apply: (g, r) => {
      const wave = r.int(0, g.waveCount - 1);
      const list = getAt(g.data, `waves[${wave}].regions`) as string[];
      const entry = r.int(0, list.length - 1);
      const name = list[entry] as string;
      list[entry] = `${name.slice(0, 1)}x${name.slice(1)}`;
      return `waves[${wave}].regions[${entry}]`;
    },
  },
  {
    name: 'region in two waves',
    apply: (g, r) => {
      const later = r.int(1, g.waveCount - 1);
      const earlier = r.int(0, later - 1);
      const name = r.pick(getAt(g.data, `waves[${earlier}].regions`) as string[]);
      const list = getAt(g.data, `waves[${later}].regions`) as string[];
      list.push(name);
      return `waves[${later}].regions[${list.length - 1}]`;
    },
  },
  {
    name: 'region twice in one wave',
    apply: (g, r) => {
      const wave = r.int(0, g.waveCount - 1);
      const list = getAt(g.data, `waves[${wave}].regions`) as string[];
      list.push(r.pick(list));
      return `waves[${wave}].regions[${list.length - 1}]`;
    },
  },
  {
    name: 'empty wave',
    apply: (g) => {
      pushAt(g.data, 'waves', { regions: [] });
      return `waves[${g.waveCount}].regions`;
    },
  },
  {
    name: 'wave regions not a list',
    apply: (g, r) => {
      const path = `waves[${r.int(0, g.waveCount - 1)}].regions`;
      setAt(g.data, path, 'us-east-1');
      return path;
    },
  },
  {
    name: 'no waves',
    apply: (g) => {
      g.data.waves = [];
      return 'waves';
    },
  },
  {
    name: 'region in no wave',
    apply: (g) => {
      pushAt(g.data, 'regions', region(g.spareName, g.sparePort));
      return `regions[${g.regionCount}].name`;
    },
  },
  {
    name: 'duplicate region name',
    apply: (g, r) => {
      const name = getAt(g.data, `regions[${r.int(0, g.regionCount - 1)}].name`);
      pushAt(g.data, 'regions', region(name as string, g.sparePort));
      return `regions[${g.regionCount}].name`;
    },
  },
  {
    name: 'malformed region name',
    apply: (g, r) => {
      const path = `regions[${r.int(0, g.regionCount - 1)}].name`;
      setAt(g.data, path, (getAt(g.data, path) as string).toUpperCase());
      return path;
    },
  },
  {
    name: 'duplicate port',
    apply: (g, r) => {
      const later = r.int(1, g.regionCount - 1);
      const earlier = r.int(0, later - 1);
      setAt(g.data, `regions[${later}].target.port`, getAt(g.data, `regions[${earlier}].target.port`));
      return `regions[${later}].target.port`;
    },
  },
  {
    name: 'port out of range',
    apply: (g, r) => {
      const path = `regions[${r.int(0, g.regionCount - 1)}].target.port`;
      setAt(g.data, path, r.pick([0, 80, 1023, 65536, 7000.5, 'http']));
      return path;
    },
  },
  {
    name: 'duplicate wave name',
    apply: (g, r) => {
      const later = r.int(1, g.waveCount - 1);
      const earlier = r.int(0, later - 1);
      setAt(g.data, `waves[${later}].name`, g.waveNames[earlier]);
      return `waves[${later}].name`;
    },
  },
  {
    name: 'multi-region canary',
    apply: (g) => {
      pushAt(g.data, 'regions', region(g.spareName, g.sparePort));
      pushAt(g.data, 'waves[0].regions', g.spareName);
      return 'waves[0].regions';
    },
  },
  {
    name: 'maxPollSeconds below pollSeconds',
    apply: (g, r) => {
      const poll = r.int(2, 10);
      g.data.deploy = { pollSeconds: poll, maxPollSeconds: r.int(1, poll - 1) };
      return 'deploy.maxPollSeconds';
    },
  },
  {
    name: 'bake too short for minSamples',
    apply: (g, r) => {
      // minSamples > probes, and a 0s bake is one check: probes samples.
      const path = `waves[${r.int(0, g.waveCount - 1)}].bakeSeconds`;
      setAt(g.data, path, 0);
      return path;
    },
  },
  {
    name: 'missing service',
    apply: (g) => {
      deleteAt(g.data, 'service');
      return 'service';
    },
  },
  {
    name: 'error rate above 1',
    apply: (g) => {
      setAt(g.data, 'gate.maxErrorRate', 1.5);
      return 'gate.maxErrorRate';
    },
  },
  {
    name: 'unknown fault kind',
    apply: (g, r) => {
      const path = `regions[${r.int(0, g.regionCount - 1)}].target.faults`;
      setAt(g.data, path, [{ kind: 'meteor' }]);
      return `${path}[0].kind`;
    },
  },
];

describe('random configs', () => {
  it('always loads a random valid config, with every region in exactly one wave', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const g = generate(random(seed));
      const text = stringify(g.data);
      const result = parseConfig(text);
      expect(problemsOf(result), `seed ${seed}:\n${text}`).toEqual([]);
      if (!result.ok) continue;
      const inWaves = result.config.waves.flatMap((wave) => wave.regions).sort();
      expect(inWaves).toEqual(result.config.regions.map((r) => r.name).sort());
      expect(result.config.waves.map((wave) => wave.name)).toEqual(g.waveNames);
      expect(result.config.waves.every((wave) => Number.isInteger(wave.bakeSeconds))).toBe(true);
    }
  });

  it('reports exactly one problem, at the right path, for one random mistake', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 20 * MISTAKES.length; seed++) {
      const r = random(seed * 7919);
      const g = generate(r);
      const mistake = MISTAKES[seed % MISTAKES.length] as Mistake;
      const path = mistake.apply(g, r);
      const text = stringify(g.data);
      const problems = problemsOf(parseConfig(text));
      expect(
        problems.map((problem) => problem.path),
        `seed ${seed}, ${mistake.name}:\n${text}\n${JSON.stringify(problems, null, 2)}`,
      ).toEqual([path]);
      seen.add(mistake.name);
    }
    expect(seen.size).toBe(MISTAKES.length);
  });
});
