import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/load.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { asLocal } from '../helpers/fixtures.ts';
import { baseInput, type Data, deleteAt, parseEdited, problemsOf, region, setAt } from './fixtures.ts';

describe('defaults', () => {
  it('fills in every default of a minimal config', () => {
    const result = parseConfig(
      [
        'service: shop',
        'regions:',
        '  - name: us-east-1',
        '    target: { kind: local-process, port: 7101, command: [node, server.js] }',
        'waves:',
        '  - regions: [us-east-1]',
      ].join('\n'),
    );
    const expected: FlotillaConfig = {
      service: 'shop',
      regions: [
        {
          name: 'us-east-1',
          target: { kind: 'local-process', port: 7101, command: ['node', 'server.js'], env: {}, faults: [] },
        },
      ],
      waves: [{ name: 'wave-1', regions: ['us-east-1'], bakeSeconds: 10, approval: false }],
      gate: {
        healthPath: '/health',
        probes: 5,
        intervalSeconds: 2,
        maxErrorRate: 0.05,
        minSamples: 10,
        probeTimeoutMs: 1000,
        probeSpacingMs: 50,
        bakeSeconds: 10,
        onInconclusive: 'rollback',
      },
      deploy: { readinessTimeoutSeconds: 20, pollSeconds: 1, maxPollSeconds: 30 },
      policy: { allowMultiRegionCanary: false },
    };
    expect(result).toEqual({ ok: true, config: expected });
  });

  it('names unnamed waves wave-<n>, counting from 1, and keeps given names', () => {
    const result = parseEdited(() => {});
    expect(result.ok && result.config.waves.map((wave) => wave.name)).toEqual(['canary', 'wave-2', 'wave-3']);
  });

  it('gives waves without bakeSeconds the gate bakeSeconds and keeps their own otherwise', () => {
    const result = parseEdited((data) => setAt(data, 'gate.bakeSeconds', 7));
    expect(result.ok && result.config.waves.map((wave) => wave.bakeSeconds)).toEqual([7, 7, 4]);
  });

  it('keeps a wave’s maxParallel and leaves it out where none is given', () => {
    const result = parseEdited((data) => setAt(data, 'waves[1].maxParallel', 3));
    expect(result.ok && result.config.waves.map((wave) => wave.maxParallel)).toEqual([undefined, 3, undefined]);
  });

  it('takes an adaptive bake: its max is the wave’s bake time, min and max kept', () => {
    const result = parseEdited((data) => {
      const wave = (data as { waves: Record<string, unknown>[] }).waves[1];
      if (wave) delete wave.bakeSeconds;
      setAt(data, 'waves[1].bake', { min: 2, max: 30 });
    });
    expect(result.ok && result.config.waves[1]?.bakeSeconds).toBe(30);
    expect(result.ok && result.config.waves[1]?.bake).toEqual({ min: 2, max: 30 });
    expect(result.ok && result.config.waves[0]?.bake).toBeUndefined();
  });

  it('keeps a wave’s newHost and leaves it out where none is given (core/new-host.ts decides the default)', () => {
    const result = parseEdited((data) => {
      setAt(data, 'waves[0].newHost', false);
      setAt(data, 'waves[2].newHost', true);
    });
    expect(result.ok && result.config.waves.map((wave) => wave.newHost)).toEqual([false, undefined, true]);
  });

  it('refuses a newHost that is not a boolean, at its path', () => {
    const problems = problemsOf(parseEdited((data) => setAt(data, 'waves[1].newHost', 'yes')));
    expect(problems).toEqual([{ path: 'waves[1].newHost', message: 'must be true or false (got "yes")' }]);
  });

  it('accepts the fresh-start fault', () => {
    const result = parseEdited((data) =>
      setAt(data, 'regions[0].target.faults', [{ kind: 'fresh-start', on: 'deploy' }]),
    );
    expect(result.ok && asLocal(result.config.regions[0]?.target).faults).toEqual([
      { kind: 'fresh-start', on: 'deploy', ms: 0 },
    ]);
  });

  it('accepts an explicit zero bake', () => {
    const result = parseEdited((data) => {
      setAt(data, 'waves[2].bakeSeconds', 0);
      setAt(data, 'gate.minSamples', 5);
    });
    expect(result.ok && result.config.waves[2]?.bakeSeconds).toBe(0);
  });

  it('fills in fault defaults and keeps a fault version', () => {
    const result = parseEdited((data) =>
      setAt(data, 'regions[0].target.faults', [
        { kind: 'crash-after-start', on: 'rollback', version: '1.0.0' },
        { kind: 'slow-start', ms: 1500 },
      ]),
    );
    expect(result.ok && asLocal(result.config.regions[0]?.target).faults).toEqual([
      { kind: 'crash-after-start', on: 'rollback', version: '1.0.0', ms: 0 },
      { kind: 'slow-start', on: 'always', ms: 1500 },
    ]);
  });

  it('keeps a partial gate block and defaults the rest of it', () => {
    const result = parseEdited((data) => setAt(data, 'gate', { probes: 4, healthPath: '/ready' }));
    expect(result.ok && result.config.gate).toMatchObject({ probes: 4, healthPath: '/ready', intervalSeconds: 2 });
  });
});

