/**
 * EnterWave: the safe point before a wave. What release managers asked for comes first (the
 * decision is core/entry.ts `entryDecision`): abort rolls back; a pause, a freeze, a closed
 * deploy window or a wave waiting for approval holds (HoldWave, then this check again). Then each
 * region that already runs a version is probed: one already unhealthy blocks the wave (core/entry.ts
 * `healthAtEntry`). A clear wave is marked touched in the ledger, every region at once and
 * *before* anything changes there, with each region's last-known-good: the platform's own record
 * of what runs there (CodeDeploy's last successful deployment may predate Flotilla), else what
 * PlanRelease found in the ledger. Skipped regions are left out and recorded as skipped.
 *
 * It runs after every HoldWave, however the hold ended (a verb, its timeout, an error): no wait of
 * the release is open here, so the hold tokens kept for it are deleted first (one whose hold timed
 * out was otherwise never deleted on AWS), as CheckGate does after a bake and ClaimTurn after the queue.
 */

import { controlState, freezeOf } from '../core/control.ts';
import { entryDecision, healthAtEntry } from '../core/entry.ts';
import { addSamples, emptyCounts } from '../core/gate.ts';
import { deployRef } from '../core/plan.ts';
import { mustStage, type StagingReport, stagingAtEntry } from '../core/staging.ts';
import type { PlanRef, RegionTask, ReleasePlan, WaveEntry } from '../core/types.ts';
import { describeWindow, secondsUntilOpen, windowOpen } from '../core/windows.ts';
import type { RegionState, ReleaseRecord, ReleaseRegionPatch } from '../ports/ledger.ts';
import type { Revision } from '../ports/region-deployer.ts';
import { type Deps, emit, isoAt, namedError } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { deployerFromEnv, eventsFromEnv, proberFromEnv } from './runtime/ports.ts';
import { loadPlan } from './shared/plan.ts';
import { newerBuild } from './shared/queue.ts';

export interface WaveInput {
  plan: PlanRef;
  waveIndex: number;
}

/** How long a hold for a human waits before it looks again; it also wakes as soon as someone acts. */
export const RECHECK_SECONDS = 3600;

