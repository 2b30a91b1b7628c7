/**
 * The bake on the local engine waits on its token in place (LocalTaskTokens). A watcher finds the
 * bake in the ledger the moment it is kept there: the wait must already be listening then, or the
 * wake is `gone` and lost (an alarm event comes once: the bake would run to its end, up to hours,
 * with the signal bad). The ledger is the real DynamoDB code on a real dynalite; the wakes come from
 * inside its writes, the earliest a watcher could see them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTaskTokens } from '../../adapters/local/task-tokens.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { planRef } from '../../core/plan.ts';
import { createBake } from '../../functions/bake.ts';
import { BAKE_SIGNAL_FAILED } from '../../services/bake-watch.ts';
import { intentOf } from '../helpers/fixtures.ts';
import { runningRelease } from '../helpers/running-release.ts';

let dynamo: EmbeddedDynamo;
let n = 0;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
});
afterAll(async () => {
  await dynamo.close();
});

/** A ledger where shop-2.0.0 runs, whose `after` hook runs as each named write lands (a watcher reading it then). */
async function running(after: Partial<Record<'putBake' | 'putHoldToken', (token: string) => Promise<void>>>) {
  n += 1;
  const { ledger, plan } = await runningRelease(dynamo, `local-bake-${n}`);
  const putBake = ledger.putBake.bind(ledger);
  ledger.putBake = async (watch) => {
    await putBake(watch);
    await after.putBake?.(watch.token);
  };
  const putHoldToken = ledger.putHoldToken.bind(ledger);
  ledger.putHoldToken = async (service, releaseId, token) => {
    await putHoldToken(service, releaseId, token);
    await after.putHoldToken?.(token.token);
  };
  return { ledger, plan };
}

const tokens = new LocalTaskTokens();
/** A bake of wave 1 that runs 3 s if nothing wakes it: a lost wake shows as its end (States.Timeout) instead. */
const bakeInput = (plan: Parameters<typeof planRef>[0], intentsSeen = 0) => ({
  taskToken: `bake-token-${n}`,
  plan: planRef(plan),
  waveIndex: 0,
  gate: { startedAt: Date.now(), bakeUntil: Date.now() + 3_000, intentsSeen },
});

describe('the local bake wait', () => {
  it('hears an alarm that fails it the moment the bake is in the ledger', async () => {
    let woke: string | undefined;
    const { ledger, plan } = await running({
      putBake: async (token) => {
        woke = await tokens.fail(token, BAKE_SIGNAL_FAILED, 'region-01-errors went to ALARM');
      },
    });
    const bake = createBake({ ledger, now: Date.now, waitForToken: (t, s) => tokens.wait(t, s) });
    await expect(bake(bakeInput(plan))).rejects.toMatchObject({ name: BAKE_SIGNAL_FAILED });
    expect(woke).toBe('woken');
  }, 30_000);

  it('hears a promote that wakes it the moment its token is kept', async () => {
    let woke: string | undefined;
    const { ledger, plan } = await running({
      putHoldToken: async (token) => {
        woke = await tokens.wake({ token, reason: 'baking', at: '' }, intentOf('promote'));
      },
    });
    const bake = createBake({ ledger, now: Date.now, waitForToken: (t, s) => tokens.wait(t, s) });
    await expect(bake(bakeInput(plan))).resolves.toMatchObject({ verb: 'promote' });
    expect(woke).toBe('woken');
  }, 30_000);

  it('leaves no wait behind when an intent that came in first ends it at once', async () => {
    const { ledger, plan } = await running({});
    await ledger.putIntent(intentOf('promote'));
    const bake = createBake({ ledger, now: Date.now, waitForToken: (t, s) => tokens.wait(t, s) });
    const input = bakeInput(plan);
    await expect(bake(input)).resolves.toEqual({ woke: 'intent' });
    expect(tokens.isWaiting(input.taskToken)).toBe(false);
  });
});
