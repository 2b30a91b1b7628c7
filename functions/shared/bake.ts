/** Shared by StartBake and CheckGate: probe every deployed region, then ask the core what the gate says and what follows. */
import { type BakeTiming, bakeSecondsLeft, evaluateBake } from '../../core/bake.ts';
import { controlState, type Intent } from '../../core/control.ts';
import { addSamples, emptyCounts } from '../../core/gate.ts';
import { countsInGate, newHostName, newHostRegion, newHostStartFailure, newHostsDone } from '../../core/new-host.ts';
import { afterCheck } from '../../core/rollback.ts';
import type { GateState, NewHostRef, RegionResult, RegionTask, ReleasePlan, SampleCounts } from '../../core/types.ts';
import type { ReleaseRecord } from '../../ports/ledger.ts';
import { type Deps, emit, isoAt, namedError } from '../deps.ts';

/** Every region deployed so far in the release, earlier waves and this one, skipped ones left out. */
export function deployedTasks(plan: ReleasePlan, waveIndex: number, record: ReleaseRecord): RegionTask[] {
  return plan.waves
    .slice(0, waveIndex + 1)
    .flatMap((w) => w.regions)
    .filter((t) => record.regions[t.region]?.phase !== 'skipped');
}

export async function releaseRecord(
  deps: Pick<Deps, 'ledger'>,
  plan: Pick<ReleasePlan, 'service' | 'releaseId'>,
): Promise<ReleaseRecord> {
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
 * Starts the wave's new host (core/new-host.ts decides whether and from which region) and probes it
 * once, as the children's verification probed the regions. One that does not come up is a failed
 * deploy of the wave. A platform with no new host here leaves the wave to its regions, and says why
 * (`noNewHost`, in every gate event of the wave): never a silent no-op.
 */
export async function launchNewHost(
  deps: Pick<Deps, 'prober' | 'newHosts'>,
  plan: ReleasePlan,
  waveIndex: number,
  results: readonly RegionResult[],
  record: Pick<ReleaseRecord, 'regions'>,
): Promise<{ hosts: NewHostRef[]; failures: { region: string; message: string }[]; noNewHost?: string }> {
  const task = newHostRegion(plan, waveIndex, results);
  if (!task?.revision) return { hosts: [], failures: [] };
  if (!deps.newHosts) return { hosts: [], failures: [], noNewHost: 'this backend starts no new host' };
  const launch = await deps.newHosts
    .launch({
      service: plan.service,
      releaseId: plan.releaseId,
      wave: waveIndex,
      region: task.region,
      name: newHostName(task.region),
      target: task.target,
      revision: task.revision,
      ...(record.regions[task.region]?.staging ? { stageId: record.regions[task.region]?.staging?.id } : {}),
      gate: plan.gate,
      readinessTimeoutMs: plan.deploy.readinessTimeoutSeconds * 1000,
    })
    .catch((error: unknown) => ({
      kind: 'failed' as const,
      message: error instanceof Error ? error.message : String(error),
    }));
  if (launch.kind === 'unsupported') return { hosts: [], failures: [], noNewHost: launch.why };
  if (launch.kind === 'failed') return { hosts: [], failures: [newHostStartFailure(task.region, launch.message)] };
  const host: NewHostRef = { ...launch.host, counts: addSamples(emptyCounts(), launch.samples) };
  return { hosts: await probeNewHosts(deps, plan, [host]), failures: [] };
}

/**
 * One probe round of each new host that has something to probe, added to its counts: its
 * launcher's own probe for one that says so (`probedBy: 'launcher'`: a one-off ECS task, asked
 * first whether it is up), else the ordinary prober on its target.
 */
export async function probeNewHosts(
  deps: Pick<Deps, 'prober' | 'newHosts'>,
  plan: ReleasePlan,
  hosts: readonly NewHostRef[],
): Promise<NewHostRef[]> {
  return Promise.all(
    hosts.map(async (host) => {
      const request = { expectedVersion: plan.version, gate: plan.gate, count: plan.gate.probes };
      if (host.probedBy === 'launcher') {
        const launcher = deps.newHosts;
        const samples = launcher?.probe
          ? await launcher.probe(host, request).catch((error: unknown) => [
              {
                kind: 'missing' as const,
                message: `${host.name}: ${error instanceof Error ? error.message : String(error)}`,
              },
            ])
          : [{ kind: 'missing' as const, message: `${host.name}: nothing here can probe it` }];
        return { ...host, counts: addSamples(host.counts, samples) };
      }
      if (!host.target) return host;
      const samples = await deps.prober.probe({ region: host.name, target: host.target, ...request });
      return { ...host, counts: addSamples(host.counts, samples) };
    }),
  );
}

/**
 * Tears down the gate's new hosts once its decision no longer needs them (core/new-host.ts
 * `newHostsDone`): passed or failed. A teardown that fails never changes the decision; the
 * release's end and the next command stop whatever is left (the launcher's `stopLeft`).
 */
export async function endNewHosts(deps: Pick<Deps, 'newHosts'>, state: GateState): Promise<GateState> {
  const hosts = state.newHosts ?? [];
  if (hosts.length === 0 || !newHostsDone(state.decision) || !deps.newHosts) return state;
  const launcher = deps.newHosts;
  await Promise.all(hosts.map((host) => launcher.stop(host).catch(() => {})));
  return { ...state, newHosts: [] };
}

/** What release managers asked of the release and of the whole service, read side by side. */
export function readIntents(
  deps: Pick<Deps, 'ledger'>,
  plan: Pick<ReleasePlan, 'service' | 'releaseId'>,
): Promise<readonly [Intent[], Intent[]]> {
  const read = Promise.all([
    deps.ledger.listIntents(plan.service, plan.releaseId),
    deps.ledger.listIntents(plan.service, null),
  ] as const);
  // Awaited by gateState; never an unhandled rejection while the caller does its other reads first.
  read.catch(() => {});
  return read;
}

/**
 * The gate's verdict (core/gate.ts), then what it leads to with what release managers asked for
 * (core/rollback.ts `afterCheck`): this only reads, calls the core and writes what it decided.
 */
export async function gateState(
  deps: Pick<Deps, 'ledger' | 'events' | 'now'>,
  plan: ReleasePlan,
  waveIndex: number,
  record: ReleaseRecord,
  timing: BakeTiming,
  regions: Record<string, SampleCounts>,
  failedDeploys: readonly { region: string; message: string }[] = [],
  newHosts: readonly NewHostRef[] = [],
  /** What an adaptive bake's early end is judged on (core/bake.ts `evaluateBake`); default `regions`. */
  evidence?: Readonly<Record<string, SampleCounts>>,
  /** Why the wave has no new host although it asked for one (its platform has none here). */
  noNewHost?: string,
  /** The release's and the service's intents, when the caller started reading them already (readIntents). */
  intentsRead: Promise<readonly [Intent[], Intent[]]> = readIntents(deps, plan),
): Promise<GateState> {
  const names = deployedTasks(plan, waveIndex, record).map((t) => t.region);
  for (const name of names) regions[name] ??= emptyCounts();
  const now = deps.now();
  // A new host is gated on as one more region (its samples in the verdict), kept apart in the state.
  // One with nothing to probe (a Lambda's cold invocation) was judged by its launch alone.
  const hostNames = newHosts.map((h) => h.name);
  const probed = newHosts.filter(countsInGate);
  const evaluation = evaluateBake({
    regions: [...names, ...probed.map((h) => h.name)],
    samples: { ...regions, ...Object.fromEntries(probed.map((h) => [h.name, h.counts])) },
    gate: plan.gate,
    now,
    startedAt: timing.startedAt,
    bakeUntil: timing.bakeUntil,
    ...(timing.bakeMinUntil === undefined ? {} : { bakeMinUntil: timing.bakeMinUntil }),
    ...(evidence ? { evidence } : {}),
    failedDeploys,
  });
  const [intents, globalIntents] = await intentsRead;
  const used = record.used ?? { promotions: 0, forces: 0 };
  const next = afterCheck({
    evaluation,
    onInconclusive: plan.gate.onInconclusive,
    control: controlState(intents, used),
    intents,
  });
  const state: GateState = {
    wave: waveIndex,
    startedAt: timing.startedAt,
    bakeUntil: timing.bakeUntil,
    ...(timing.bakeMinUntil === undefined ? {} : { bakeMinUntil: timing.bakeMinUntil }),
    regions,
    evaluation,
    decision: next.decision,
    ...(next.decision === 'continue' ? { waitSeconds: bakeSecondsLeft(now, timing.bakeUntil) } : {}),
    ...(next.control ? { control: next.control } : {}),
    intentsSeen: intents.length + globalIntents.length,
    newHosts: [...newHosts],
    ...(noNewHost ? { noNewHost } : {}),
  };
  const hold =
    next.decision === 'hold' && evaluation.kind === 'Inconclusive'
      ? {
          wave: waveIndex,
          since: record.hold?.since ?? isoAt(deps),
          reasons: [
            {
              kind: 'inconclusive' as const,
              text: `gate inconclusive, waiting for a promote or an abort: ${evaluation.signals.join('; ')}`,
            },
          ],
        }
      : null;
  const holdChanged = (record.hold ?? null) === null ? hold !== null : hold === null;
  if (next.usesPromotion || holdChanged) {
    await deps.ledger.updateRelease(plan.service, plan.releaseId, {
      ...(next.usesPromotion ? { used: { ...used, promotions: used.promotions + 1 } } : {}),
      ...(holdChanged ? { hold } : {}),
    });
  }
  await emit(deps, plan.service, plan.releaseId, {
    kind: 'gate',
    wave: waveIndex,
    regions: names,
    evaluation,
    ...(state.control ? { control: state.control } : {}),
    ...(hostNames.length > 0 ? { newHosts: hostNames } : {}),
    ...(noNewHost ? { noNewHost } : {}),
  });
  return state;
}
