import { describe, expect, it } from 'vitest';
import { ecsTaskReadiness } from '../../core/ecs-task.ts';
import { countsInGate, readinessRound, startingProbes } from '../../core/new-host.ts';
import { cdTarget } from '../adapters/aws/helpers.ts';

describe('ecsTaskReadiness', () => {
  it.each([
    [undefined, 'down', 'is gone (ECS no longer knows it)'],
    [{ lastStatus: 'PROVISIONING' }, 'starting', 'PROVISIONING, health UNKNOWN'],
    [{ lastStatus: 'PENDING', healthStatus: 'UNKNOWN' }, 'starting', 'PENDING, health UNKNOWN'],
    [{ lastStatus: 'RUNNING', healthStatus: 'HEALTHY' }, 'up', 'RUNNING, HEALTHY'],
    // No health check, or one not evaluated yet: ECS says both alike; the health URL decides.
    [{ lastStatus: 'RUNNING', healthStatus: 'UNKNOWN' }, 'up', 'RUNNING'],
    [{ lastStatus: 'RUNNING', healthStatus: 'UNHEALTHY' }, 'down', 'is UNHEALTHY (its container health check failed)'],
    [{ lastStatus: 'RUNNING', desiredStatus: 'STOPPED', stopCode: 'UserInitiated' }, 'down', 'stopped: UserInitiated'],
    [
      {
        lastStatus: 'STOPPED',
        stoppedReason: 'Essential container in task exited',
        containers: [{ name: 'web', exitCode: 137, reason: 'OutOfMemoryError' }, { name: 'sidecar' }],
      },
      'down',
      'stopped: Essential container in task exited (web: exit 137 OutOfMemoryError)',
    ],
    [{ lastStatus: 'STOPPED', stoppedReason: '' }, 'down', 'stopped: no reason given'],
  ])('%j → %s (%s)', (task, kind, why) => {
    expect(ecsTaskReadiness(task)).toEqual({ kind, why });
  });
});

describe('readinessRound', () => {
  const base = { launchedAt: 0, timeoutMs: 60_000, count: 3, what: 'task t of shop:8' };

  it('probes a host that is up', () => {
    expect(readinessRound({ ...base, now: 1, readiness: { kind: 'up', why: 'RUNNING' } })).toEqual({ kind: 'probe' });
  });

  it('gives no samples while it starts within its readiness timeout (missing data never passes)', () => {
    expect(readinessRound({ ...base, now: 60_000, readiness: { kind: 'starting', why: 'PENDING' } })).toEqual({
      kind: 'samples',
      samples: [],
    });
  });

  it('fails every probe of the round for one still starting past its timeout, or down', () => {
    expect(readinessRound({ ...base, now: 60_001, readiness: { kind: 'starting', why: 'PENDING' } })).toEqual({
      kind: 'samples',
      samples: Array(3).fill({ kind: 'error', message: 'task t of shop:8 not up within 60 s of its start (PENDING)' }),
    });
    expect(readinessRound({ ...base, now: 5, readiness: { kind: 'down', why: 'stopped: exit 1' } })).toEqual({
      kind: 'samples',
      samples: Array(3).fill({ kind: 'error', message: 'task t of shop:8 stopped: exit 1' }),
    });
  });
});

describe('startingProbes', () => {
  const refused = { kind: 'error' as const, message: 'ECONNREFUSED' };
  const http500 = { kind: 'error' as const, status: 500, message: 'HTTP 500' };
  const silent = { kind: 'missing' as const, message: 'no answer within 300 ms' };
  const ok = { kind: 'ok' as const, status: 200 };

  it('leaves out what is not an answer yet within the readiness timeout, and keeps every HTTP answer', () => {
    expect(startingProbes([refused, silent, http500, ok], { launchedAt: 0, timeoutMs: 10, now: 10 })).toEqual([
      http500,
      ok,
    ]);
  });

  it('counts everything past the timeout', () => {
    expect(startingProbes([refused, silent], { launchedAt: 0, timeoutMs: 10, now: 11 })).toEqual([refused, silent]);
  });
});

describe('countsInGate', () => {
  it('counts a host something probes, not one judged by its launch alone', () => {
    expect(countsInGate({ target: cdTarget() })).toBe(true);
    expect(countsInGate({ probedBy: 'launcher' })).toBe(true);
    expect(countsInGate({})).toBe(false);
  });
});
