/**
 * Watching a wave's bake from outside the release. The release sleeps on one task token for the
 * whole bake (no polling in its history); these watchers are what wakes it early when a health
 * signal turns bad in any region deployed so far:
 *   - `probeBakes`: probes every region of every bake in progress, adds the samples to the bake
 *     (the final check counts them) and fails the wait when the gate fails. Locally the HTTP prober
 *     runs it in the background every gate interval; on AWS a scheduled Lambda runs it.
 *   - `alarmChanged`: a CloudWatch "Alarm State Change" to ALARM (EventBridge on AWS) fails the
 *     wait of every bake whose regions that alarm gates, at once.
 * Whether the gate fails is core/bake.ts `bakeWake` (core/gate.ts `evaluateGate`). For an adaptive
 * bake (`bake: {min, max}`) past its min, `bakeWake` also says when the evidence is in: the watcher
 * then wakes the wait with success, as a promote does, and the final check passes the wave.
 */
import { bakeWake, withWatched } from '../core/bake.ts';
import { addSamples, emptyCounts } from '../core/gate.ts';
import type { ProbeSample } from '../core/model.ts';
import { isNewHostName } from '../core/new-host.ts';
import type { BakeWatch, EarlyEnd, SampleCounts } from '../core/types.ts';
import type { EventSink, ReleaseEvent } from '../ports/events.ts';
import type { HealthProber } from '../ports/health-prober.ts';
import type { Ledger } from '../ports/ledger.ts';
import type { NewHostLauncher } from '../ports/new-host.ts';
import type { TaskCallbacks } from '../ports/task-callbacks.ts';

export interface BakeWatchDeps {
  ledger: Pick<Ledger, 'listBakes' | 'addBakeSamples'>;
  prober: HealthProber;
  /** Probes the new hosts their launcher probes (a one-off ECS task: is it up yet, then its health URL). */
  newHosts?: Pick<NewHostLauncher, 'probe'>;
  callbacks: TaskCallbacks;
  events: EventSink;
  now: () => number;
}

/** The ASL error a bad signal fails the bake's wait with (its Catch goes to the final check). */
export const BAKE_SIGNAL_FAILED = 'BakeSignalFailed';

/** What one watcher round did to one bake. */
export type WatchOutcome = { releaseId: string; wave: number } & (
  | { kind: 'baking' }
  | { kind: 'failed'; signals: string[]; woke: 'woken' | 'gone' }
  /** An adaptive bake past its min with the evidence in: its wait was woken to pass the wave. */
  | { kind: 'evidence-in'; early: EarlyEnd; woke: 'woken' | 'gone' }
  /** The bake ended between listing it and adding to it. */
  | { kind: 'ended' }
);

/** One round of probes over every bake in progress (those `due` says to probe, default all). */
export async function probeBakes(
  deps: BakeWatchDeps,
  due: (watch: BakeWatch) => boolean = () => true,
): Promise<WatchOutcome[]> {
  const bakes = (await deps.ledger.listBakes()).filter(due);
  return Promise.all(
    bakes.map(async (watch) => {
      const round: Record<string, SampleCounts> = {};
      await Promise.all(
        watch.regions.map(async ({ region, target, newHost }) => {
          const request = { expectedVersion: watch.version, gate: watch.gate, count: watch.gate.probes };
          // A new host its launcher probes: no launcher here, no samples (the gate's own checks probe it).
          const samples = newHost
            ? deps.newHosts?.probe
              ? await deps.newHosts
                  .probe({ name: region, region, handle: newHost, target }, request)
                  .catch((error: unknown): ProbeSample[] => [
                    {
                      kind: 'missing',
                      message: `${region}: ${error instanceof Error ? error.message : String(error)}`,
                    },
                  ])
              : []
            : await deps.prober.probe({ region, target, ...request });
          round[region] = addSamples(emptyCounts(), samples);
        }),
      );
      return record(deps, watch, round);
    }),
  );
}

