/**
 * CheckGate: the check after a wave's bake wait ends (its timeout, a watcher's bad signal, a verb)
 * or a hold for an Inconclusive gate. Adds what the bake's watchers gathered, probes every region
 * deployed so far once more, and decides: keep baking, next wave, roll back, or hold for a human (an
 * Inconclusive gate with onInconclusive: pause). An abort or a promote decides over the signals.
 */

import { withWatched } from '../core/bake.ts';
import { mergeCounts } from '../core/gate.ts';
import type { GateState, PlanRef } from '../core/types.ts';
import type { Deps } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { newHostProberFromEnv } from './runtime/new-hosts.ts';
import { eventsFromEnv, proberFromEnv } from './runtime/ports.ts';
import { deployedTasks, endNewHosts, gateState, probeNewHosts, probeRound, releaseRecord } from './shared/bake.ts';
import { loadPlan } from './shared/plan.ts';

export const createCheckGate =
  (deps: Pick<Deps, 'ledger' | 'prober' | 'events' | 'now' | 'newHosts'>) =>
  async ({ plan: ref, waveIndex, gate }: { plan: PlanRef; waveIndex: number; gate: GateState }): Promise<GateState> => {
    const plan = await loadPlan(deps, ref);
    const record = await releaseRecord(deps, plan);
    // What the bake's watchers gathered while the release slept counts as much as this last round.
    const watched = await deps.ledger.takeBake(plan.service, plan.releaseId);
    await deps.ledger.takeHoldTokens(plan.service, plan.releaseId);
    const seen = watched?.wave === waveIndex ? watched.samples : {};
    // The watchers' samples of the wave's new hosts go to the hosts, the rest to the regions.
    const hosts = (gate.newHosts ?? []).map((host) => {
      const more = seen[host.name];
      return more ? { ...host, counts: mergeCounts(host.counts, more) } : host;
    });
    const hostNames = new Set(hosts.map((h) => h.name));
    const carried = withWatched(
      gate.regions,
      Object.fromEntries(Object.entries(seen).filter(([name]) => !hostNames.has(name))),
    );
    const [regions, probedHosts] = await Promise.all([
      probeRound(deps, plan, deployedTasks(plan, waveIndex, record), carried),
      probeNewHosts(deps, plan, hosts),
    ]);
    // An adaptive bake ends early on the evidence its watcher judged (this wait's samples, the new
    // hosts' included): the watcher and this check then agree, and a wake this check refused is not
    // repeated every round.
    return endNewHosts(
      deps,
      await gateState(deps, plan, waveIndex, record, gate, regions, [], probedHosts, seen, gate.noNewHost),
    );
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets; the wave's ECS new host probed and stopped. */
export const handler = lambda(() => {
  const prober = proberFromEnv();
  return createCheckGate({
    ledger: ledgerFromEnv(),
    prober,
    newHosts: newHostProberFromEnv(prober),
    events: eventsFromEnv(),
    now: Date.now,
  });
});
