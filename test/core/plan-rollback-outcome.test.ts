import { describe, expect, it } from 'vitest';
import { checkPolicy } from '../../config/policy.ts';
import { executionNameProblem, jsonBytes } from '../../core/limits.ts';
import { concludeRelease, nextPollSeconds, observedStates, observedStatesOf } from '../../core/outcome.ts';
import {
  EMERGENCY_MIN_BAKE_SECONDS,
  ENGINE_MAX_PARALLEL,
  executionName,
  initialRecord,
  minimumDuration,
  planRef,
  planRelease,
  regionRef,
  regionTask,
  rollbackName,
} from '../../core/plan.ts';
import { planRollback, touchedRegions } from '../../core/rollback.ts';
import type { RegionResult } from '../../core/types.ts';
import { configWith, recordWith } from '../helpers/fixtures.ts';

const plan = (waves: string[][]) =>
  planRelease({
    config: configWith(waves),
    releaseId: 'r1',
    version: '2.0.0',
    artifact: '/b',
    regionStateMachineArn: 'arn',
    owner: 'test',
  });

describe('planRelease', () => {
  it('puts the canary region alone in the first wave: a config that does not is refused before planning', () => {
    const p = plan([['us-east-1'], ['eu-west-1', 'eu-central-1'], ['ap-1']]);
    expect(p.waves[0]?.regions.map((r) => r.region)).toEqual(['us-east-1']);
    expect(checkPolicy(configWith([['us-east-1'], ['eu-west-1', 'eu-central-1']]))).toEqual([]);
    const twoCanaries = configWith([['us-east-1', 'eu-west-1'], ['eu-central-1']]);
    expect(checkPolicy(twoCanaries).map((problem) => problem.path)).toEqual(['waves[0].regions']);
    expect(checkPolicy({ ...twoCanaries, policy: { allowMultiRegionCanary: true } })).toEqual([]);
  });

  it('keeps each wave’s regions and the waves’ order, every task deploying the new revision', () => {
    const p = plan([['us-east-1'], ['eu-west-1', 'eu-central-1'], ['ap-1']]);
    expect(p.waves.map((w) => w.regions.map((r) => r.region))).toEqual([
      ['us-east-1'],
      ['eu-west-1', 'eu-central-1'],
      ['ap-1'],
    ]);
    expect(p.waveCount).toBe(3);
    expect(p.waves.flatMap((w) => w.regions.map((r) => [r.region, r.wave, r.action, r.revision?.version]))).toEqual([
      ['us-east-1', 0, 'deploy', '2.0.0'],
      ['eu-west-1', 1, 'deploy', '2.0.0'],
      ['eu-central-1', 1, 'deploy', '2.0.0'],
      ['ap-1', 2, 'deploy', '2.0.0'],
    ]);
  });

  it('caps each wave’s parallel deploys at its maxParallel, and at the engine’s 40 when none is given', () => {
    const config = configWith([['us-east-1'], ['eu-west-1', 'eu-central-1']]);
    const second = config.waves[1];
    if (!second) throw new Error('fixture');
    second.maxParallel = 1;
    const p = planRelease({
      config,
      releaseId: 'r1',
      version: '2.0.0',
      artifact: '/b',
      regionStateMachineArn: 'a',
      owner: 't',
    });
    expect(p.waves.map((w) => w.maxParallel)).toEqual([ENGINE_MAX_PARALLEL, 1]);
    expect(ENGINE_MAX_PARALLEL).toBe(40);
  });

  it('gives an adaptive wave its min (max is its bake), and an emergency release caps both', () => {
    const config = configWith([['us-east-1'], ['eu-west-1']]);
    const second = config.waves[1];
    if (!second) throw new Error('fixture');
    second.bakeSeconds = 3600;
    second.bake = { min: 300, max: 3600 };
    const input = { config, releaseId: 'r1', version: '2.0.0', artifact: '/b', regionStateMachineArn: 'a', owner: 't' };
    const p = planRelease(input);
    expect(p.waves.map((w) => [w.bakeSeconds, w.bakeMinSeconds])).toEqual([
      [config.waves[0]?.bakeSeconds, undefined],
      [3600, 300],
    ]);
    const urgent = planRelease({
      ...input,
      config: { ...config, emergency: { minBakeSeconds: 60 } },
      emergency: { actor: 'ann', reason: 'down' },
    });
    expect(urgent.waves[1]).toMatchObject({ bakeSeconds: 60, bakeMinSeconds: 60 });
    // The least it can take counts the adaptive wave's min.
    const estimate = minimumDuration(config);
    expect(estimate.minimumSeconds).toBe((config.waves[0]?.bakeSeconds ?? 0) + 300);
    expect(estimate.waves[1]).toMatchObject({ bakeSeconds: 3600, bakeMinSeconds: 300 });
  });

  it('captures each region’s last-known-good in the initial record', () => {
    const p = plan([['a'], ['b']]);
    const record = initialRecord(
      p,
      [{ service: 'shop', region: 'a', current: { version: '1.0.0', artifact: '/a' }, releaseId: 'r0', updatedAt: '' }],
      'now',
    );
    expect(record.regions.a?.before?.version).toBe('1.0.0');
    expect(record.regions.b?.before).toBeNull();
    expect(Object.values(record.regions).every((r) => r.phase === 'pending')).toBe(true);
  });
});

