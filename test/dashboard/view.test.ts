import { describe, expect, it } from 'vitest';
import type { Stamped } from '../../core/events.ts';
import type { RegionState } from '../../core/model.ts';
import { dashboardView, emptyLog, recordEvent, type ViewInput } from '../../dashboard/view.ts';
import { configWith, intentOf, recordWith } from '../helpers/fixtures.ts';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

function input(over: Partial<ViewInput> = {}): ViewInput {
  return {
    config: configWith([['us-east-1'], ['eu-west-1', 'us-west-2']]),
    backend: 'local',
    now: T0 + 5_000,
    regionStates: [],
    releases: [],
    serviceIntents: [],
    log: emptyLog(),
    health: new Map(),
    ...over,
  };
}

const state = (region: string, version: string, releaseId: string, updatedAt: string): RegionState => ({
  service: 'shop',
  region,
  current: { version, artifact: `/b/${version}` },
  releaseId,
  updatedAt,
});

const stamp = (event: Record<string, unknown>, at = '2026-01-01T00:00:02.000Z') =>
  ({ service: 'shop', releaseId: 'shop-2.0.0', at, ...event }) as Stamped;

describe('dashboardView', () => {
  it('lists every configured region with its version, since when and by which release, in wave order', () => {
    const view = dashboardView(
      input({
        regionStates: [
          state('us-east-1', '2.0.0', 'shop-2.0.0', '2026-01-01T00:00:03.000Z'),
          state('eu-west-1', '1.0.0', 'shop-1.0.0', '2025-12-31T00:00:00.000Z'),
        ],
        health: new Map([['us-east-1', { health: 'unhealthy', detail: 'HTTP 500', at: T0 + 4_000 }]]),
      }),
    );
    expect(view.regions).toEqual([
      {
        region: 'us-east-1',
        wave: 0,
        waveName: 'wave-1',
        version: '2.0.0',
        since: '2026-01-01T00:00:03.000Z',
        releaseId: 'shop-2.0.0',
        health: 'unhealthy',
        healthDetail: 'HTTP 500',
      },
      {
        region: 'eu-west-1',
        wave: 1,
        waveName: 'wave-2',
        version: '1.0.0',
        since: '2025-12-31T00:00:00.000Z',
        releaseId: 'shop-1.0.0',
        health: 'unknown',
      },
      {
        region: 'us-west-2',
        wave: 1,
        waveName: 'wave-2',
        version: null,
        since: null,
        releaseId: null,
        health: 'unknown',
      },
    ]);
    // The matrix's columns: newest version first.
    expect(view.versions).toEqual(['2.0.0', '1.0.0']);
  });

  it('without a probe, says what the region’s last release found', () => {
    const succeeded = {
      ...recordWith([
        { region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' },
        { region: 'eu-west-1', wave: 1, phase: 'failed', before: '1.0.0' },
      ]),
      status: 'SUCCEEDED' as const,
      intents: [],
    };
    const failing = succeeded.regions['eu-west-1'];
    if (failing) failing.message = 'deployment d-1 failed';
    const view = dashboardView(input({ releases: [succeeded] }));
    expect(view.regions.map((r) => [r.region, r.health, r.healthDetail])).toEqual([
      ['us-east-1', 'healthy', 'passed the gates of shop-2.0.0 (not probed here)'],
      ['eu-west-1', 'unhealthy', 'deployment d-1 failed'],
      ['us-west-2', 'unknown', undefined],
    ]);
  });

  it('ignores a probe sent before the region last changed, and says a region being deployed is changing', () => {
    const record = {
      ...recordWith([
        { region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' },
        { region: 'eu-west-1', wave: 1, phase: 'deploying', before: '1.0.0' },
      ]),
      wave: 1,
      intents: [],
    };
    const view = dashboardView(
      input({
        regionStates: [
          state('us-east-1', '2.0.0', 'shop-2.0.0', '2026-01-01T00:00:03.000Z'),
          state('eu-west-1', '1.0.0', 'shop-1.0.0', '2025-12-31T00:00:00.000Z'),
        ],
        releases: [record],
        health: new Map([
          // Refused while its process restarted, before the ledger recorded 2.0.0 at 00:03.
          ['us-east-1', { health: 'unhealthy', detail: 'ECONNREFUSED', at: T0 + 2_000 }],
          ['eu-west-1', { health: 'unhealthy', detail: 'ECONNREFUSED', at: T0 + 4_000 }],
        ]),
      }),
    );
    expect(view.regions.map((r) => [r.region, r.health, r.healthDetail])).toEqual([
      ['us-east-1', 'unknown', undefined],
      ['eu-west-1', 'changing', undefined],
      ['us-west-2', 'unknown', undefined],
    ]);
  });

  it('shows the running release wave by wave, with the bake end and verdicts the release emitted', () => {
    const record = {
      ...recordWith([
        { region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' },
        { region: 'eu-west-1', wave: 1, phase: 'deploying', before: '1.0.0' },
        { region: 'us-west-2', wave: 1, phase: 'deploying', before: null },
      ]),
      wave: 1,
      waveCount: 2,
      intents: [],
    };
    const log = emptyLog();
    const early = {
      afterSeconds: 2,
      maxSeconds: 30,
      regions: 1,
      newHosts: 1,
      samples: 3,
      text: 'bake ended early at 2s of 30s: 1 region and its new host × ≥3 samples, all under threshold',
    };
    recordEvent(
      log,
      stamp({
        kind: 'gate',
        wave: 0,
        regions: ['us-east-1'],
        newHosts: ['new host (us-east-1)'],
        evaluation: { kind: 'Passed', early },
      }),
    );
    recordEvent(
      log,
      stamp({ kind: 'gate', wave: 1, regions: ['eu-west-1'], evaluation: { kind: 'Baking', remainingMs: 4000 } }),
    );
    const view = dashboardView(input({ releases: [record], log }));
    expect(view.release?.waves.map((w) => [w.name, w.state, w.gate?.kind])).toEqual([
      ['wave-1', 'done', 'Passed'],
      ['wave-2', 'current', 'Baking'],
    ]);
    expect(view.release?.waves[1]?.gate?.bakeUntil).toBe(T0 + 2_000 + 4_000);
    // An adaptive bake that ended early says on what evidence.
    expect(view.release?.waves[0]?.gate?.early).toBe(early.text);
    expect(view.release?.waves[1]?.gate?.early).toBeUndefined();
  });

  it('keeps a failed gate’s signals and the rollback with its reason', () => {
    const log = emptyLog();
    recordEvent(
      log,
      stamp({
        kind: 'gate',
        wave: 1,
        regions: ['us-east-1', 'eu-west-1'],
        evaluation: { kind: 'Failed', signals: ['eu-west-1: error rate 100% > 5%'] },
      }),
    );
    recordEvent(log, stamp({ kind: 'rollback-started', regions: ['us-east-1', 'eu-west-1'], reason: 'gate failed' }));
    const record = {
      ...recordWith([
        { region: 'us-east-1', wave: 0, phase: 'rolling-back', before: '1.0.0' },
        { region: 'eu-west-1', wave: 1, phase: 'rolling-back', before: '1.0.0' },
      ]),
      wave: 1,
      waveCount: 2,
      intents: [],
    };
    const view = dashboardView(input({ releases: [record], log }));
    expect(view.release?.waves[1]?.gate).toMatchObject({
      kind: 'Failed',
      signals: ['eu-west-1: error rate 100% > 5%'],
    });
    expect(view.release?.rollback).toEqual({ regions: ['us-east-1', 'eu-west-1'], reason: 'gate failed' });
  });

  it('reads what it can from the ledger alone: waves passed, an estimated bake end, the failing reason', () => {
    const running = {
      ...recordWith([
        { region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' },
        { region: 'eu-west-1', wave: 1, phase: 'deployed', before: '1.0.0' },
        { region: 'us-west-2', wave: 1, phase: 'deployed', before: '1.0.0' },
      ]),
      wave: 1,
      waveCount: 2,
      intents: [],
    };
    const last = running.regions['us-west-2'];
    if (last) last.updatedAt = '2026-01-01T00:00:04.000Z';
    const baking = dashboardView(input({ releases: [running] })).release?.waves;
    expect(baking?.[0]?.gate?.kind).toBe('Passed');
    // The latest of the wave's regions was recorded deployed at 00:04; wave-2 bakes 10 s.
    expect(baking?.[1]?.gate).toMatchObject({ kind: 'Baking', bakeUntil: T0 + 14_000, estimated: true });

    const failed = {
      ...running,
      status: 'ROLLED_BACK' as const,
      reason: 'wave 2 gate FAILED: eu-west-1: error rate 100%',
    };
    expect(dashboardView(input({ releases: [failed] })).release?.waves[1]?.gate).toMatchObject({
      kind: 'Failed',
      signals: ['wave 2 gate FAILED: eu-west-1: error rate 100%'],
    });
  });

  it('shows the running release over a newer queued one, and the history newest first with its audit', () => {
    const older = { ...recordWith([]), releaseId: 'shop-1.0.0', status: 'SUCCEEDED' as const, intents: [] };
    const runningOne = { ...recordWith([]), intents: [intentOf('pause'), intentOf('resume')] };
    const queued = { ...recordWith([]), releaseId: 'shop-3.0.0', status: 'QUEUED' as const, intents: [] };
    const view = dashboardView(input({ releases: [queued, runningOne, older], serviceIntents: [intentOf('freeze')] }));
    expect(view.release?.releaseId).toBe('shop-2.0.0');
    expect(view.history.map((h) => h.releaseId)).toEqual(['shop-3.0.0', 'shop-2.0.0', 'shop-1.0.0']);
    expect(view.history[1]?.intents.map((i) => [i.verb, i.actor])).toEqual([
      ['pause', 'ops@test'],
      ['resume', 'ops@test'],
    ]);
    expect(view.frozen?.verb).toBe('freeze');
  });
});