describe('schema rules', () => {
  const cases: Array<{ rule: string; edit: (data: Data) => void; path: string; message: string }> = [
    { rule: 'service is required', edit: (d) => deleteAt(d, 'service'), path: 'service', message: 'is required' },
    {
      rule: 'service is lowercase letters, digits and dashes',
      edit: (d) => setAt(d, 'service', 'Shop'),
      path: 'service',
      message: 'must be 1-40 lowercase letters, digits or dashes, starting with a letter (got "Shop")',
    },
    {
      rule: 'service is at most 40 characters',
      edit: (d) => setAt(d, 'service', 'a'.repeat(41)),
      path: 'service',
      message: `must be 1-40 lowercase letters, digits or dashes, starting with a letter (got "${'a'.repeat(41)}")`,
    },
    {
      rule: 'service is a string',
      edit: (d) => setAt(d, 'service', 42),
      path: 'service',
      message: 'must be a string (got 42); quote it to make it a string',
    },
    { rule: 'regions is required', edit: (d) => deleteAt(d, 'regions'), path: 'regions', message: 'is required' },
    {
      rule: 'regions is a list',
      edit: (d) => setAt(d, 'regions', 'us-east-1'),
      path: 'regions',
      message: 'must be a list (got "us-east-1")',
    },
    {
      rule: 'region names are lowercase',
      edit: (d) => setAt(d, 'regions[3].name', 'AP-Southeast-2'),
      path: 'regions[3].name',
      message: 'must be 2-41 lowercase letters, digits or dashes, like "us-east-1" (got "AP-Southeast-2")',
    },
    {
      rule: 'target kind is local-process',
      edit: (d) => setAt(d, 'regions[0].target.kind', 'docker'),
      path: 'regions[0].target.kind',
      message: 'must be one of "local-process", "codedeploy" (got "docker")',
    },
    {
      rule: 'target kind is required',
      edit: (d) => deleteAt(d, 'regions[0].target.kind'),
      path: 'regions[0].target.kind',
      message: 'is required',
    },
    {
      rule: 'ports are at least 1024',
      edit: (d) => setAt(d, 'regions[1].target.port', 80),
      path: 'regions[1].target.port',
      message: 'must be >= 1024 (got 80)',
    },
    {
      rule: 'ports are at most 65535',
      edit: (d) => setAt(d, 'regions[1].target.port', 70000),
      path: 'regions[1].target.port',
      message: 'must be <= 65535 (got 70000)',
    },
    {
      rule: 'ports are whole numbers',
      edit: (d) => setAt(d, 'regions[1].target.port', 7102.5),
      path: 'regions[1].target.port',
      message: 'must be a whole number (got 7102.5)',
    },
    {
      rule: 'ports are numbers',
      edit: (d) => setAt(d, 'regions[1].target.port', 'http'),
      path: 'regions[1].target.port',
      message: 'must be a number (got "http")',
    },
    {
      rule: 'the command is not empty',
      edit: (d) => setAt(d, 'regions[0].target.command', []),
      path: 'regions[0].target.command',
      message: 'must not be empty',
    },
    {
      rule: 'command words are not empty',
      edit: (d) => setAt(d, 'regions[0].target.command', ['node', '']),
      path: 'regions[0].target.command[1]',
      message: 'must not be empty',
    },
    {
      rule: 'env values are strings',
      edit: (d) => setAt(d, 'regions[0].target.env', { PORT_OFFSET: 1 }),
      path: 'regions[0].target.env.PORT_OFFSET',
      message: 'must be a string (got 1); quote it to make it a string',
    },
    {
      rule: 'fault kinds are known',
      edit: (d) => setAt(d, 'regions[0].target.faults', [{ kind: 'crash-after-strat' }]),
      path: 'regions[0].target.faults[0].kind',
      message:
        'must be one of "deploy-fail", "stage-fail", "slow-start", "crash-after-start", "fresh-start", "unhealthy", "flapping", "silent" ' +
        '(got "crash-after-strat") (did you mean "crash-after-start"?)',
    },
    {
      rule: 'fault triggers are known',
      edit: (d) => setAt(d, 'regions[0].target.faults', [{ kind: 'unhealthy', on: 'sometimes' }]),
      path: 'regions[0].target.faults[0].on',
      message: 'must be one of "deploy", "rollback", "start", "always" (got "sometimes")',
    },
    {
      rule: 'fault delays are not negative',
      edit: (d) => setAt(d, 'regions[0].target.faults', [{ kind: 'slow-start', ms: -1 }]),
      path: 'regions[0].target.faults[0].ms',
      message: 'must be >= 0 (got -1)',
    },
    {
      rule: 'fault versions are strings',
      edit: (d) => setAt(d, 'regions[0].target.faults', [{ kind: 'deploy-fail', version: 2 }]),
      path: 'regions[0].target.faults[0].version',
      message: 'must be a string (got 2); quote it to make it a string',
    },
    { rule: 'waves is required', edit: (d) => deleteAt(d, 'waves'), path: 'waves', message: 'is required' },
    {
      rule: 'a wave lists its regions',
      edit: (d) => deleteAt(d, 'waves[1].regions'),
      path: 'waves[1].regions',
      message: 'is required',
    },
    {
      rule: 'wave names are not empty',
      edit: (d) => setAt(d, 'waves[1].name', ''),
      path: 'waves[1].name',
      message: 'must not be empty',
    },
    {
      rule: 'a negative wave bake is an error',
      edit: (d) => setAt(d, 'waves[0].bakeSeconds', -5),
      path: 'waves[0].bakeSeconds',
      message: 'must be >= 0 (got -5)',
    },
    {
      rule: 'wave bakes are whole seconds',
      edit: (d) => setAt(d, 'waves[0].bakeSeconds', 1.5),
      path: 'waves[0].bakeSeconds',
      message: 'must be a whole number (got 1.5)',
    },
    {
      rule: 'a wave deploys at least one region at a time',
      edit: (d) => setAt(d, 'waves[1].maxParallel', 0),
      path: 'waves[1].maxParallel',
      message: 'must be >= 1 (got 0)',
    },
    {
      rule: 'maxParallel is at most the engine limit of 40',
      edit: (d) => setAt(d, 'waves[1].maxParallel', 41),
      path: 'waves[1].maxParallel',
      message: 'must be <= 40 (got 41)',
    },
    {
      rule: 'an adaptive bake ends no later than its max',
      edit: (d) => setAt(d, 'waves[1].bake', { min: 60, max: 30 }),
      path: 'waves[1].bake.min',
      message: 'must be at most max (30); got 60',
    },
    {
      rule: 'an adaptive bake is bounded like bakeSeconds',
      edit: (d) => setAt(d, 'waves[1].bake', { min: 1, max: 7 * 24 * 3600 + 1 }),
      path: 'waves[1].bake.max',
      message: 'must be <= 604800 (got 604801)',
    },
    {
      rule: 'an adaptive bake takes whole seconds',
      edit: (d) => setAt(d, 'waves[1].bake', { min: 0.5, max: 3 }),
      path: 'waves[1].bake.min',
      message: 'must be a whole number (got 0.5)',
    },
    {
      rule: 'a fixed bake and an adaptive one on the same wave must agree',
      edit: (d) => {
        setAt(d, 'waves[1].bakeSeconds', 10);
        setAt(d, 'waves[1].bake', { min: 2, max: 30 });
      },
      path: 'waves[1].bake',
      message:
        'a wave takes bakeSeconds (a fixed bake) or bake: {min, max} (one that ends when the evidence is in; its bakeSeconds is max); got bakeSeconds 10 and bake {min: 2, max: 30}',
    },
    {
      rule: 'the health path starts with /',
      edit: (d) => setAt(d, 'gate.healthPath', 'health'),
      path: 'gate.healthPath',
      message: 'must start with "/" (got "health")',
    },
    {
      rule: 'at least one probe',
      edit: (d) => setAt(d, 'gate.probes', 0),
      path: 'gate.probes',
      message: 'must be >= 1 (got 0)',
    },
    {
      rule: 'the gate interval is whole seconds',
      edit: (d) => setAt(d, 'gate.intervalSeconds', 0.5),
      path: 'gate.intervalSeconds',
      message: 'must be a whole number (got 0.5)',
    },
    {
      rule: 'the gate interval is at least 1',
      edit: (d) => setAt(d, 'gate.intervalSeconds', 0),
      path: 'gate.intervalSeconds',
      message: 'must be >= 1 (got 0)',
    },
    {
      rule: 'the error rate is at most 1',
      edit: (d) => setAt(d, 'gate.maxErrorRate', 1.5),
      path: 'gate.maxErrorRate',
      message: 'must be <= 1 (got 1.5)',
    },
    {
      rule: 'the error rate is at least 0',
      edit: (d) => setAt(d, 'gate.maxErrorRate', -0.1),
      path: 'gate.maxErrorRate',
      message: 'must be >= 0 (got -0.1)',
    },
    {
      rule: 'minSamples is at least 1',
      edit: (d) => setAt(d, 'gate.minSamples', 0),
      path: 'gate.minSamples',
      message: 'must be >= 1 (got 0)',
    },
    {
      rule: 'the probe timeout is at least 1 ms',
      edit: (d) => setAt(d, 'gate.probeTimeoutMs', 0),
      path: 'gate.probeTimeoutMs',
      message: 'must be >= 1 (got 0)',
    },
    {
      rule: 'probe spacing is not negative',
      edit: (d) => setAt(d, 'gate.probeSpacingMs', -1),
      path: 'gate.probeSpacingMs',
      message: 'must be >= 0 (got -1)',
    },
    {
      rule: 'the gate bake is not negative',
      edit: (d) => setAt(d, 'gate.bakeSeconds', -10),
      path: 'gate.bakeSeconds',
      message: 'must be >= 0 (got -10)',
    },
    {
      rule: 'an inconclusive gate rolls back or pauses, never proceeds',
      edit: (d) => setAt(d, 'gate.onInconclusive', 'proceed'),
      path: 'gate.onInconclusive',
      message: 'must be one of "rollback", "pause" (got "proceed")',
    },
    {
      rule: 'readiness timeout is at least 1 second',
      edit: (d) => setAt(d, 'deploy.readinessTimeoutSeconds', 0),
      path: 'deploy.readinessTimeoutSeconds',
      message: 'must be >= 1 (got 0)',
    },
    {
      rule: 'poll interval is at least 1 second',
      edit: (d) => setAt(d, 'deploy.pollSeconds', 0),
      path: 'deploy.pollSeconds',
      message: 'must be >= 1 (got 0)',
    },
    {
      rule: 'max poll interval is whole seconds',
      edit: (d) => setAt(d, 'deploy.maxPollSeconds', 2.5),
      path: 'deploy.maxPollSeconds',
      message: 'must be a whole number (got 2.5)',
    },
    {
      rule: 'allowMultiRegionCanary is a boolean',
      edit: (d) => setAt(d, 'policy.allowMultiRegionCanary', 'yes'),
      path: 'policy.allowMultiRegionCanary',
      message: 'must be true or false (got "yes")',
    },
    {
      rule: 'slack.teamId is a Slack workspace id',
      edit: (d) => setAt(d, 'slack', { teamId: 'example.slack.com' }),
      path: 'slack.teamId',
      message: 'must be a Slack workspace id like "T0123ABCD" (got "example.slack.com")',
    },
    {
      rule: 'slack.allow lists Slack user ids, not names',
      edit: (d) => setAt(d, 'slack', { teamId: 'T0001', allow: { abort: ['U0ALICE', 'alice'] } }),
      path: 'slack.allow.abort[1]',
      message: `must be a Slack user id like "U0123ABCD" (or '*' for anyone in the workspace) (got "alice")`,
    },
    {
      rule: 'the gate block is a mapping',
      edit: (d) => setAt(d, 'gate', 5),
      path: 'gate',
      message: 'must be a mapping (key: value pairs) (got 5)',
    },
  ];

  it.each(cases)('$rule', ({ edit, path, message }) => {
    expect(problemsOf(parseEdited(edit))).toEqual([{ path, message }]);
  });
});

