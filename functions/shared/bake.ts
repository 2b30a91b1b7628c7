/** Shared by StartBake and CheckGate: probe every deployed region, evaluate the gate, apply what people asked. */
import { controlState, latest } from '../../core/control.ts';
import { addSamples, decide, emptyCounts, evaluateGate } from '../../core/gate.ts';
import type { GateState, RegionTask, ReleasePlan, SampleCounts } from '../../core/types.ts';
import type { ReleaseRecord } from '../../ports/ledger.ts';
import { type Deps, emit, namedError } from '../deps.ts';

/** Every region deployed so far in the release, earlier waves and this one, skipped ones left out. */
export function deployedTasks(plan: ReleasePlan, waveIndex: number, record: ReleaseRecord): RegionTask[] {
  return plan.waves
    .slice(0, waveIndex + 1)
    .flatMap((w) => w.regions)
    .filter((t) => record.regions[t.region]?.phase !== 'skipped');
}

export async function releaseRecord(deps: Pick<Deps, 'ledger'>, plan: ReleasePlan): Promise<ReleaseRecord> {
  const record = await deps.ledger.getRelease(plan.service, plan.releaseId);
  if (!record) throw namedError('ReleaseNotFound', `release ${plan.releaseId} is not in the ledger`);
  return record;
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

/**
 * The gate's verdict, then what release managers asked for: an abort rolls back whatever the
 * signals say; a promote ends a bake now or passes an Inconclusive hold (never a Failed gate),
 * and is used up doing so.
 */
export async function gateState(
  deps: Pick<Deps, 'ledger' | 'events' | 'now'>,
  plan: ReleasePlan,
  waveIndex: number,
  record: ReleaseRecord,
  timing: { startedAt: number; bakeUntil: number },
  regions: Record<string, SampleCounts>,
  forcedFailure: string[] = [],
): Promise<GateState> {
  const names = deployedTasks(plan, waveIndex, record).map((t) => t.region);
  for (const name of names) regions[name] ??= emptyCounts();
  const evaluation =
    forcedFailure.length > 0
      ? { kind: 'Failed' as const, signals: forcedFailure }
      : evaluateGate({
          regions: names,
          samples: regions,
          gate: plan.gate,
          now: deps.now(),
          bakeUntil: timing.bakeUntil,
        });
  const [intents, globalIntents] = await Promise.all([
    deps.ledger.listIntents(plan.service, plan.releaseId),
    deps.ledger.listIntents(plan.service, null),
  ]);
  let state: GateState = {
    wave: waveIndex,
    ...timing,
    regions,
    evaluation,
    decision: decide(evaluation, plan.gate),
    intentsSeen: intents.length + globalIntents.length,
  };

  const used = record.used ?? { promotions: 0, forces: 0 };
  const control = controlState(intents, used);
  if (control.abort && state.decision !== 'rollback') {
    const abort = latest(intents, 'abort');
    state = {
      ...state,
      decision: 'rollback',
      control: { kind: 'Aborted', actor: abort?.actor ?? 'unknown', reason: abort?.reason ?? '' },
    };
  } else if (control.promotions > 0 && (state.decision === 'continue' || state.decision === 'hold')) {
    const promote = latest(intents, 'promote');
    await deps.ledger.updateRelease(plan.service, plan.releaseId, {
      used: { ...used, promotions: used.promotions + 1 },
    });
    state = {
      ...state,
      decision: 'next-wave',
      control: { kind: 'Promoted', actor: promote?.actor ?? 'unknown', reason: promote?.reason ?? '' },
    };
  }
  await emit(deps, plan.service, plan.releaseId, {
    kind: 'gate',
    wave: waveIndex,
    regions: names,
    evaluation,
    ...(state.control ? { control: state.control } : {}),
  });
  return state;
}
