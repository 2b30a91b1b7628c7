import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/load.ts';
import { checkPolicy, closestWords, comparePaths, editDistance, formatPath, parsePath } from '../../config/policy.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { type Data, getAt, parseEdited, problemsOf, pushAt, region, setAt } from './fixtures.ts';

const EVERY = 'every region must be in exactly one wave';

describe('policy rules', () => {
  const cases: Array<{ rule: string; edit: (data: Data) => void; path: string; message: string }> = [
    {
      rule: 'reports a wave naming an unknown region, suggesting a close region name',
      edit: (d) => setAt(d, 'waves[1].regions[0]', 'eu-wset-1'),
      path: 'waves[1].regions[0]',
      message: 'unknown region "eu-wset-1" (did you mean "eu-west-1"?)',
    },
    {
      rule: 'reports a wave naming an unknown region without a suggestion when nothing is close',
      edit: (d) => pushAt(d, 'waves[1].regions', 'mars-1'),
      path: 'waves[1].regions[2]',
      message: 'unknown region "mars-1"',
    },
    {
      rule: 'reports a region listed in two waves at the second occurrence, naming the first wave',
      edit: (d) => pushAt(d, 'waves[2].regions', 'eu-west-1'),
      path: 'waves[2].regions[1]',
      message: `region "eu-west-1" is already in wave "wave-2"; ${EVERY}`,
    },
    {
      rule: 'reports a region listed twice in one wave',
      edit: (d) => pushAt(d, 'waves[1].regions', 'eu-west-1'),
      path: 'waves[1].regions[2]',
      message: 'region "eu-west-1" is listed twice in wave "wave-2"',
    },
    {
      rule: 'reports an empty wave',
      edit: (d) => pushAt(d, 'waves', { name: 'x', regions: [] }),
      path: 'waves[3].regions',
      message: 'wave "x" has no regions',
    },
    {
      rule: 'reports an empty unnamed wave by its default name',
      edit: (d) => pushAt(d, 'waves', { regions: [] }),
      path: 'waves[3].regions',
      message: 'wave "wave-4" has no regions',
    },
    {
      rule: 'reports a config without waves once, not once per region',
      edit: (d) => setAt(d, 'waves', []),
      path: 'waves',
      message: `no waves: ${EVERY}`,
    },
    {
      rule: 'reports a configured region that is in no wave',
      edit: (d) => pushAt(d, 'regions', region('us-west-2', 7105)),
      path: 'regions[4].name',
      message: `region "us-west-2" is in no wave; ${EVERY}`,
    },
    {
      rule: 'reports a duplicate region name at the second region',
      edit: (d) => pushAt(d, 'regions', region('eu-west-1', 7105)),
      path: 'regions[4].name',
      message: 'duplicate region name "eu-west-1" (first at regions[1])',
    },
    {
      rule: 'reports a duplicate port at the second region',
      edit: (d) => setAt(d, 'regions[2].target.port', 7101),
      path: 'regions[2].target.port',
      message: 'port 7101 is already used by region "us-east-1" (regions[0])',
    },
    {
      rule: 'reports a duplicate wave name at the second wave',
      edit: (d) => setAt(d, 'waves[2].name', 'canary'),
      path: 'waves[2].name',
      message: 'duplicate wave name "canary" (first at waves[0])',
    },
    {
      rule: 'reports a wave name that clashes with the default name of a later wave',
      edit: (d) => setAt(d, 'waves[0].name', 'wave-3'),
      path: 'waves[2].name',
      message: 'duplicate wave name "wave-3" (first at waves[0])',
    },
    {
      rule: 'reports a first wave of more than one region',
      edit: (d) => {
        pushAt(d, 'regions', region('us-west-2', 7105));
        pushAt(d, 'waves[0].regions', 'us-west-2');
      },
      path: 'waves[0].regions',
      message:
        'the first wave (the canary, wave "canary") has 2 regions; ' +
        'it must have exactly one unless policy.allowMultiRegionCanary is true',
    },
    {
      rule: 'reports maxPollSeconds below pollSeconds',
      edit: (d) => setAt(d, 'deploy', { pollSeconds: 5, maxPollSeconds: 2 }),
      path: 'deploy.maxPollSeconds',
      message: 'must be >= deploy.pollSeconds, which is 5 (got 2)',
    },
    {
      rule: 'reports maxPollSeconds below the default pollSeconds',
      edit: (d) => setAt(d, 'deploy', { pollSeconds: 31 }),
      path: 'deploy.maxPollSeconds',
      message: 'must be >= deploy.pollSeconds, which is 31 (got 30)',
    },
    {
      rule: "reports a minSamples a wave's own bake can never reach at the wave's bakeSeconds",
      // 5 probes every 2s for 4s: checks at 0, 2 and 4s, 15 samples.
      edit: (d) => setAt(d, 'gate.minSamples', 20),
      path: 'waves[2].bakeSeconds',
      message:
        'wave "wave-3" can never reach gate.minSamples (20): a 4s bake gives at most ' +
        '5 × (1 + floor(4 / 2)) = 15 samples per region; bake at least 6s or lower gate.minSamples',
    },
    {
      rule: 'reports a minSamples the default bake can never reach once, at gate.minSamples',
      edit: (d) => {
        setAt(d, 'gate.minSamples', 40);
        setAt(d, 'waves[2].bakeSeconds', 20);
      },
      path: 'gate.minSamples',
      message:
        '40 can never be reached in waves "canary", "wave-2" (bake 10s from gate.bakeSeconds): at most ' +
        '5 × (1 + floor(10 / 2)) = 30 samples per region; raise gate.bakeSeconds to at least 14 ' +
        'or lower gate.minSamples to 30',
    },
    {
      rule: 'reports a zero bake when minSamples is more than one check gives',
      edit: (d) => {
        setAt(d, 'gate', { probes: 3, minSamples: 4 });
        setAt(d, 'waves[0].bakeSeconds', 0);
      },
      path: 'waves[0].bakeSeconds',
      message:
        'wave "canary" can never reach gate.minSamples (4): a 0s bake gives at most ' +
        '3 × (1 + floor(0 / 2)) = 3 samples per region; bake at least 2s or lower gate.minSamples',
    },
  ];

  it.each(cases)('$rule', ({ edit, path, message }) => {
    expect(problemsOf(parseEdited(edit))).toEqual([{ path, message }]);
  });

  it('accepts the base config', () => {
    expect(parseEdited(() => {}).ok).toBe(true);
  });

  it('accepts a multi-region canary when the policy allows it', () => {
    const result = parseEdited((d) => {
      pushAt(d, 'regions', region('us-west-2', 7105));
      pushAt(d, 'waves[0].regions', 'us-west-2');
      setAt(d, 'policy.allowMultiRegionCanary', true);
    });
    expect(result.ok).toBe(true);
  });

  it('accepts maxPollSeconds equal to pollSeconds', () => {
    expect(parseEdited((d) => setAt(d, 'deploy', { pollSeconds: 4, maxPollSeconds: 4 })).ok).toBe(true);
  });

  it('accepts a minSamples exactly reachable in every wave', () => {
    // wave-3 bakes 4s: 5 × (1 + floor(4 / 2)) = 15.
    expect(parseEdited((d) => setAt(d, 'gate.minSamples', 15)).ok).toBe(true);
    expect(parseEdited((d) => setAt(d, 'gate.minSamples', 16)).ok).toBe(false);
  });

  it('does not hold an empty wave to minSamples', () => {
    const result = parseEdited((d) => {
      pushAt(d, 'waves', { name: 'x', regions: [], bakeSeconds: 0 });
    });
    expect(problemsOf(result)).toEqual([{ path: 'waves[3].regions', message: 'wave "x" has no regions' }]);
  });

  it('suggests every region at the same smallest distance', () => {
    const result = parseEdited((d) => {
      setAt(d, 'regions[0].name', 'us-east-1');
      pushAt(d, 'regions', region('us-east-2', 7105));
      pushAt(d, 'waves[2].regions', 'us-east-2');
      setAt(d, 'waves[1].regions[1]', 'us-east-3');
      pushAt(d, 'waves[1].regions', 'eu-central-1');
    });
    expect(problemsOf(result)).toEqual([
      { path: 'waves[1].regions[1]', message: 'unknown region "us-east-3" (did you mean "us-east-1" or "us-east-2"?)' },
    ]);
  });

  it('reports a far-off wave entry and the region it leaves out separately', () => {
    const result = parseEdited((d) => setAt(d, 'waves[2].regions[0]', 'mars-1'));
    expect(problemsOf(result)).toEqual([
      { path: 'regions[3].name', message: `region "ap-southeast-2" is in no wave; ${EVERY}` },
      { path: 'waves[2].regions[0]', message: 'unknown region "mars-1"' },
    ]);
  });

  it('reports every policy problem of one config together', () => {
    const result = parseEdited((d) => {
      setAt(d, 'regions[1].target.port', 7101);
      pushAt(d, 'waves[2].regions', 'us-east-1');
      setAt(d, 'deploy', { pollSeconds: 5, maxPollSeconds: 2 });
    });
    expect(problemsOf(result).map((problem) => problem.path)).toEqual([
      'regions[1].target.port',
      'waves[2].regions[1]',
      'deploy.maxPollSeconds',
    ]);
  });
});