describe('the slack section', () => {
  it('is optional (absent: every Slack click is refused) and keeps what is written', () => {
    const without = parseEdited(() => {});
    expect(without.ok && without.config.slack).toBe(undefined);
    const written = parseEdited((d) =>
      setAt(d, 'slack', { teamId: 'T0001', allow: { promote: ['U0ALICE', 'W0BOB'], '*': ['U0ONCALL'], pause: ['*'] } }),
    );
    expect(written.ok && written.config.slack).toEqual({
      teamId: 'T0001',
      allow: { promote: ['U0ALICE', 'W0BOB'], '*': ['U0ONCALL'], pause: ['*'] },
    });
    const teamOnly = parseEdited((d) => setAt(d, 'slack', { teamId: 'T0001' }));
    expect(teamOnly.ok && teamOnly.config.slack).toEqual({ teamId: 'T0001', allow: {} });
  });
});

describe('unknown keys', () => {
  const cases: Array<{ where: string; edit: (data: Data) => void; path: string; message: string }> = [
    {
      where: 'at the top level',
      edit: (d) => setAt(d, 'foo', 1),
      path: 'foo',
      message: 'unknown key',
    },
    {
      where: 'at the top level, with a suggestion',
      edit: (d) => setAt(d, 'gates', { probes: 3 }),
      path: 'gates',
      message: 'unknown key (did you mean "gate"?)',
    },
    {
      where: 'in the gate block',
      edit: (d) => setAt(d, 'gate.probez', 3),
      path: 'gate.probez',
      message: 'unknown key (did you mean "probes"?)',
    },
    {
      where: 'in a wave',
      edit: (d) => setAt(d, 'waves[1].bakeSecond', 3),
      path: 'waves[1].bakeSecond',
      message: 'unknown key (did you mean "bakeSeconds"?)',
    },
    {
      where: 'in a target',
      edit: (d) => setAt(d, 'regions[2].target.environment', {}),
      path: 'regions[2].target.environment',
      message: 'unknown key',
    },
    {
      where: 'in a fault',
      edit: (d) => setAt(d, 'regions[2].target.faults', [{ kind: 'silent', when: 'deploy' }]),
      path: 'regions[2].target.faults[0].when',
      message: 'unknown key',
    },
    {
      where: 'in the deploy block',
      edit: (d) => setAt(d, 'deploy.maxPollSecond', 3),
      path: 'deploy.maxPollSecond',
      message: 'unknown key (did you mean "maxPollSeconds"?)',
    },
    {
      where: 'in slack.allow (a verb the buttons do not carry)',
      edit: (d) => setAt(d, 'slack', { teamId: 'T0001', allow: { abrot: ['U0ALICE'] } }),
      path: 'slack.allow.abrot',
      message: 'unknown key (did you mean "abort"?)',
    },
    {
      where: 'in the policy block',
      edit: (d) => setAt(d, 'policy.allowMultiRegionCanry', true),
      path: 'policy.allowMultiRegionCanry',
      message: 'unknown key (did you mean "allowMultiRegionCanary"?)',
    },
  ];

  it.each(cases)('reports an unknown key $where at its own path', ({ edit, path, message }) => {
    expect(problemsOf(parseEdited(edit))).toEqual([{ path, message }]);
  });

  it('reports each of several unknown keys in one block', () => {
    const result = parseEdited((d) => {
      setAt(d, 'gate.a', 1);
      setAt(d, 'gate.b', 2);
    });
    expect(problemsOf(result)).toEqual([
      { path: 'gate.a', message: 'unknown key' },
      { path: 'gate.b', message: 'unknown key' },
    ]);
  });

  it('does not suggest a key that is already written', () => {
    const result = parseEdited((d) => setAt(d, 'gate', { probes: 4, probez: 5 }));
    expect(problemsOf(result)).toEqual([{ path: 'gate.probez', message: 'unknown key' }]);
  });

  it('reports a misspelt required key both as missing and as unknown', () => {
    const result = parseEdited((d) => {
      const data = baseInput();
      const target = { ...region('us-east-1', 7101), target: { kind: 'local-process', ports: 7101, command: ['x'] } };
      (data.regions as unknown[])[0] = target;
      Object.assign(d, data);
    });
    expect(problemsOf(result)).toEqual([
      { path: 'regions[0].target.ports', message: 'unknown key (did you mean "port"?)' },
      { path: 'regions[0].target.port', message: 'is required' },
    ]);
  });
});
