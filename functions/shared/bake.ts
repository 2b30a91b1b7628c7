/** Shared by StartBake and CheckGate: probe every deployed region once and evaluate the gate. */
import { addSamples, decide, emptyCounts, evaluateGate } from '../../core/gate.ts';
import type { GateState, RegionTask, ReleasePlan, SampleCounts } from '../../core/types.ts';
import { type Deps, emit } from '../deps.ts';

/** Every region deployed so far in the release: earlier waves and this one. */
export function deployedTasks(plan: ReleasePlan, waveIndex: number): RegionTask[] {
  return plan.waves.slice(0, waveIndex + 1).flatMap((w) => w.regions);
}

export async function probeRound(
  deps: Pick<Deps, 'prober'>,
  plan: ReleasePlan,
  tasks: readonly RegionTask[],
  counts: Readonly<Record<string, SampleCounts>>,
): Promise<Record<string, SampleCounts>> {
  const next: Record<string, SampleCounts> = { ...counts };
  await Promise.all(
    tasks.map(async (task) => {
      const samples = await deps.prober.probe({
        region: task.region,
        target: task.target,
        expectedVersion: plan.version,
        gate: plan.gate,
        count: plan.gate.probes,
      });
      next[task.region] = addSamples(next[task.region] ?? emptyCounts(), samples);
    }),
  );
  return next;
}

export async function gateState(
  deps: Pick<Deps, 'events' | 'now'>,
  plan: ReleasePlan,
  waveIndex: number,
  startedAt: number,
  bakeUntil: number,
  regions: Record<string, SampleCounts>,
  forcedFailure: string[] = [],
): Promise<GateState> {
  const names = deployedTasks(plan, waveIndex).map((t) => t.region);
  for (const name of names) regions[name] ??= emptyCounts();
  const evaluation =
    forcedFailure.length > 0
      ? { kind: 'Failed' as const, signals: forcedFailure }
      : evaluateGate({ regions: names, samples: regions, gate: plan.gate, now: deps.now(), bakeUntil });
  const state: GateState = {
    wave: waveIndex,
    startedAt,
    bakeUntil,
    regions,
    evaluation,
    decision: decide(evaluation, plan.gate),
  };
  await emit(deps, plan.service, plan.releaseId, { kind: 'gate', wave: waveIndex, regions: names, evaluation });
  return state;
}