describe('minimumDuration', () => {
  it('adds up the bakes of the waves in order', () => {
    expect(minimumDuration(configWith([['a'], ['b', 'c'], ['d']])).minimumSeconds).toBe(30);
  });
});

describe('executionName', () => {
  it('keeps names within Step Functions rules', () => {
    const name = executionName('shop', `1.0.0+build/${'x'.repeat(100)}`, 12);
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(name.endsWith('-12')).toBe(true);
  });

  it.each([
    ['a long build id', 'shop', `1.0.0+${'x'.repeat(200)}`],
    ["AWS's forbidden characters", 'shop', '1.0.0 "#%\\^|~`$&,;:/?*<>{}[]\u0007\u0085'],
    ['non-ASCII', 'shöp', '1.0.0-β'],
  ])('makes names Step Functions accepts from %s', (_, service, version) => {
    for (const attempt of [1, 2, 123])
      expect(executionNameProblem(executionName(service, version, attempt))).toBeNull();
    expect(executionNameProblem(rollbackName(executionName(service, version, 1), 7))).toBeNull();
  });
});

describe('the state carries ids (Step Functions allows 256 KiB of state)', () => {
  const waves = [['a'], Array.from({ length: 99 }, (_, i) => `r${i}`)];
  const big = planRelease({
    config: configWith(waves),
    releaseId: 'r1',
    version: '2.0.0',
    artifact: `appspec:${'x'.repeat(2048)}`,
    regionStateMachineArn: 'arn',
    owner: 'test',
  });

  it('keeps a plan of 100 regions with a 2 KB AppSpec to a few hundred bytes', () => {
    expect(jsonBytes(big)).toBeGreaterThan(200 * 1024);
    expect(jsonBytes(planRef(big))).toBeLessThan(512);
    expect(planRef(big)).toMatchObject({
      releaseId: 'r1',
      waveCount: 2,
      mode: 'release',
      gate: { intervalSeconds: 1 },
    });
  });

  it('gives a child the whole task its ids stand for: the planned deploy, or the rollback to its before', () => {
    const task = big.waves[1]?.regions[3];
    if (!task) throw new Error('no task');
    const record = recordWith([{ region: task.region, wave: 1, phase: 'deployed', before: '1.0.0' }]);
    expect(regionTask(big, record, regionRef(task))).toEqual(task);
    const back = regionTask(big, record, { ...regionRef(task), action: 'rollback' });
    expect(back).toEqual(planRollback(big, record, { kind: 'GateFailed', wave: 1, signals: [] }).steps[0]);
    expect(back).toMatchObject({ action: 'rollback', revision: { version: '1.0.0' }, target: task.target });
  });

  it('finds nothing for a region the plan lacks, or a rollback the record does not know', () => {
    const record = recordWith([]);
    expect(regionTask(big, record, { region: 'nowhere', action: 'deploy' })).toBeUndefined();
    expect(regionTask(big, record, { region: 'a', action: 'rollback' })).toBeUndefined();
  });
});

