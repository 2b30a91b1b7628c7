/**
 * StartBake: after a wave's regions deployed, record their results (one ledger write for the
 * wave) and start its bake. A region whose deployment failed
 * fails the gate at once (core/gate.ts decides); otherwise the children's verification samples seed the gate, and every
 * region of earlier waves is probed too: they count during this bake as much as the new ones.
 */

import { bakeTiming } from '../core/bake.ts';
import { resultPatches, resultStates } from '../core/outcome.ts';
import type { GateState, PlanRef, RegionResult } from '../core/types.ts';
import { type Deps, isoAt } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { newHostLauncherFromEnv } from './runtime/new-hosts.ts';
import { eventsFromEnv, proberFromEnv } from './runtime/ports.ts';
import {
  deployedTasks,
  endNewHosts,
  gateState,
  launchNewHost,
  probeRound,
  readIntents,
  releaseRecord,
} from './shared/bake.ts';
import { loadPlan } from './shared/plan.ts';

export interface StartBakeInput {
  plan: PlanRef;
  waveIndex: number;
  deployResults: RegionResult[];
}

export const createStartBake =
  (deps: Pick<Deps, 'ledger' | 'prober' | 'events' | 'now' | 'newHosts'>) =>
  async ({ plan: ref, waveIndex, deployResults }: StartBakeInput): Promise<GateState> => {
    const plan = await loadPlan(deps, ref);
    // The wave's results, in two requests whatever its width: what each region runs now, and its phase.
    const updatedAt = isoAt(deps);
    // Each region's own revision (per-region artifacts): what a later rollback of it redeploys.
    const revisions = new Map(plan.waves.flatMap((w) => w.regions.map((t) => [t.region, t.revision] as const)));
    const fallback = { version: plan.version, artifact: plan.artifact };
    // The two writes and the record's read at once: the read needs none of what they write (the
    // gate takes from the record which regions were skipped, the staging, the hold and the
    // promotions used, none of which a wave's results change).
    // What release managers asked for is read with them too, as the step starts (the gate's decision
    // needs it last). One that lands later is seen by the bake, which looks again once its token is
    // kept, or by the next wave's entry.
    const intents = readIntents(deps, plan);
    const [, , record] = await Promise.all([
      deps.ledger.putRegions(
        resultStates(deployResults, (r) => revisions.get(r.region) ?? fallback, {
          service: plan.service,
          releaseId: plan.releaseId,
          updatedAt,
        }),
      ),
      deps.ledger.updateReleaseRegions(plan.service, plan.releaseId, resultPatches(deployResults, updatedAt)),
      releaseRecord(deps, plan),
    ]);
    const wave = plan.waves[waveIndex];
    const timing = bakeTiming(wave, deps.now());
    const failures = deployResults
      .filter((r) => r.outcome !== 'deployed')
      .map((r) => ({ region: r.region, message: r.message ?? r.outcome }));
    const counts = Object.fromEntries(deployResults.map((r) => [r.region, r.samples]));
    const earlier = deployedTasks(plan, waveIndex - 1, record);
    // The new host starts (and is probed once) while the earlier regions are probed: its start is inside the bake.
    const [regions, fresh] = await Promise.all([
      failures.length > 0 ? counts : probeRound(deps, plan, earlier, counts),
      launchNewHost(deps, plan, waveIndex, deployResults, record),
    ]);
    failures.push(...fresh.failures);
    const state = await gateState(
      deps,
      plan,
      waveIndex,
      record,
      timing,
      regions,
      failures,
      fresh.hosts,
      undefined,
      fresh.noNewHost,
      intents,
    );
    return endNewHosts(deps, state);
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets; the new host per platform. */
export const handler = lambda(() => {
  const prober = proberFromEnv();
  return createStartBake({
    ledger: ledgerFromEnv(),
    prober,
    newHosts: newHostLauncherFromEnv(prober),
    events: eventsFromEnv(),
    now: Date.now,
  });
});