export const createEnterWave =
  (deps: Pick<Deps, 'ledger' | 'deployer' | 'prober' | 'events' | 'now'>) =>
  async ({ plan: ref, waveIndex }: WaveInput): Promise<WaveEntry> => {
    // Everything this step reads, and the hold tokens' clean-up, at once: none depends on another
    // (the ref names the service and release), and a wave's entry is on the release's critical path.
    // The regions' states go first: the health checks need them, and start as soon as they are in,
    // while the rest is read (entryChecks). A check only reads what runs there now, so one made for
    // a wave that then holds, or for a region then found skipped, changes nothing. While the release
    // holds the service's lock nothing else writes the regions' states.
    const regionStates = deps.ledger.listRegions(ref.service);
    const planned = loadPlan(deps, ref);
    const checking = Promise.all([planned, regionStates]).then(([plan, states]) =>
      entryChecks(deps, plan, waveIndex, states),
    );
    // Awaited below once the wave is clear: never left unhandled if it is not.
    checking.catch(() => {});
    const [plan, record, , intents, globalIntents] = await Promise.all([
      planned,
      deps.ledger.getRelease(ref.service, ref.releaseId),
      deps.ledger.takeHoldTokens(ref.service, ref.releaseId),
      deps.ledger.listIntents(ref.service, ref.releaseId),
      deps.ledger.listIntents(ref.service, null),
    ]);
    const wave = plan.waves[waveIndex];
    if (!wave) throw namedError('InvalidState', `wave ${waveIndex} does not exist in ${plan.releaseId}`);
    if (!record) throw namedError('ReleaseNotFound', `release ${plan.releaseId} is not in the ledger`);
    const used = record.used ?? { promotions: 0, forces: 0 };
    const control = controlState(intents, used);
    const skipped = new Set(control.skipped);
    const tasks = wave.regions.filter((t) => !skipped.has(t.region));
    const now = deps.now();
    const closed = tasks.flatMap((t) =>
      t.window && !windowOpen(t.window, now)
        ? [{ region: t.region, window: describeWindow(t.window), opensInSeconds: secondsUntilOpen(t.window, now) }]
        : [],
    );
    const decision = entryDecision({
      wave: waveIndex,
      control,
      intents,
      frozen: freezeOf(globalIntents),
      approvalNeeded: wave.approval,
      closed,
      recheckSeconds: RECHECK_SECONDS,
      ...(record.emergency ? { emergency: { requester: record.emergency.actor } } : {}),
    });
    if (decision.kind === 'Abort') {
      return { kind: 'Abort', control: { kind: 'Aborted', actor: decision.actor, reason: decision.reason } };
    }
    if (decision.kind === 'Hold') {
      // A newer build queued behind a release that only waits for an approval takes the approval
      // over: no wave is in flight here, so this one stops and the newer one runs.
      if (decision.approvalOnly) {
        const newer = await newerBuild(deps, plan.service, record);
        if (newer) return { kind: 'Superseded', by: newer };
      }
      const reasons = decision.reasons.map((r) => r.text);
      // The hold as the ledger shows it (status, the dashboard): what it waits for and who caused it.
      const same = JSON.stringify(record.hold?.reasons) === JSON.stringify(decision.reasons);
      if (!same || record.hold?.wave !== waveIndex) {
        await deps.ledger.updateRelease(plan.service, plan.releaseId, {
          hold: { wave: waveIndex, since: isoAt(deps), reasons: decision.reasons },
        });
      }
      const emergency = record.emergency;
      await emit(deps, plan.service, plan.releaseId, {
        kind: 'wave-held',
        wave: waveIndex,
        reasons,
        ...(emergency
          ? {
              emergency: {
                requester: emergency.actor,
                reason: emergency.reason,
                // core/entry.ts names the requester on the hold reason that waits for the second approver.
                awaitingApprover: decision.reasons.some((r) => r.kind === 'approval' && r.actor === emergency.actor),
              },
            }
          : {}),
      });
      return {
        kind: 'Hold',
        reasons,
        holdSeconds: decision.holdSeconds,
        intentsSeen: intents.length + globalIntents.length,
        approvalOnly: decision.approvalOnly,
      };
    }

    // The wave as started (the record, then its event) while its regions are checked: both end
    // before this step returns, and wave-started is always said before a wave-blocked.
    const started = (async () => {
      const spends = decision.usesPromotion || decision.usesForce;
      // Written only when it changes something: a first wave entered at once finds the record as
      // PlanRelease wrote it (wave 0, no hold), and a write that changes nothing costs the wave's start.
      if (spends || record.wave !== waveIndex || (record.hold ?? null) !== null) {
        await deps.ledger.updateRelease(plan.service, plan.releaseId, {
          wave: waveIndex,
          hold: null,
          ...(spends
            ? {
                used: {
                  promotions: used.promotions + (decision.usesPromotion ? 1 : 0),
                  forces: used.forces + (decision.usesForce ? 1 : 0),
                },
              }
            : {}),
        });
      }
      await emit(deps, plan.service, plan.releaseId, {
        kind: 'wave-started',
        wave: waveIndex,
        name: wave.name,
        regions: tasks.map((r) => r.region),
      });
    })();
    // Awaited at once as well, so that a failure of the record is never left unhandled while the checks run.
    started.catch(() => {});
    // The build staged ahead in this wave's regions (StageAhead): a staging that failed stops the
    // release here, before the wave, naming the region; one still running finishes inside the
    // deploy, unless only staging can make what that region deploys (core/staging.ts mustStage).
    // Its report is awaited while the regions are checked.
    const [reports, checks] = await Promise.all([stagingReports(deps, record, tasks), checking]);
    const staged = stagingAtEntry(reports, plan.version);
    if (staged.kind === 'Blocked') {
      await started;
      await emit(deps, plan.service, plan.releaseId, {
        kind: 'wave-blocked',
        wave: waveIndex,
        signals: staged.signals,
      });
      return staged;
    }
    const health = healthAtEntry(
      await Promise.all(tasks.map((task) => checks.health.get(task.region) as Promise<RegionCheck>)),
      plan.gate,
    );
    if (health.kind === 'Blocked') {
      await started;
      await emit(deps, plan.service, plan.releaseId, {
        kind: 'wave-blocked',
        wave: waveIndex,
        signals: health.signals,
      });
      return health;
    }
    const current = Promise.all(tasks.map((task) => checks.current.get(task.region) as Promise<Revision | null>));
    const [before] = await Promise.all([current, started]);
    const updatedAt = isoAt(deps);
    const patches: ReleaseRegionPatch[] = tasks.map((task, i) => {
      const was = before[i];
      return { region: task.region, phase: 'deploying', updatedAt, ...(was ? { before: was } : {}) };
    });
    const left = wave.regions.filter((t) => skipped.has(t.region) && record.regions[t.region]?.phase === 'pending');
    for (const task of left) patches.push({ region: task.region, phase: 'skipped', updatedAt });
    await deps.ledger.updateReleaseRegions(plan.service, plan.releaseId, patches);
    // Ids only: each region's child looks its task up (load-region-task), so a wave of any width fits
    // the state; one that nothing was staged in finds it in the plan alone.
    return {
      kind: 'Clear',
      regions: tasks.map((t) => deployRef(t, record.regions[t.region])),
      skipped: left.map((t) => t.region),
      maxParallel: wave.maxParallel,
    };
  };