describe('checkPolicy on a validated config', () => {
  function validConfig(edit: (data: Data) => void = () => {}): FlotillaConfig {
    const result = parseConfig(
      JSON.stringify({
        service: 'shop',
        regions: [region('us-east-1', 7101), region('eu-west-1', 7102)],
        waves: [{ regions: ['us-east-1'] }, { regions: ['eu-west-1'] }],
      }),
    );
    if (!result.ok) throw new Error('fixture is invalid');
    edit(result.config as unknown as Data);
    return result.config;
  }

  it('returns no problems for a good config', () => {
    expect(checkPolicy(validConfig())).toEqual([]);
  });

  it('returns problems in path order', () => {
    const config = validConfig((c) => {
      pushAt(c, 'waves[1].regions', 'us-east-1');
      setAt(c, 'regions[1].target.port', 7101);
      setAt(c, 'deploy.maxPollSeconds', 0);
    });
    expect(checkPolicy(config).map((problem) => problem.path)).toEqual([
      'regions[1].target.port',
      'waves[1].regions[1]',
      'deploy.maxPollSeconds',
    ]);
  });

  it("reports an unreachable minSamples at each wave's bakeSeconds, not knowing which bakes were defaulted", () => {
    const config = validConfig((c) => setAt(c, 'gate.minSamples', 100));
    expect(getAt(config, 'waves[0].bakeSeconds')).toBe(10);
    expect(checkPolicy(config).map((problem) => problem.path)).toEqual([
      'waves[0].bakeSeconds',
      'waves[1].bakeSeconds',
    ]);
  });
});

