/**
 * StartBake: after a wave's regions deployed, record their results (one ledger write for the
 * wave) and start its bake. A region whose deployment failed
 * fails the gate at once (core/gate.ts decides); otherwise the children's verification samples seed the gate, and every
 * region of earlier waves is probed too: they count during this bake as much as the new ones.
 */

import { resultPatches, resultStates } from '../core/outcome.ts';
import type { GateState, PlanRef, RegionResult } from '../core/types.ts';
import { type Deps, isoAt } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { eventsFromEnv, proberFromEnv } from './runtime/ports.ts';
import { deployedTasks, gateState, probeRound, releaseRecord } from './shared/bake.ts';
import { loadPlan } from './shared/plan.ts';

export interface StartBakeInput {
  plan: PlanRef;
  waveIndex: number;
  deployResults: RegionResult[];
}

export const createStartBake =
  (deps: Pick<Deps, 'ledger' | 'prober' | 'events' | 'now'>) =>
  async ({ plan: ref, waveIndex, deployResults }: StartBakeInput): Promise<GateState> => {
    const plan = await loadPlan(deps, ref);
    // The wave's results, in two requests whatever its width: what each region runs now, and its phase.
    const updatedAt = isoAt(deps);
    // Each region's own revision (per-region artifacts): what a later rollback of it redeploys.
    const revisions = new Map(plan.waves.flatMap((w) => w.regions.map((t) => [t.region, t.revision] as const)));
    const fallback = { version: plan.version, artifact: plan.artifact };
    await deps.ledger.putRegions(
      resultStates(deployResults, (r) => revisions.get(r.region) ?? fallback, {
        service: plan.service,
        releaseId: plan.releaseId,
        updatedAt,
      }),
    );
    await deps.ledger.updateReleaseRegions(plan.service, plan.releaseId, resultPatches(deployResults, updatedAt));
    const wave = plan.waves[waveIndex];
    const startedAt = deps.now();
    const bakeUntil = startedAt + (wave?.bakeSeconds ?? 0) * 1000;
    const failures = deployResults
      .filter((r) => r.outcome !== 'deployed')
      .map((r) => ({ region: r.region, message: r.message ?? r.outcome }));
    const counts = Object.fromEntries(deployResults.map((r) => [r.region, r.samples]));
    const record = await releaseRecord(deps, plan);
    const earlier = deployedTasks(plan, waveIndex - 1, record);
    const regions = failures.length > 0 ? counts : await probeRound(deps, plan, earlier, counts);
    return gateState(deps, plan, waveIndex, record, { startedAt, bakeUntil }, regions, failures);
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createStartBake({ ledger: ledgerFromEnv(), prober: proberFromEnv(), events: eventsFromEnv(), now: Date.now }),
);