type RegionCheck = Parameters<typeof healthAtEntry>[0][number];

/**
 * What a wave's entry checks in each of its regions, started at once: its health, probed for the
 * version the ledger says it runs (none where it runs nothing yet), and what it runs according to
 * its platform (the last-known-good the ledger records before anything changes there).
 */
function entryChecks(
  deps: Pick<Deps, 'deployer' | 'prober'>,
  plan: ReleasePlan,
  waveIndex: number,
  regionStates: readonly RegionState[],
): { health: Map<string, Promise<RegionCheck>>; current: Map<string, Promise<Revision | null>> } {
  const states = new Map(regionStates.map((s) => [s.region, s]));
  const health = new Map<string, Promise<RegionCheck>>();
  const current = new Map<string, Promise<Revision | null>>();
  for (const task of plan.waves[waveIndex]?.regions ?? []) {
    const currentVersion = states.get(task.region)?.current?.version ?? null;
    const check = (async (): Promise<RegionCheck> => {
      if (currentVersion === null) return { region: task.region, currentVersion, counts: emptyCounts() };
      const samples = await deps.prober.probe({
        region: task.region,
        target: task.target,
        expectedVersion: currentVersion,
        gate: plan.gate,
        count: plan.gate.probes,
      });
      return { region: task.region, currentVersion, counts: addSamples(emptyCounts(), samples) };
    })();
    const revision = deps.deployer.currentRevision(task.region, task.target);
    // Awaited only for the regions the wave deploys, if it is clear.
    check.catch(() => {});
    revision.catch(() => {});
    health.set(task.region, check);
    current.set(task.region, revision);
  }
  return { health, current };
}

/** How long EnterWave waits for a staging still running before it lets the deploy finish it. */
const STAGING_WAIT_MS = 60_000;

async function stagingReports(
  deps: Pick<Deps, 'deployer'>,
  record: ReleaseRecord,
  tasks: readonly RegionTask[],
): Promise<StagingReport[]> {
  const awaitStaging = deps.deployer.awaitStaging?.bind(deps.deployer);
  return Promise.all(
    tasks.map(async (task): Promise<StagingReport> => {
      const id = record.regions[task.region]?.staging?.id;
      const required = mustStage(task);
      if (!awaitStaging || !id) return { region: task.region, status: 'NotStaged', required };
      const status = await awaitStaging({ region: task.region, target: task.target, stageId: id }, STAGING_WAIT_MS);
      return { region: task.region, ...status, required };
    }),
  );
}

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createEnterWave({
    ledger: ledgerFromEnv(),
    deployer: deployerFromEnv(),
    prober: proberFromEnv(),
    events: eventsFromEnv(),
    now: Date.now,
  }),
);