describe('planRollback', () => {
  const p = plan([['a'], ['b', 'c'], ['d']]);
  it('rolls back every touched region, earlier waves included, each to its own last-known-good', () => {
    const record = recordWith([
      { region: 'a', wave: 0, phase: 'deployed', before: '1.0.0' },
      { region: 'b', wave: 1, phase: 'deployed', before: '1.1.0' },
      { region: 'c', wave: 1, phase: 'failed', before: '0.9.0' },
      { region: 'd', wave: 2, phase: 'pending', before: '1.0.0' },
    ]);
    const rollback = planRollback(p, record, { kind: 'GateFailed', wave: 1, signals: ['c: bad'] });
    expect(rollback.steps.map((s) => [s.region, s.action, s.revision?.version])).toEqual([
      ['a', 'rollback', '1.0.0'],
      ['b', 'rollback', '1.1.0'],
      ['c', 'rollback', '0.9.0'],
    ]);
  });

  it('takes a region with nothing before back to nothing', () => {
    const record = recordWith([{ region: 'a', wave: 0, phase: 'deployed', before: null }]);
    expect(planRollback(p, record, { kind: 'GateFailed', wave: 0, signals: [] }).steps[0]?.revision).toBeNull();
  });

  it('is idempotent: re-running after a partial rollback sends the same regions to the same revisions', () => {
    const fresh = recordWith([
      { region: 'a', wave: 0, phase: 'deployed', before: '1.0.0' },
      { region: 'b', wave: 1, phase: 'failed', before: '0.9.0' },
      { region: 'c', wave: 1, phase: 'pending', before: '1.1.0' },
    ]);
    const partial = recordWith([
      { region: 'a', wave: 0, phase: 'rolled-back', before: '1.0.0' },
      { region: 'b', wave: 1, phase: 'rollback-failed', before: '0.9.0' },
      { region: 'c', wave: 1, phase: 'pending', before: '1.1.0' },
    ]);
    const cause = { kind: 'GateFailed' as const, wave: 1, signals: [] };
    const steps = (record: typeof fresh) =>
      planRollback(p, record, cause).steps.map((s) => [s.region, s.action, s.revision?.version, s.revision?.artifact]);
    expect(touchedRegions(partial)).toEqual(['a', 'b']);
    expect(steps(partial)).toEqual([
      ['a', 'rollback', '1.0.0', '/builds/1.0.0'],
      ['b', 'rollback', '0.9.0', '/builds/0.9.0'],
    ]);
    expect(steps(partial)).toEqual(steps(fresh));
  });
});

describe('concludeRelease', () => {
  const record = recordWith([
    { region: 'a', wave: 0, phase: 'rolled-back', before: '1.0.0' },
    { region: 'b', wave: 1, phase: 'rollback-failed', before: '1.0.0' },
  ]);
  const result = (region: string, outcome: RegionResult['outcome']): RegionResult => ({
    region,
    action: 'rollback',
    outcome,
    version: '1.0.0',
    changed: outcome === 'rolled-back',
    samples: { ok: 0, errors: 0, missing: 0 },
    ...(outcome === 'rollback-failed' ? { message: 'crashed' } : {}),
  });
  const cause = { kind: 'GateFailed' as const, wave: 1, signals: ['b: 5/5 failed'] };
  const versions = { a: '1.0.0', b: '2.0.0' };

  it('is ROLLED_BACK when every region went back', () => {
    const o = concludeRelease(
      record,
      { kind: 'RolledBack', cause, results: [result('a', 'rolled-back'), result('b', 'rolled-back')] },
      versions,
    );
    expect(o.status).toBe('ROLLED_BACK');
    expect(o.regions.map((r) => [r.region, r.version])).toEqual([
      ['a', '1.0.0'],
      ['b', '2.0.0'],
    ]);
  });
  it('is ROLLBACK_FAILED naming the region that did not go back', () => {
    const o = concludeRelease(
      record,
      { kind: 'RolledBack', cause, results: [result('a', 'rolled-back'), result('b', 'rollback-failed')] },
      versions,
    );
    expect(o.status).toBe('ROLLBACK_FAILED');
    expect(o.reason).toContain('b (crashed)');
    expect(o.reason).not.toContain('a (');
  });
  it('is BLOCKED when the first wave was blocked before anything was touched, every region as it was', () => {
    const untouched = recordWith([
      { region: 'a', wave: 0, phase: 'pending', before: '1.0.0' },
      { region: 'b', wave: 1, phase: 'pending', before: null },
    ]);
    const o = concludeRelease(
      untouched,
      { kind: 'RolledBack', cause: { kind: 'WaveBlocked', wave: 0, signals: ['a sick'] }, results: [] },
      { a: '1.0.0', b: null },
    );
    expect(o.status).toBe('BLOCKED');
    expect(o.reason).toContain('no region had been touched');
    expect(o.regions.map((r) => [r.region, r.phase, r.version])).toEqual([
      ['a', 'pending', '1.0.0'],
      ['b', 'pending', null],
    ]);
  });
  it('is SUCCEEDED with every region and its version', () => {
    const o = concludeRelease(record, { kind: 'Succeeded' }, versions);
    expect(o.status).toBe('SUCCEEDED');
    expect(o.regions).toHaveLength(2);
  });
});

