import { describe, expect, it } from 'vitest';
import { readDeploymentStatus } from '../../core/deployment-status.ts';

describe('readDeploymentStatus', () => {
  it.each(['Created', 'Queued', 'InProgress', 'Baking', undefined])(
    'reads %s as InProgress with nothing to continue',
    (status) => {
      expect(readDeploymentStatus({ deploymentId: 'd-1', status })).toEqual({ phase: { status: 'InProgress' } });
    },
  );

  it('reads Ready (blue/green waiting for its traffic reroute) as InProgress that needs ContinueDeployment READY_WAIT', () => {
    expect(readDeploymentStatus({ deploymentId: 'd-1', status: 'Ready' })).toEqual({
      phase: { status: 'InProgress' },
      continueWith: 'READY_WAIT',
    });
    expect(
      readDeploymentStatus({ deploymentId: 'd-1', status: 'Ready', instanceTerminationWaitTimeStarted: false }),
    ).toMatchObject({ continueWith: 'READY_WAIT' });
  });

  it('leaves a Ready deployment alone once traffic moved and the termination wait began (never ends it early)', () => {
    expect(
      readDeploymentStatus({ deploymentId: 'd-1', status: 'Ready', instanceTerminationWaitTimeStarted: true }),
    ).toEqual({ phase: { status: 'InProgress' } });
  });

  it('reads Succeeded, Failed and Stopped as the port does, with the reason', () => {
    expect(readDeploymentStatus({ status: 'Succeeded' })).toEqual({ phase: { status: 'Succeeded' } });
    expect(
      readDeploymentStatus({ deploymentId: 'd-1', status: 'Failed', errorInformation: { message: 'hook failed' } }),
    ).toEqual({ phase: { status: 'Failed', message: 'hook failed' } });
    expect(readDeploymentStatus({ deploymentId: 'd-1', status: 'Failed' })).toEqual({
      phase: { status: 'Failed', message: 'd-1 failed (CodeDeploy gave no reason)' },
    });
    expect(
      readDeploymentStatus({ deploymentId: 'd-1', status: 'Stopped', errorInformation: { code: 'TIMEOUT' } }),
    ).toEqual({ phase: { status: 'Failed', message: 'stopped: TIMEOUT' } });
  });

  it('reads a deployment CodeDeploy rolled back itself as Failed whatever its status, and never continues it', () => {
    for (const status of ['Succeeded', 'Ready', 'Stopped']) {
      const reading = readDeploymentStatus({
        deploymentId: 'd-9',
        status,
        rollbackInfo: { rollbackDeploymentId: 'd-10' },
      });
      expect(reading.phase).toMatchObject({ status: 'Failed', message: expect.stringContaining('d-10') });
      expect(reading.continueWith).toBeUndefined();
    }
  });
});
