/**
 * Bake: a wave's whole bake as one `.waitForTaskToken` task whose timeout is what is left of the
 * bake, so its history costs a few events however long it bakes. It keeps the bake where its
 * watchers find it (the token, the regions deployed so far, what to probe) and the token where
 * the verbs find it (promote and abort wake it), then returns (AWS) or waits for the token here
 * (the local engine). A watcher fails it the moment a signal turns bad (services/bake-watch.ts);
 * at the timeout CheckGate makes the final check (minimum samples, core/gate.ts).
 */
import { bakeTiming } from '../core/bake.ts';
import { emptyCounts } from '../core/gate.ts';
import type { GateState, PlanRef } from '../core/types.ts';
import { type Deps, isoAt, namedError } from './deps.ts';
import { endOwnWait } from './hold.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { callbacksFromEnv } from './runtime/ports.ts';
import { deployedTasks, releaseRecord } from './shared/bake.ts';
import { loadPlan } from './shared/plan.ts';

export interface BakeInput {
  taskToken: string;
  plan: PlanRef;
  waveIndex: number;
  gate: Pick<GateState, 'startedAt' | 'bakeUntil' | 'intentsSeen' | 'newHosts'>;
}

export const createBake =
  (deps: Pick<Deps, 'ledger' | 'now' | 'waitForToken' | 'signal' | 'callbacks'>) =>
  async ({ taskToken, plan: ref, waveIndex, gate }: BakeInput): Promise<Record<string, unknown>> => {
    // Locally the wait listens before the bake and its token are kept where watchers and verbs find
    // them: a wake landing in between (an alarm comes once) would otherwise be `gone` and lost.
    const stop = new AbortController();
    const waiting = deps.waitForToken?.(
      taskToken,
      deps.signal ? AbortSignal.any([deps.signal, stop.signal]) : stop.signal,
    );
    waiting?.catch(() => {});
    let intents: number;
    try {
      intents = await keepBake(deps, { taskToken, plan: ref, waveIndex, gate });
    } catch (error) {
      stop.abort();
      throw error;
    }
    if (intents !== gate.intentsSeen) {
      stop.abort();
      if (!waiting) await endOwnWait(deps, taskToken, 'intent');
      return { woke: 'intent' };
    }
    if (!waiting) return { woke: 'token stored' };
    return untilBakeEnd(waiting, gate.bakeUntil - deps.now());
  };

/** Keeps the bake where its watchers find it and its token where the verbs do; returns how many intents there are now. */
async function keepBake(
  deps: Pick<Deps, 'ledger' | 'now'>,
  { taskToken, plan: ref, waveIndex, gate }: BakeInput,
): Promise<number> {
  const { service, releaseId } = ref;
  const plan = await loadPlan(deps, ref);
  const record = await releaseRecord(deps, plan);
  const tasks = deployedTasks(plan, waveIndex, record);
  const minUntil = bakeTiming(plan.waves[waveIndex], gate.startedAt).bakeMinUntil;
  // The wave's new hosts are watched like its regions (by name, on their own port); one its
  // launcher probes (a one-off ECS task) with its handle, for the watcher's launcher to ask.
  const watched = [
    ...tasks.map((t) => ({ region: t.region, target: t.target })),
    ...(gate.newHosts ?? []).flatMap((h) =>
      h.target
        ? [{ region: h.name, target: h.target, ...(h.probedBy === 'launcher' ? { newHost: h.handle } : {}) }]
        : [],
    ),
  ];
  await deps.ledger.putBake({
    service,
    releaseId,
    wave: waveIndex,
    token: taskToken,
    startedAt: gate.startedAt,
    bakeUntil: gate.bakeUntil,
    // An adaptive bake's min, from the plan (the state machine passes only the bake's start and end).
    ...(minUntil === undefined ? {} : { bakeMinUntil: minUntil }),
    version: plan.version,
    gate: plan.gate,
    regions: watched,
    samples: Object.fromEntries(watched.map((w) => [w.region, emptyCounts()])),
  });
  await deps.ledger.putHoldToken(service, releaseId, {
    token: taskToken,
    reason: `baking wave ${waveIndex + 1}`,
    at: isoAt(deps),
  });
  // A verb that landed after the check that led here and before the token was kept found no token
  // to wake: look once now, so it is not seen only at the bake's end. On AWS returning does not end
  // the wait: SendTaskSuccess on its own token does.
  return (
    (await deps.ledger.listIntents(service, releaseId)).length + (await deps.ledger.listIntents(service, null)).length
  );
}

/**
 * The local engine's wait also ends at the bake's end to the millisecond, as the task's timeout
 * (`States.Timeout`, caught into the final check): Step Functions takes whole seconds, rounded up
 * from when the bake started, so its own timeout would land up to a second after the bake.
 */
function untilBakeEnd(woken: Promise<Record<string, unknown>>, leftMs: number): Promise<Record<string, unknown>> {
  woken.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const ended = new Promise<never>((_, reject) => {
    // +1: a timer may fire within the millisecond before; the final check must see the bake over.
    timer = setTimeout(() => reject(namedError('States.Timeout', 'the bake ran its length')), Math.max(0, leftMs) + 1);
  });
  return Promise.race([woken, ended]).finally(() => clearTimeout(timer));
}

/** The Lambda entry point on AWS: keep the bake and the token; a watcher, a verb or the timeout ends the wait. */
export const handler = lambda(() =>
  createBake({ ledger: ledgerFromEnv(), now: Date.now, callbacks: callbacksFromEnv() }),
);
