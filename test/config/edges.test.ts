/**
 * Configs that could never work are refused, each problem at its path, all at once: windows whose
 * end is not after their start (unless written as overnight), durations and timers past their
 * limits, env names a process cannot take, YAML tags that are not plain data, and a region the
 * chosen backend cannot run.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, validateConfig } from '../../config/load.ts';
import { backendProblems } from '../../config/policy.ts';
import { LIMITS } from '../../config/schema.ts';
import { baseInput, problemsOf, setAt, yamlOf } from './fixtures.ts';

const problems = (edit: (data: Record<string, unknown>) => void) => problemsOf(parseConfig(yamlOf(edit)));
const window = (start: string, end: string, extra: Record<string, unknown> = {}) => ({
  days: ['Mon'],
  start,
  end,
  timeZone: 'Europe/Dublin',
  ...extra,
});

describe('deploy windows', () => {
  it.each([
    ['16:00', '09:00'],
    ['09:00', '09:00'],
  ])('refuses %s–%s, saying how to write an overnight window', (start, end) => {
    expect(problems((d) => setAt(d, 'regions[0].window', window(start, end)))).toEqual([
      { path: 'regions[0].window.end', message: expect.stringMatching(/must be after start .*overnight: true/) },
    ]);
  });

  it('accepts 22:00–06:00 written as overnight, and refuses an overnight window that ends after it starts', () => {
    expect(problems((d) => setAt(d, 'regions[0].window', window('22:00', '06:00', { overnight: true })))).toEqual([]);
    expect(problems((d) => setAt(d, 'regions[0].window', window('22:00', '00:00', { overnight: true })))).toEqual([]);
    expect(problems((d) => setAt(d, 'regions[0].window', window('09:00', '16:00', { overnight: true })))).toEqual([
      { path: 'regions[0].window.end', message: expect.stringMatching(/overnight window ends the next day/) },
    ]);
  });

  it('keeps a day window as it was', () => {
    expect(problems((d) => setAt(d, 'regions[0].window', window('09:00', '16:00')))).toEqual([]);
  });
});

describe('durations and timers', () => {
  it.each([
    ['waves[0].bakeSeconds', LIMITS.bakeSeconds + 1],
    ['waves[0].bakeSeconds', 1_000_000_000_000],
    ['gate.bakeSeconds', LIMITS.bakeSeconds + 1],
    ['gate.intervalSeconds', 3601],
    ['gate.probeTimeoutMs', 2 ** 31],
    ['gate.probeSpacingMs', 2 ** 31],
    ['gate.probes', 1001],
    ['deploy.readinessTimeoutSeconds', 3601],
    ['deploy.pollSeconds', 3601],
    ['deploy.maxPollSeconds', 3601],
  ])('refuses %s: %d, naming the limit', (path, value) => {
    const found = problems((d) => {
      setAt(d, path, value);
      // minSamples must stay reachable whatever the bake: not this test's concern.
      setAt(d, 'gate.minSamples', 1);
    });
    expect(found).toContainEqual({ path, message: expect.stringMatching(/^must be <= \d+/) });
  });

  it('refuses a fault delay past what a Node timer can wait', () => {
    expect(problems((d) => setAt(d, 'regions[0].target.faults', [{ kind: 'slow-start', ms: 2 ** 31 }]))).toContainEqual(
      { path: 'regions[0].target.faults[0].ms', message: `must be <= ${2 ** 31 - 1} (got ${2 ** 31})` },
    );
  });

  it('accepts each limit itself', () => {
    const found = problems((d) => {
      setAt(d, 'gate.bakeSeconds', LIMITS.bakeSeconds);
      setAt(d, 'gate.probeTimeoutMs', LIMITS.timerMs);
      setAt(d, 'gate.intervalSeconds', LIMITS.intervalSeconds);
      setAt(d, 'deploy.readinessTimeoutSeconds', LIMITS.readinessTimeoutSeconds);
      setAt(d, 'gate.minSamples', 1);
    });
    expect(found).toEqual([]);
  });
});

describe('a fault for one version', () => {
  it('takes the version rule of core/version.ts', () => {
    expect(problems((d) => setAt(d, 'regions[0].target.faults', [{ kind: 'unhealthy', version: '../x' }]))).toEqual([
      { path: 'regions[0].target.faults[0].version', message: expect.stringMatching(/is not a version \(1-64/) },
    ]);
    expect(problems((d) => setAt(d, 'regions[0].target.faults', [{ kind: 'unhealthy', version: '1.1.0' }]))).toEqual(
      [],
    );
  });
});

describe('environment variable names', () => {
  it.each(['A=B', '', '1ABC', 'A B', 'A-B'])('refuses %j', (name) => {
    const found = problems((d) => setAt(d, 'regions[0].target.env', { [name]: 'x', GOOD_NAME: 'y' }));
    expect(found).toHaveLength(1);
    expect(found[0]?.path).toMatch(/^regions\[0\]\.target\.env/);
    expect(found[0]?.message).toMatch(/environment variable name must match/);
  });

  it('accepts POSIX names, and refuses a value with a NUL', () => {
    expect(problems((d) => setAt(d, 'regions[0].target.env', { _A1: 'x', lower_case: 'y' }))).toEqual([]);
    expect(problems((d) => setAt(d, 'regions[0].target.env', { A: 'x\0y' }))).toEqual([
      { path: 'regions[0].target.env.A', message: 'must not contain a NUL character' },
    ]);
  });
});

describe('YAML tags', () => {
  const text = yamlOf();
  it.each([
    ['service: !!python/object:os.system shop', 'service', '!!python/object:os.system'],
    ['service: !foo shop', 'service', '!foo'],
    ['service: !!binary c2hvcA==', 'service', '!!binary'],
  ])('refuses %s at its path', (line, path, tag) => {
    const found = problemsOf(parseConfig(text.replace(/^service: shop$/m, line)));
    expect(found).toContainEqual({ path, message: expect.stringContaining(`unsupported YAML tag ${tag}`) });
  });

  it('refuses a tag deep in the document, with every other problem', () => {
    const bad = text.replace(/port: 7102/, 'port: !!python/name:x 7102').replace(/^service: shop$/m, 'service: Shop');
    const found = problemsOf(parseConfig(bad));
    expect(found.map((p) => p.path)).toEqual(expect.arrayContaining(['service', 'regions[1].target.port']));
    expect(found.find((p) => p.path === 'regions[1].target.port')?.message).toMatch(/unsupported YAML tag/);
  });

  it('accepts the plain data tags and merge keys', () => {
    const plain = text.replace(/^service: shop$/m, 'service: !!str shop');
    expect(problemsOf(parseConfig(plain))).toEqual([]);
    const merged = `${plain}\nx-base: &base { healthPath: /health }\n`.replace('x-base', 'gate');
    expect(
      problemsOf(
        parseConfig(
          merged.replace(/^gate: &base \{ healthPath: \/health \}$/m, 'gate: { <<: { healthPath: /health } }'),
        ),
      ),
    ).toEqual([]);
  });
});

describe('the backend a region needs', () => {
  const withCodeDeploy = () => {
    const data = baseInput();
    setAt(data, 'regions[1].target', {
      kind: 'codedeploy',
      awsRegion: 'eu-west-1',
      application: 'shop',
      deploymentGroup: 'shop-eu',
      platform: 'Server',
    });
    const result = validateConfig(data);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    return result.config;
  };

  it('refuses a codedeploy region on the local backend, naming --backend aws', () => {
    expect(backendProblems(withCodeDeploy(), 'local')).toEqual([
      { path: 'regions[1].target.kind', message: expect.stringContaining('--backend aws') },
    ]);
  });

  it('accepts it on the aws backend', () => {
    expect(backendProblems(withCodeDeploy(), 'aws')).toEqual([]);
  });
});