describe('nextPollSeconds', () => {
  it('doubles up to the cap', () => {
    const seq = [1];
    for (let i = 0; i < 8; i++) seq.push(nextPollSeconds(seq.at(-1) as number, 1, 30));
    expect(seq).toEqual([1, 2, 4, 8, 16, 30, 30, 30, 30]);
  });
});

describe('planRelease for an emergency release', () => {
  const sos = { actor: 'ann', reason: 'checkout is down' };
  const planned = (config: ReturnType<typeof configWith>) =>
    planRelease({
      config,
      releaseId: 'r1',
      version: '2.0.0',
      artifact: '/b',
      regionStateMachineArn: 'a',
      owner: 't',
      emergency: sos,
    });

  it('shortens every bake to emergency.minBakeSeconds, never lengthens one, and marks the record for review', () => {
    const config = configWith([['us-east-1'], ['eu-west-1']], { emergency: { minBakeSeconds: 5 } });
    const second = config.waves[1];
    if (!second) throw new Error('fixture');
    second.bakeSeconds = 2;
    const p = planned(config);
    expect(p.waves.map((w) => w.bakeSeconds)).toEqual([5, 2]);
    expect(p.emergency).toEqual(sos);
    expect(initialRecord(p, [], 'now').emergency).toEqual({ ...sos, review: true });
    const long = configWith([['us-east-1']]);
    for (const wave of long.waves) wave.bakeSeconds = 3600;
    expect(planned(long).waves[0]?.bakeSeconds).toBe(EMERGENCY_MIN_BAKE_SECONDS);
  });

  it('keeps the canary region alone and first even where the policy allows a wider first wave', () => {
    const config = configWith([['us-east-1', 'eu-west-1'], ['ap-1']], { policy: { allowMultiRegionCanary: true } });
    expect(planned(config).waves.map((w) => w.regions.map((r) => r.region))).toEqual([
      ['us-east-1'],
      ['eu-west-1'],
      ['ap-1'],
    ]);
    expect(planned(config).waves.flatMap((w) => w.regions.map((r) => r.wave))).toEqual([0, 1, 2]);
  });
});

describe('observedStates', () => {
  const context = { service: 'shop', releaseId: 'shop-1.1.0', updatedAt: '2026-12-01T00:00:00.000Z' };
  const rev = (version: string) => ({ version, artifact: `/r/${version}` });

  it('writes what the region says where it differs from the ledger: a rollback that switched back, then failed', () => {
    const recorded = new Map([
      ['eu-west-1', rev('1.1.0')],
      ['us-east-1', rev('1.0.0')],
    ]);
    const observed = new Map([
      ['eu-west-1', rev('1.0.0')],
      ['us-east-1', rev('1.0.0')],
    ]);
    expect(observedStates(recorded, observed, context)).toEqual([
      { ...context, region: 'eu-west-1', current: rev('1.0.0') },
    ]);
  });

  it('records a region left with nothing, and keeps the recorded state of one the deployer could not read', () => {
    const recorded = new Map([
      ['eu-west-1', rev('1.1.0')],
      ['us-east-1', rev('1.1.0')],
    ]);
    const observed = new Map<string, ReturnType<typeof rev> | null | undefined>([
      ['eu-west-1', null],
      ['us-east-1', undefined],
    ]);
    expect(observedStates(recorded, observed, context)).toEqual([{ ...context, region: 'eu-west-1', current: null }]);
  });
});

describe('observedStatesOf', () => {
  const rev = (version: string) => ({ version, artifact: `/r/${version}` });
  it('writes, in the release’s name, only the regions it touched that drifted from the ledger', () => {
    const record = recordWith([
      { region: 'us-east-1', wave: 0, phase: 'deploying', before: '1.0.0' },
      { region: 'eu-west-1', wave: 1, phase: 'pending', before: '1.0.0' },
    ]);
    const recorded = new Map([
      ['us-east-1', rev('1.0.0')],
      ['eu-west-1', rev('1.0.0')],
    ]);
    // A region the release never reached shows something else: not the release's doing.
    const observed = new Map([
      ['us-east-1', rev('2.0.0')],
      ['eu-west-1', rev('9.9.9')],
    ]);
    expect(observedStatesOf(record, recorded, observed, '2026-12-01T00:00:00.000Z')).toEqual([
      {
        service: 'shop',
        releaseId: 'shop-2.0.0',
        region: 'us-east-1',
        current: rev('2.0.0'),
        updatedAt: '2026-12-01T00:00:00.000Z',
      },
    ]);
  });
});
