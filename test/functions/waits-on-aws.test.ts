/**
 * The hold and the bake on AWS, where a `.waitForTaskToken` task ends only by SendTaskSuccess /
 * SendTaskFailure (or its timeout), whatever the Lambda returns. The Step Functions SDK is mocked at
 * its boundary (no AWS account here); the ledger is the real DynamoDB code on a real dynalite.
 */
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StepFunctionsTaskCallbacks } from '../../adapters/aws/step-functions.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { planRef } from '../../core/plan.ts';
import { createBake } from '../../functions/bake.ts';
import { createEnterWave } from '../../functions/enter-wave.ts';
import { createHold } from '../../functions/hold.ts';
import type { RegionDeployer } from '../../ports/region-deployer.ts';
import { intentOf } from '../helpers/fixtures.ts';
import { runningRelease } from '../helpers/running-release.ts';

const sfn = mockClient(SFNClient);
let dynamo: EmbeddedDynamo;
let n = 0;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(() => {
  sfn.reset();
  sfn.on(SendTaskSuccessCommand).resolves({});
});

/** A ledger where shop-2.0.0 runs (its plan kept, its first region deployed). */
async function running() {
  n += 1;
  const { ledger, plan } = await runningRelease(dynamo, `waits-${n}`);
  return { ledger, plan };
}

const callbacks = () => new StepFunctionsTaskCallbacks(new SFNClient({ region: 'eu-west-1' }));
const tokensSent = () => sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input.taskToken);

describe('a verb that lands between the decision to wait and the token being kept', () => {
  it('wakes the hold at once (SendTaskSuccess on its own token), not at its timeout', async () => {
    const { ledger } = await running();
    // EnterWave decided to hold having seen no intent; a resume landed before the hold kept its token.
    await ledger.putIntent(intentOf('resume'));
    const hold = createHold({ ledger, now: Date.now, waitHere: false, callbacks: callbacks() });
    const out = await hold({
      taskToken: 'hold-token',
      plan: { service: 'shop', releaseId: 'shop-2.0.0' },
      reasons: ['paused'],
      holdSeconds: 3600,
      intentsSeen: 0,
    });
    expect(out).toEqual({ woke: 'intent' });
    expect(tokensSent()).toEqual(['hold-token']);
  });

  it('keeps the token for the verbs when nothing landed, and wakes nothing', async () => {
    const { ledger } = await running();
    await ledger.putIntent(intentOf('pause'));
    const hold = createHold({ ledger, now: Date.now, waitHere: false, callbacks: callbacks() });
    const out = await hold({
      taskToken: 'hold-token',
      plan: { service: 'shop', releaseId: 'shop-2.0.0' },
      reasons: ['paused'],
      holdSeconds: 3600,
      intentsSeen: 1,
    });
    expect(out).toEqual({ woke: 'token stored' });
    expect(tokensSent()).toEqual([]);
    expect((await ledger.takeHoldTokens('shop', 'shop-2.0.0')).map((t) => t.token)).toEqual(['hold-token']);
  });

  it('wakes a queued release whose lock holder ended before its token was kept', async () => {
    const { ledger } = await running();
    const hold = createHold({ ledger, now: Date.now, waitHere: false, callbacks: callbacks() });
    const out = await hold({
      taskToken: 'queue-token',
      plan: { service: 'shop', releaseId: 'shop-2.0.0' },
      reasons: ['queued'],
      holdSeconds: 3600,
      intentsSeen: 0,
      lockSeen: 'shop-1.9.0', // no lock now: that release ended
    });
    expect(out).toEqual({ woke: 'lock' });
    expect(tokensSent()).toEqual(['queue-token']);
  });

  it('wakes the bake at once too', async () => {
    const { ledger, plan } = await running();
    await ledger.putIntent(intentOf('promote'));
    const bake = createBake({ ledger, now: Date.now, callbacks: callbacks() });
    const out = await bake({
      taskToken: 'bake-token',
      plan: planRef(plan),
      waveIndex: 0,
      gate: { startedAt: 0, bakeUntil: 600_000, intentsSeen: 0 },
    });
    expect(out).toEqual({ woke: 'intent' });
    expect(tokensSent()).toEqual(['bake-token']);
  });
});

describe('tokens of holds that timed out', () => {
  it('are deleted when the release looks again (EnterWave), whatever it decides', async () => {
    const { ledger, plan } = await running();
    // A hold kept its token and timed out (a window opened): nothing called SendTask* with it.
    await ledger.putHoldToken('shop', 'shop-2.0.0', { token: 'timed-out', reason: 'window closed', at: 'then' });
    await ledger.putIntent(intentOf('pause'));
    const unused = () => Promise.reject(new Error('not called for a held wave'));
    const deployer = {
      startDeployment: unused,
      getDeployment: unused,
      currentRevision: unused,
      stopDeployment: unused,
    } as unknown as RegionDeployer;
    const enterWave = createEnterWave({
      ledger,
      deployer,
      prober: { probe: unused },
      events: { emit: () => {} },
      now: Date.now,
    });
    const entry = await enterWave({ plan: planRef(plan), waveIndex: 1 });
    expect(entry.kind).toBe('Hold');
    expect(await ledger.takeHoldTokens('shop', 'shop-2.0.0')).toEqual([]);
  });
});