describe('helpers', () => {
  it('measures edit distance with adjacent swaps costing one', () => {
    expect(editDistance('eu-wset-1', 'eu-west-1')).toBe(1);
    expect(editDistance('us-east-1', 'us-east-12')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests nothing for short words two edits away', () => {
    expect(closestWords('on', ['ms'])).toEqual([]);
    expect(closestWords('probez', ['probes', 'minSamples'])).toEqual(['probes']);
  });

  it('formats and parses paths both ways', () => {
    const paths: Array<[Array<string | number>, string]> = [
      [[], '(root)'],
      [['waves', 1, 'regions', 0], 'waves[1].regions[0]'],
      [['regions', 0, 'target', 'port'], 'regions[0].target.port'],
      [['regions', 0, 'target', 'env', 'my.var'], 'regions[0].target.env["my.var"]'],
    ];
    for (const [segments, path] of paths) {
      expect(formatPath(segments)).toBe(path);
      expect(parsePath(path)).toEqual(segments);
    }
  });

  it('orders paths as a config is usually written', () => {
    const paths = ['gate.probes', 'waves[10].name', 'waves[2].regions[0]', 'service', 'regions[1].name', 'waves'];
    expect(paths.sort(comparePaths)).toEqual([
      'service',
      'regions[1].name',
      'waves',
      'waves[2].regions[0]',
      'waves[10].name',
      'gate.probes',
    ]);
  });
});
