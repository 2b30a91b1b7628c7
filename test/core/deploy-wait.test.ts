import { describe, expect, it } from 'vitest';
import { type DeploymentHandle, deploymentStep, startedHandle } from '../../core/deploy-wait.ts';

const deploy = { pollSeconds: 60, maxPollSeconds: 900 };
const T0 = Date.UTC(2026, 2, 1, 12);
const started = startedHandle('d-1', deploy, T0);

describe('deploymentStep: whether a deployment has finished, and as what', () => {
  it('starts a deployment with its first re-check after deploy.pollSeconds', () => {
    expect(started).toEqual({ deploymentId: 'd-1', status: 'InProgress', waitSeconds: 60, polls: 0, startedAt: T0 });
  });

  it.each([
    ['Succeeded', { status: 'Succeeded' as const }, { status: 'Succeeded' }],
    [
      'Failed, with the reason and whether it touched the region',
      { status: 'Failed' as const, message: 'ApplicationStop failed', untouched: true },
      { status: 'Failed', message: 'ApplicationStop failed', untouched: true },
    ],
    [
      'Failed without a reason, named with how long it ran',
      { status: 'Failed' as const, message: '' },
      { status: 'Failed', message: 'd-1 failed after 90 s' },
    ],
  ])('settles on %s', (_, status, handle) => {
    const step = deploymentStep({ handle: started, status, deploy, now: T0 + 90_000 });
    expect(step.kind).toBe('settled');
    expect(step.handle).toMatchObject({ deploymentId: 'd-1', startedAt: T0, polls: 1, ...handle });
    if (!('untouched' in handle)) expect(step.handle.untouched).toBeUndefined();
  });

  it('keeps waiting on anything not final (CodeDeploy Queued, Ready, Baking: InProgress to the deployer)', () => {
    const step = deploymentStep({ handle: started, status: { status: 'InProgress' }, deploy, now: T0 + 60_000 });
    expect(step).toEqual({ kind: 'wait', handle: { ...started, waitSeconds: 120, polls: 1 } });
  });

  it('doubles the re-check interval from pollSeconds up to maxPollSeconds, and never below pollSeconds', () => {
    const waits: number[] = [];
    let handle: DeploymentHandle = { ...started, waitSeconds: 1 };
    for (let i = 0; i < 6; i++) {
      const step = deploymentStep({ handle, status: { status: 'InProgress' }, deploy, now: T0 });
      handle = step.handle;
      waits.push(handle.waitSeconds);
    }
    expect(waits).toEqual([60, 120, 240, 480, 900, 900]);
    expect(handle.polls).toBe(6);
  });
});