/** A CloudWatch alarm changed state in `awsRegion`: ALARM fails every bake it gates; other states change nothing. */
export async function alarmChanged(
  deps: Omit<BakeWatchDeps, 'prober'>,
  change: { alarmName: string; awsRegion: string; state: string; reason?: string },
): Promise<WatchOutcome[]> {
  if (change.state !== 'ALARM') return [];
  const sample: ProbeSample = {
    kind: 'error',
    message: `alarm ${change.alarmName} is ALARM${change.reason ? `: ${change.reason}` : ''}`,
  };
  const outcomes: WatchOutcome[] = [];
  for (const watch of await deps.ledger.listBakes()) {
    const gated = watch.regions.filter(({ target }) => gatedBy(target, change.alarmName, change.awsRegion));
    if (gated.length === 0) continue;
    const round = Object.fromEntries(gated.map(({ region }) => [region, addSamples(emptyCounts(), [sample])]));
    outcomes.push(await record(deps, watch, round));
  }
  return outcomes;
}

function gatedBy(target: BakeWatch['regions'][number]['target'], alarmName: string, awsRegion: string): boolean {
  if (target.kind !== 'codedeploy' || target.awsRegion !== awsRegion) return false;
  const { names, prefix } = target.alarms;
  return names.includes(alarmName) || (prefix !== undefined && prefix !== '' && alarmName.startsWith(prefix));
}

/** Adds a round to the bake, asks the core whether it ends the bake, and fails the wait if so. */
async function record(
  deps: Omit<BakeWatchDeps, 'prober'>,
  watch: BakeWatch,
  round: Record<string, SampleCounts>,
): Promise<WatchOutcome> {
  const { releaseId, wave } = watch;
  if (!(await deps.ledger.addBakeSamples(watch, round))) return { releaseId, wave, kind: 'ended' };
  const samples = withWatched(watch.samples, round);
  const regions = watch.regions.map((r) => r.region);
  const now = deps.now();
  const wake = bakeWake({
    regions,
    samples,
    gate: watch.gate,
    now,
    startedAt: watch.startedAt,
    bakeUntil: watch.bakeUntil,
    ...(watch.bakeMinUntil === undefined ? {} : { bakeMinUntil: watch.bakeMinUntil }),
  });
  if (wake.kind === 'keep-baking') {
    // The wave's new hosts are watched by name beside its regions; the event names them apart, as
    // the gate's own events do ("1 region + new host (us-east-1)").
    const hosts = regions.filter(isNewHostName);
    await emitSafely(deps, watch, {
      kind: 'gate',
      wave,
      regions: regions.filter((r) => !isNewHostName(r)),
      ...(hosts.length > 0 ? { newHosts: hosts } : {}),
      evaluation: { kind: 'Baking', remainingMs: Math.max(0, watch.bakeUntil - now) },
    });
    return { releaseId, wave, kind: 'baking' };
  }
  if (wake.kind === 'evidence-in') {
    // Like a promote: the wait ends now and the final check (CheckGate) passes the wave on the same rule.
    const woke = await deps.callbacks.succeed(watch.token, { woke: 'evidence in', early: wake.early });
    return { releaseId, wave, kind: 'evidence-in', early: wake.early, woke };
  }
  const woke = await deps.callbacks.fail(watch.token, BAKE_SIGNAL_FAILED, wake.signals.join('; '));
  return { releaseId, wave, kind: 'failed', signals: wake.signals, woke };
}

async function emitSafely(
  deps: Pick<BakeWatchDeps, 'events' | 'now'>,
  watch: BakeWatch,
  event: ReleaseEvent,
): Promise<void> {
  try {
    await deps.events.emit({
      ...event,
      service: watch.service,
      releaseId: watch.releaseId,
      at: new Date(deps.now()).toISOString(),
    });
  } catch {
    // Progress is best-effort: a broken terminal or topic never stops a watcher.
  }
}
