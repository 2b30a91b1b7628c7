import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, formatProblems, loadConfigFile, parseConfig, validateConfig } from '../../config/load.ts';
import { asLocal } from '../helpers/fixtures.ts';
import { baseInput, problemsOf, region } from './fixtures.ts';

const EXAMPLE = fileURLToPath(new URL('../../flotilla.yml', import.meta.url));

const TARGET = (port: number) => `{ kind: local-process, port: ${port}, command: [node, server.js] }`;

describe('parseConfig', () => {
  it('reports an unknown key, a region in two waves, an empty wave and a negative bake all at once', () => {
    const text = `
service: shop
regions:
  - name: us-east-1
    target: ${TARGET(7101)}
  - name: eu-west-1
    target: ${TARGET(7102)}
waves:
  - name: canary
    regions: [us-east-1]
  - name: wave-2
    regions: [eu-west-1, us-east-1]
    bakeSeconds: -5
  - name: x
    regions: []
gate:
  probez: 3
`;
    expect(problemsOf(parseConfig(text))).toEqual([
      {
        path: 'waves[1].regions[1]',
        message: 'region "us-east-1" is already in wave "canary"; every region must be in exactly one wave',
      },
      { path: 'waves[1].bakeSeconds', message: 'must be >= 0 (got -5)' },
      { path: 'waves[2].regions', message: 'wave "x" has no regions' },
      { path: 'gate.probez', message: 'unknown key (did you mean "probes"?)' },
    ]);
  });

  it('still runs the policy rules when the schema fails, skipping those that depend on invalid values', () => {
    const text = `
service: Shop
regions:
  - name: us-east-1
    target: ${TARGET(7101)}
  - name: eu-west-1
    target: { kind: local-process, port: 7101, command: [] }
waves:
  - regions: [us-east-1, eu-wset-1]
gate:
  probes: 0
  minSamples: 1000
deploy:
  pollSeconds: 9
  maxPollSeconds: 3
`;
    expect(problemsOf(parseConfig(text))).toEqual([
      {
        path: 'service',
        message: 'must be 1-40 lowercase letters, digits or dashes, starting with a letter (got "Shop")',
      },
      { path: 'regions[1].target.port', message: 'port 7101 is already used by region "us-east-1" (regions[0])' },
      { path: 'regions[1].target.command', message: 'must not be empty' },
      {
        path: 'waves[0].regions',
        message:
          'the first wave (the canary, wave "wave-1") has 2 regions; ' +
          'it must have exactly one unless policy.allowMultiRegionCanary is true',
      },
      { path: 'waves[0].regions[1]', message: 'unknown region "eu-wset-1" (did you mean "eu-west-1"?)' },
      { path: 'gate.probes', message: 'must be >= 1 (got 0)' },
      { path: 'deploy.maxPollSeconds', message: 'must be >= deploy.pollSeconds, which is 9 (got 3)' },
    ]);
  });

  it('lists problems in document order, whatever order the keys are written in', () => {
    const text = `
gate:
  probes: 0
waves:
  - regions: [us-east-1]
    bakeSeconds: -1
regions:
  - name: us-east-1
    target: ${TARGET(80)}
service: shop
extra: true
`;
    expect(problemsOf(parseConfig(text)).map((problem) => problem.path)).toEqual([
      'gate.probes',
      'waves[0].bakeSeconds',
      'regions[0].target.port',
      'extra',
    ]);
  });

  it('puts a missing key after the keys written around it', () => {
    const text = `regions:\n  - name: us-east-1\n    target: ${TARGET(7101)}\nwaves: [{ regions: [us-east-1], bakeSeconds: -1 }]\n`;
    expect(problemsOf(parseConfig(text))).toEqual([
      { path: 'waves[0].bakeSeconds', message: 'must be >= 0 (got -1)' },
      { path: 'service', message: 'is required' },
    ]);
  });

  it('reports a YAML syntax error with its line and column, and nothing else', () => {
    const text = 'service: shop\nregions:\n  - name: us-east-1\n    target: { kind: local-process\nwaves: []\n';
    const problems = problemsOf(parseConfig(text, 'flotilla.yml'));
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) {
      expect(problem.path).toBe('(yaml)');
      expect(problem.message).toMatch(/^flotilla\.yml, line \d+, column \d+: \S/);
    }
    expect(problems[0]?.message).toMatch(/^flotilla\.yml, line [45], /);
  });

  it('reports a duplicate YAML key as a YAML error', () => {
    const problems = problemsOf(parseConfig('service: shop\nservice: shop\n'));
    expect(problems).toEqual([{ path: '(yaml)', message: 'line 2, column 1: Map keys must be unique' }]);
  });

  it('reports every duplicate key, nested ones too, at the second of each, in document order', () => {
    const text = [
      'service: shop',
      'gate:',
      '  probes: 3',
      '  probes: 4',
      'deploy: {a: 1, b: 2, a: 3}',
      'service: again',
    ].join('\n');
    expect(problemsOf(parseConfig(text))).toEqual([
      { path: '(yaml)', message: 'line 4, column 3: Map keys must be unique' },
      { path: '(yaml)', message: 'line 5, column 22: Map keys must be unique' },
      { path: '(yaml)', message: 'line 6, column 1: Map keys must be unique' },
    ]);
    // Keys that only look alike are different keys, as YAML says: 1 and "1".
    const alike = problemsOf(parseConfig('service: shop\nx: {1: a, "1": b}\n'));
    expect(alike.some((p) => /unique/.test(p.message))).toBe(false);
  });

  it('reports an empty document', () => {
    expect(problemsOf(parseConfig('# nothing yet\n'))).toEqual([{ path: '(root)', message: 'the config is empty' }]);
  });

  it('reports a document that is not a mapping', () => {
    expect(problemsOf(parseConfig('- service: shop\n'))).toEqual([
      { path: '(root)', message: 'must be a mapping (key: value pairs) (got a list)' },
    ]);
  });

  it('reads `on: rollback` as a string, not a YAML 1.1 boolean', () => {
    const text = `
service: shop
regions:
  - name: us-east-1
    target:
      kind: local-process
      port: 7101
      command: [node, server.js]
      faults:
        - kind: crash-after-start
          on: rollback
          version: 1.0.0
waves: [{ regions: [us-east-1] }]
`;
    const result = parseConfig(text);
    expect(result.ok && asLocal(result.config.regions[0]?.target).faults).toEqual([
      { kind: 'crash-after-start', on: 'rollback', version: '1.0.0', ms: 0 },
    ]);
  });

  it('tells the user to quote a version YAML reads as a number', () => {
    const text = `
service: shop
regions:
  - name: us-east-1
    target: { kind: local-process, port: 7101, command: [node], faults: [{ kind: silent, version: 2.0 }] }
waves: [{ regions: [us-east-1] }]
`;
    expect(problemsOf(parseConfig(text))).toEqual([
      {
        path: 'regions[0].target.faults[0].version',
        message: 'must be a string (got 2); quote it to make it a string',
      },
    ]);
  });

  it('supports YAML anchors and merge keys for shared target settings', () => {
    const text = `
service: shop
regions:
  - name: us-east-1
    target: &target
      kind: local-process
      port: 7101
      command: [node, server.js]
  - name: eu-west-1
    target:
      <<: *target
      port: 7102
waves: [{ regions: [us-east-1] }, { regions: [eu-west-1] }]
`;
    const result = parseConfig(text);
    expect(result.ok && result.config.regions.map((r) => [asLocal(r.target).port, asLocal(r.target).command])).toEqual([
      [7101, ['node', 'server.js']],
      [7102, ['node', 'server.js']],
    ]);
  });
});

