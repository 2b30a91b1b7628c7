/**
 * Waking a region's child when its deployment ends (services/deploy-watch.ts), on the real ledger
 * code over dynalite: a caller that knows the deployment has ended (the local fleet) takes the wait
 * at once, one ledger request, and a wait taken for a deployment that is not finished after all
 * goes back for the next waker.
 */
import { describe, expect, it } from 'vitest';
import type { DeployWait, RegionTask } from '../../core/types.ts';
import { deploymentChanged } from '../../services/deploy-watch.ts';
import { counted } from '../helpers/counted-ledger.ts';
import { dynamoPerFile } from '../helpers/dynamo-per-file.ts';
import { recordingCallbacks } from '../helpers/fixtures.ts';
import { runningRelease } from '../helpers/running-release.ts';

const dynamo = dynamoPerFile();
let n = 0;

async function waiting(status: 'InProgress' | 'Succeeded' | 'Failed') {
  n += 1;
  const { ledger: real, plan } = await runningRelease(dynamo(), `deploy-watch-${n}`);
  const task = plan.waves[1]?.regions[0] as RegionTask;
  const wait: DeployWait = {
    deploymentId: `d-${n}`,
    token: `tok-${n}`,
    service: task.service,
    releaseId: task.releaseId,
    region: task.region,
    target: task.target,
    deploy: { pollSeconds: 1, maxPollSeconds: 5 },
    handle: { deploymentId: `d-${n}`, status: 'InProgress', waitSeconds: 1, polls: 0, startedAt: Date.now() },
    at: new Date().toISOString(),
  };
  await real.putDeployWait(wait);
  const { ledger, calls } = counted(real);
  const { callbacks, woken } = recordingCallbacks();
  const deps = {
    ledger,
    deployer: { getDeployment: async () => ({ status, ...(status === 'Failed' ? { message: 'boom' } : {}) }) },
    callbacks,
    now: Date.now,
  };
  return { real, calls, wait, woken, deps };
}

describe('a deployment its caller knows has ended', () => {
  it('wakes the child with one ledger request: the wait is taken, not read first', async () => {
    const { real, calls, wait, woken, deps } = await waiting('Succeeded');
    const out = await deploymentChanged(deps as never, wait.deploymentId, { ended: true });
    expect(out).toMatchObject({ kind: 'settled', woke: 'woken', handle: { status: 'Succeeded' } });
    expect(woken.map((w) => w.token)).toEqual([wait.token]);
    expect(calls.get('getDeployWait') ?? 0).toBe(0);
    expect(calls.get('takeDeployWait')).toBe(1);
    expect(await real.getDeployWait(wait.deploymentId)).toBeUndefined();
  });

  it('wakes it with the failure the deployment ended with', async () => {
    const { wait, woken, deps } = await waiting('Failed');
    const out = await deploymentChanged(deps as never, wait.deploymentId, { ended: true });
    expect(out).toMatchObject({ kind: 'settled', handle: { status: 'Failed', message: 'boom' } });
    expect(woken).toHaveLength(1);
  });

  it('puts the wait back when the deployment is not finished after all, and wakes nothing', async () => {
    const { real, wait, woken, deps } = await waiting('InProgress');
    const out = await deploymentChanged(deps as never, wait.deploymentId, { ended: true });
    expect(out).toMatchObject({ kind: 'waiting' });
    expect(woken).toEqual([]);
    expect(await real.getDeployWait(wait.deploymentId)).toMatchObject({ token: wait.token });
  });

  it('finds nothing to wake when the child was woken already', async () => {
    const { real, wait, woken, deps } = await waiting('Succeeded');
    await real.takeDeployWait(wait.deploymentId);
    const out = await deploymentChanged(deps as never, wait.deploymentId, { ended: true });
    expect(out).toMatchObject({ kind: 'not-waited' });
    expect(woken).toEqual([]);
  });
});

describe('a deployment that may have changed (CodeDeploy’s event)', () => {
  it('reads the wait first and leaves it while the deployment runs', async () => {
    const { real, calls, wait, woken, deps } = await waiting('InProgress');
    const out = await deploymentChanged(deps as never, wait.deploymentId);
    expect(out).toMatchObject({ kind: 'waiting' });
    expect(calls.get('getDeployWait')).toBe(1);
    expect(calls.get('takeDeployWait') ?? 0).toBe(0);
    expect(woken).toEqual([]);
    expect(await real.getDeployWait(wait.deploymentId)).toMatchObject({ token: wait.token });
  });
});
