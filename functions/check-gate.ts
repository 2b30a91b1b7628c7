/**
 * CheckGate: one monitoring round of a wave's bake. Probes every region deployed so far,
 * adds the samples, and decides: keep baking, next wave, or roll back.
 */

import { lambda } from '../backends/aws/lambda.ts';
import { eventsFromEnv, proberFromEnv } from '../backends/aws/ports.ts';
import type { GateState, ReleasePlan } from '../core/types.ts';
import type { Deps } from './deps.ts';
import { deployedTasks, gateState, probeRound } from './shared/bake.ts';

export const createCheckGate =
  (deps: Pick<Deps, 'prober' | 'events' | 'now'>) =>
  async ({ plan, waveIndex, gate }: { plan: ReleasePlan; waveIndex: number; gate: GateState }): Promise<GateState> => {
    const regions = await probeRound(deps, plan, deployedTasks(plan, waveIndex), gate.regions);
    return gateState(deps, plan, waveIndex, gate.startedAt, gate.bakeUntil, regions);
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createCheckGate({ prober: proberFromEnv(), events: eventsFromEnv(), now: Date.now }),
);