describe('validateConfig', () => {
  it('validates data that is already parsed', () => {
    expect(validateConfig(baseInput()).ok).toBe(true);
  });

  it('reports problems in path order', () => {
    const data = baseInput();
    data.extra = 1;
    (data.regions as unknown[]).push(region('eu-west-1', 7101));
    expect(problemsOf(validateConfig(data)).map((problem) => problem.path)).toEqual([
      'regions[4].name',
      'regions[4].target.port',
      'extra',
    ]);
  });
});

describe('loadConfigFile', () => {
  it('loads the shop example', async () => {
    const result = await loadConfigFile(EXAMPLE);
    if (!result.ok) throw new Error(formatProblems(result.problems));
    const { config } = result;
    expect(config.service).toBe('shop');
    expect(
      config.regions.map((r) => [
        r.name,
        asLocal(r.target).port,
        asLocal(r.target).env.LOCALE,
        asLocal(r.target).env.CURRENCY,
      ]),
    ).toEqual([
      ['us-east-1', 7101, 'en-US', 'USD'],
      ['eu-west-1', 7102, 'en-IE', 'EUR'],
      ['eu-central-1', 7103, 'de-DE', 'EUR'],
      ['ap-southeast-2', 7104, 'en-AU', 'AUD'],
      ['us-west-2', 7105, 'en-US', 'USD'],
      ['ap-northeast-1', 7106, 'ja-JP', 'JPY'],
    ]);
    expect(config.regions.every((r) => asLocal(r.target).command.join(' ') === 'node server.js')).toBe(true);
    expect(config.waves).toEqual([
      { name: 'canary', regions: ['us-east-1'], bakeSeconds: 2, approval: false },
      { name: 'wave-2', regions: ['eu-west-1', 'eu-central-1'], bakeSeconds: 3, approval: false },
      {
        name: 'wave-3',
        regions: ['ap-southeast-2', 'us-west-2', 'ap-northeast-1'],
        bakeSeconds: 2,
        approval: false,
        maxParallel: 2,
      },
    ]);
    expect(config.gate).toMatchObject({
      healthPath: '/health',
      probes: 5,
      intervalSeconds: 1,
      maxErrorRate: 0.05,
      minSamples: 5,
      probeTimeoutMs: 1000,
      probeSpacingMs: 20,
    });
    expect(config.deploy).toEqual({ pollSeconds: 1, maxPollSeconds: 5, readinessTimeoutSeconds: 15 });
    expect(config.policy).toEqual({ allowMultiRegionCanary: false });
  });

  it('reports a missing file', async () => {
    const path = join(tmpdir(), 'flotilla-no-such-dir', 'flotilla.yml');
    expect(await loadConfigFile(path)).toEqual({
      ok: false,
      problems: [{ path: '(file)', message: `cannot read ${path}: no such file` }],
    });
  });

  it('names the file in YAML syntax errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-config-'));
    try {
      const path = join(dir, 'flotilla.yml');
      await writeFile(path, 'service: [shop\n');
      const problems = problemsOf(await loadConfigFile(path));
      expect(problems[0]?.path).toBe('(yaml)');
      expect(problems[0]?.message.startsWith(`${path}, line `)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('formatProblems', () => {
  it('writes one `path: message` line per problem', () => {
    expect(
      formatProblems([
        { path: 'waves[0].bakeSeconds', message: 'must be >= 0 (got -5)' },
        { path: 'gate.probez', message: 'unknown key' },
      ]),
    ).toBe('waves[0].bakeSeconds: must be >= 0 (got -5)\ngate.probez: unknown key');
  });

  it('writes nothing for no problems', () => {
    expect(formatProblems([])).toBe('');
  });
});

describe('configJsonSchema', () => {
  it('describes the input for editors: strict objects, required keys and defaults', () => {
    const schema = configJsonSchema() as {
      type: string;
      required: string[];
      additionalProperties: boolean;
      properties: Record<string, { default?: unknown; properties?: Record<string, { default?: unknown }> }>;
    };
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required.sort()).toEqual(['regions', 'service', 'waves']);
    expect(schema.properties.gate?.properties?.probes?.default).toBe(5);
    expect(schema.properties.gate?.properties?.onInconclusive?.default).toBe('rollback');
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});
