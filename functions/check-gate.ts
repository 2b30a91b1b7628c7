/**
 * CheckGate: one monitoring round of a wave's bake. Probes every region deployed so far,
 * adds the samples, and decides: keep baking, next wave, roll back, or hold for a human (an
 * Inconclusive gate with onInconclusive: pause). An abort or a promote decides over the signals.
 */

import type { GateState, PlanRef } from '../core/types.ts';
import type { Deps } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { eventsFromEnv, proberFromEnv } from './runtime/ports.ts';
import { deployedTasks, gateState, probeRound, releaseRecord } from './shared/bake.ts';
import { loadPlan } from './shared/plan.ts';

export const createCheckGate =
  (deps: Pick<Deps, 'ledger' | 'prober' | 'events' | 'now'>) =>
  async ({ plan: ref, waveIndex, gate }: { plan: PlanRef; waveIndex: number; gate: GateState }): Promise<GateState> => {
    const plan = await loadPlan(deps, ref);
    const record = await releaseRecord(deps, plan);
    const regions = await probeRound(deps, plan, deployedTasks(plan, waveIndex, record), gate.regions);
    return gateState(deps, plan, waveIndex, record, gate, regions);
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createCheckGate({ ledger: ledgerFromEnv(), prober: proberFromEnv(), events: eventsFromEnv(), now: Date.now }),
);
