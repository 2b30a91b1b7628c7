/**
 * WaitForDeployment's own look at the deployment, right after it kept its token: on the real ledger
 * code over dynalite, with a deployer that says how the deployment stands and callbacks that record
 * who was woken. The look works from the wait it just kept, so it never reads that wait back.
 */
import { describe, expect, it } from 'vitest';
import type { DeploymentHandle } from '../../core/deploy-wait.ts';
import type { RegionTask } from '../../core/types.ts';
import { createAwaitDeployment } from '../../functions/await-deployment.ts';
import { counted } from '../helpers/counted-ledger.ts';
import { dynamoPerFile } from '../helpers/dynamo-per-file.ts';
import { recordingCallbacks } from '../helpers/fixtures.ts';
import { runningRelease } from '../helpers/running-release.ts';

const dynamo = dynamoPerFile();
let n = 0;

async function setUp(status: 'InProgress' | 'Succeeded') {
  n += 1;
  const { ledger: real, plan } = await runningRelease(dynamo(), `await-deploy-${n}`);
  const { ledger, calls } = counted(real);
  const task = plan.waves[1]?.regions[0] as RegionTask;
  const { callbacks, woken } = recordingCallbacks();
  const deployment: DeploymentHandle = {
    deploymentId: `d-${n}`,
    status: 'InProgress',
    waitSeconds: 60,
    polls: 0,
    startedAt: Date.now(),
  };
  const wait = createAwaitDeployment({
    ledger,
    deployer: { getDeployment: async () => ({ status }) } as never,
    now: Date.now,
    callbacks,
  });
  return { real, calls, task, woken, deployment, wait };
}

describe('WaitForDeployment looks at its deployment once after keeping its token', () => {
  it('wakes its own token when the deployment ended before the token was kept, without reading the wait back', async () => {
    const { real, calls, task, woken, deployment, wait } = await setUp('Succeeded');
    await wait({ taskToken: 'tok-1', task, deployment });
    expect(woken).toHaveLength(1);
    expect(woken[0]?.token).toBe('tok-1');
    expect(woken[0]?.output).toMatchObject({ deploymentId: deployment.deploymentId, status: 'Succeeded' });
    // Kept, then taken by the wake: nothing is left for the deployment's event to find.
    expect(await real.getDeployWait(deployment.deploymentId)).toBeUndefined();
    expect(calls.get('putDeployWait')).toBe(1);
    expect(calls.get('getDeployWait') ?? 0).toBe(0);
  });

  it('keeps the wait for the deployment’s event when the deployment still runs, and wakes nothing', async () => {
    const { real, calls, task, woken, deployment, wait } = await setUp('InProgress');
    await wait({ taskToken: 'tok-2', task, deployment });
    expect(woken).toEqual([]);
    expect(await real.getDeployWait(deployment.deploymentId)).toMatchObject({
      token: 'tok-2',
      region: task.region,
      handle: { deploymentId: deployment.deploymentId },
    });
    expect(calls.get('getDeployWait') ?? 0).toBe(0);
  });
});
