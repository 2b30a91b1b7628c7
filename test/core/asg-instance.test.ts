import { describe, expect, it } from 'vitest';
import { type AsgNewHostFacts, asgNewHost, leavingGroup } from '../../core/asg-instance.ts';
import { readinessOverdue, readinessRound } from '../../core/new-host.ts';

const OLD = [
  { instanceId: 'i-old1', lifecycleState: 'InService', healthStatus: 'Healthy' },
  { instanceId: 'i-old2', lifecycleState: 'InService', healthStatus: 'Healthy' },
];
const before = ['i-old1', 'i-old2'];
const facts = (over: Partial<AsgNewHostFacts> = {}): AsgNewHostFacts => ({ inGroup: OLD, before, ...over });
const fresh = (lifecycleState?: string, healthStatus?: string) => ({
  instanceId: 'i-new',
  ...(lifecycleState ? { lifecycleState } : {}),
  ...(healthStatus ? { healthStatus } : {}),
});

describe('asgNewHost', () => {
  it('is still starting, with no instance, while the group has launched nothing new', () => {
    expect(asgNewHost(facts())).toEqual({
      untagged: false,
      readiness: { kind: 'starting', why: 'no new instance in the group yet' },
    });
    // An old instance leaving is no new host.
    expect(
      asgNewHost(facts({ inGroup: [{ ...OLD[0], lifecycleState: 'Terminating' } as never, OLD[1] as never] }))
        .instanceId,
    ).toBeUndefined();
  });

  it.each([
    ['Pending', 'Healthy', 'starting', 'Pending'],
    ['Pending:Wait', 'Healthy', 'starting', "Pending:Wait: its launch hooks run, CodeDeploy's install among them"],
    ['Pending:Proceed', 'Healthy', 'starting', 'Pending:Proceed'],
    ['InService', 'Healthy', 'up', 'InService, Healthy'],
    ['InService', undefined, 'starting', 'InService, no health status'],
    ['InService', 'Unhealthy', 'down', 'is InService, Unhealthy'],
    ['Pending', 'Unhealthy', 'down', 'is Pending, Unhealthy'],
    ['Terminating', 'Healthy', 'down', 'is Terminating'],
    ['Terminating:Wait', 'Healthy', 'down', 'is Terminating:Wait'],
    ['Terminated', 'Healthy', 'down', 'is Terminated'],
    ['Detaching', 'Healthy', 'down', 'is Detaching'],
    ['Standby', 'Healthy', 'down', 'is Standby'],
  ])('finds the instance not there before: %s, %s → %s (%s)', (state, health, kind, why) => {
    const seen = asgNewHost(facts({ inGroup: [...OLD, fresh(state, health)] }));
    expect(seen).toMatchObject({ instanceId: 'i-new', untagged: true, readiness: { kind, why } });
  });

  it('keeps to the tagged instance once it has one, and counts it down once it has left the group', () => {
    const replacement = { instanceId: 'i-replacement', lifecycleState: 'Pending' };
    expect(
      asgNewHost(
        facts({
          inGroup: [...OLD, replacement],
          tagged: { instanceId: 'i-new', state: 'terminated' },
          activity: 'Successful: instance i-new failed its ELB health check',
        }),
      ),
    ).toEqual({
      instanceId: 'i-new',
      untagged: false,
      readiness: {
        kind: 'down',
        why: 'is no longer in the group (EC2: terminated); latest scaling activity: Successful: instance i-new failed its ELB health check',
      },
    });
    const tagged = asgNewHost(
      facts({ inGroup: [...OLD, fresh('InService', 'Healthy')], tagged: { instanceId: 'i-new' } }),
    );
    expect(tagged).toMatchObject({ instanceId: 'i-new', untagged: false, readiness: { kind: 'up' } });
  });

  it('names the scaling activity when one is given, for a launch that never came', () => {
    expect(asgNewHost(facts({ activity: 'Failed: We currently do not have sufficient capacity' })).readiness).toEqual({
      kind: 'starting',
      why: 'no new instance in the group yet; latest scaling activity: Failed: We currently do not have sufficient capacity',
    });
  });

  it('fails the round naming the state once past the readiness timeout, and passes nothing while it starts', () => {
    const base = { launchedAt: 0, timeoutMs: 60_000, count: 2, what: 'the new instance of Auto Scaling group shop' };
    const none = asgNewHost(facts()).readiness;
    expect(readinessRound({ ...base, now: 60_000, readiness: none })).toEqual({ kind: 'samples', samples: [] });
    expect(readinessRound({ ...base, now: 60_001, readiness: none })).toEqual({
      kind: 'samples',
      samples: Array(2).fill({
        kind: 'error',
        message:
          'the new instance of Auto Scaling group shop not up within 60 s of its start (no new instance in the group yet)',
      }),
    });
    const waiting = asgNewHost(facts({ inGroup: [...OLD, fresh('Pending:Wait')] })).readiness;
    expect(readinessRound({ ...base, now: 61_000, readiness: waiting })).toMatchObject({
      samples: Array(2).fill({
        kind: 'error',
        message: expect.stringContaining('not up within 60 s of its start (Pending:Wait:'),
      }),
    });
    const gone = asgNewHost(facts({ inGroup: [...OLD, fresh('Terminating')] })).readiness;
    expect(
      readinessRound({ ...base, now: 1, readiness: gone, what: 'instance i-new of Auto Scaling group shop' }),
    ).toEqual({
      kind: 'samples',
      samples: Array(2).fill({ kind: 'error', message: 'instance i-new of Auto Scaling group shop is Terminating' }),
    });
  });
});

describe('readinessOverdue and leavingGroup', () => {
  it('is overdue only strictly past the timeout', () => {
    expect(readinessOverdue({ launchedAt: 10, timeoutMs: 5, now: 15 })).toBe(false);
    expect(readinessOverdue({ launchedAt: 10, timeoutMs: 5, now: 16 })).toBe(true);
  });

  it('says which lifecycle states are already leaving the group', () => {
    for (const state of [
      'Terminating',
      'Terminating:Wait',
      'Terminating:Proceed',
      'Terminated',
      'Detaching',
      'Detached',
    ]) {
      expect(leavingGroup(state)).toBe(true);
    }
    for (const state of [undefined, 'Pending', 'Pending:Wait', 'InService', 'Standby'])
      expect(leavingGroup(state)).toBe(false);
  });
});
