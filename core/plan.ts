/**
 * Wave planning: turns a validated config and what each region runs now into the plan the
 * release state machine walks. Pure: no clock, no I/O.
 */
import type { FlotillaConfig } from './config.ts';
import type { EmergencyRequest, RegionState, ReleaseRecord, ReleaseRegion } from './model.ts';
import { wantsNewHost } from './new-host.ts';
import { rollbackTask } from './rollback.ts';
import type { PlanRef, RegionRef, RegionTask, ReleasePlan, Revision } from './types.ts';

/** An emergency release's bakes when the config has no `emergency.minBakeSeconds`. */
export const EMERGENCY_MIN_BAKE_SECONDS = 60;

export interface PlanInput {
  config: FlotillaConfig;
  releaseId: string;
  version: string;
  artifact: string;
  regionStateMachineArn: string;
  /** Who runs it, for the service's lock. */
  owner: string;
  rollbackOf?: string;
  emergency?: EmergencyRequest;
  /**
   * Each region's own revision (core/artifacts.ts `resolveArtifacts`); a region it leaves out gets
   * `{version, artifact}`.
   */
  revisions?: ReadonlyMap<string, Revision>;
}

/**
 * The most regions of one wave deployed at once: an inline Map runs at most 40 iterations at a
 * time on AWS Step Functions (the local engine's default is the same), so that is "unlimited".
 */
export const ENGINE_MAX_PARALLEL = 40;

export function planRelease(input: PlanInput): ReleasePlan {
  const { config, releaseId, version, artifact, regionStateMachineArn } = input;
  const regions = new Map(config.regions.map((r) => [r.name, r]));
  const revision: Revision = { version, artifact };
  const emergencyBake = config.emergency?.minBakeSeconds ?? EMERGENCY_MIN_BAKE_SECONDS;
  const waves = wavesOf(config, input.emergency !== undefined).map((wave, index) => ({
    index,
    name: wave.name,
    bakeSeconds: input.emergency ? Math.min(wave.bakeSeconds, emergencyBake) : wave.bakeSeconds,
    ...(wave.bake === undefined
      ? {}
      : { bakeMinSeconds: input.emergency ? Math.min(wave.bake.min, emergencyBake) : wave.bake.min }),
    approval: wave.approval,
    maxParallel: Math.min(wave.maxParallel ?? ENGINE_MAX_PARALLEL, ENGINE_MAX_PARALLEL),
    newHost: wantsNewHost(wave),
    regions: wave.regions.map((region) => {
      const configured = regions.get(region);
      // The config validator guarantees every wave region is configured; a miss here is a bug.
      if (!configured) throw new Error(`planRelease: region ${region} has no target (config not validated?)`);
      const { target, window } = configured;
      return {
        releaseId,
        service: config.service,
        region,
        wave: index,
        action: 'deploy' as const,
        revision: input.revisions?.get(region) ?? revision,
        target,
        ...(window ? { window } : {}),
        gate: config.gate,
        deploy: config.deploy,
      };
    }),
  }));
  return {
    releaseId,
    service: config.service,
    version,
    artifact,
    waveCount: waves.length,
    waves,
    gate: config.gate,
    deploy: config.deploy,
    regionStateMachineArn,
    owner: input.owner,
    mode: input.rollbackOf ? 'rollback' : 'release',
    ...(input.rollbackOf ? { rollbackOf: input.rollbackOf } : {}),
    ...(input.emergency ? { emergency: input.emergency } : {}),
  };
}

/** What the state machine carries of a plan (the rest stays in the ledger). */
export function planRef(plan: ReleasePlan): PlanRef {
  return {
    releaseId: plan.releaseId,
    service: plan.service,
    version: plan.version,
    owner: plan.owner,
    waveCount: plan.waveCount,
    regionStateMachineArn: plan.regionStateMachineArn,
    mode: plan.mode,
    ...(plan.rollbackOf ? { rollbackOf: plan.rollbackOf } : {}),
    gate: { intervalSeconds: plan.gate.intervalSeconds },
  };
}

/** A region's job as ids, for a Map item and a child execution's input. */
export function regionRef(task: Pick<RegionTask, 'releaseId' | 'service' | 'region' | 'wave' | 'action'>): RegionRef {
  return {
    releaseId: task.releaseId,
    service: task.service,
    region: task.region,
    wave: task.wave,
    action: task.action,
  };
}

/**
 * A wave's deploy of one region as EnterWave hands it to the region's child: ids only, and whether
 * staging made anything there (core/types.ts RegionRef `staged`), so that the child of a region
 * nothing was staged in needs no read of the record to know its task.
 */
export function deployRef(task: RegionTask, entry: Pick<ReleaseRegion, 'staging'> | undefined): RegionRef {
  return { ...regionRef(task), ...(entry?.staging === undefined ? { staged: false as const } : {}) };
}

/**
 * The whole task a child execution runs for `ref`: a deploy is the region's task in the plan; a
 * rollback is that task back to what the region ran before the release (core/rollback.ts), as the
 * release record says. Undefined if the plan has no such region, or a rollback has no record of it.
 */
export function regionTask(
  plan: ReleasePlan,
  record: Pick<ReleaseRecord, 'regions'>,
  ref: Pick<RegionRef, 'region' | 'action'>,
): RegionTask | undefined {
  const task = plan.waves.flatMap((w) => w.regions).find((t) => t.region === ref.region);
  const entry = record.regions[ref.region];
  if (!task || ref.action === 'deploy') {
    // A deploy names what staging made there, if anything (core/staging.ts).
    const stageId = entry?.staging?.id;
    return task && stageId !== undefined ? { ...task, stageId } : task;
  }
  return entry ? rollbackTask(task, entry) : undefined;
}

/**
 * The config's waves; for an emergency release the canary region stays alone and first even
 * where the policy allows a wider first wave: the break-glass lane shortens bakes, never the
 * canary.
 */
function wavesOf(config: FlotillaConfig, emergency: boolean): FlotillaConfig['waves'] {
  const [first, ...rest] = config.waves;
  if (!emergency || !first || first.regions.length <= 1) return config.waves;
  const [canary, ...others] = first.regions;
  return [
    { ...first, name: `${first.name} (canary)`, regions: canary === undefined ? [] : [canary] },
    { ...first, approval: false, regions: others },
    ...rest,
  ];
}

/** The release record PlanRelease writes: every region pending, with its last-known-good captured now. */
export function initialRecord(
  plan: ReleasePlan,
  regionStates: readonly RegionState[],
  startedAt: string,
): ReleaseRecord {
  const current = new Map(regionStates.map((s) => [s.region, s.current]));
  const regions: ReleaseRecord['regions'] = {};
  for (const wave of plan.waves) {
    for (const task of wave.regions) {
      regions[task.region] = {
        region: task.region,
        wave: wave.index,
        phase: 'pending',
        before: current.get(task.region) ?? null,
        updatedAt: startedAt,
      };
    }
  }
  return {
    service: plan.service,
    releaseId: plan.releaseId,
    version: plan.version,
    artifact: plan.artifact,
    status: 'RUNNING',
    wave: 0,
    waveCount: plan.waveCount,
    regions,
    startedAt,
    ...(plan.emergency ? { emergency: { ...plan.emergency, review: true as const } } : {}),
  };
}

export interface DurationEstimate {
  /** The floor the plan implies: per wave, the bake plus one gate check, waves one after another. */
  minimumSeconds: number;
  /** bakeSeconds: the bake (an adaptive one's max); bakeMinSeconds: an adaptive bake's min. */
  waves: { name: string; regions: string[]; bakeSeconds: number; bakeMinSeconds?: number }[];
}

/**
 * The minimum wall time the plan implies, ignoring deploy time itself (that depends on the
 * service): the waves run in order, each waits its full bake; regions within a wave run in
 * parallel so they add nothing. An adaptive bake counts its min: the least it waits.
 */
export function minimumDuration(config: FlotillaConfig): DurationEstimate {
  const waves = config.waves.map((w) => ({
    name: w.name,
    regions: [...w.regions],
    bakeSeconds: w.bakeSeconds,
    ...(w.bake ? { bakeMinSeconds: w.bake.min } : {}),
  }));
  return { minimumSeconds: waves.reduce((sum, w) => sum + (w.bakeMinSeconds ?? w.bakeSeconds), 0), waves };
}

/** Step Functions execution names: 1–80 chars, none of the forbidden characters. */
export function executionName(service: string, version: string, attempt: number): string {
  return nameWithAttempt(`${service}-${version}`, attempt);
}

/** The name of the release that rolls back `releaseId` (the `rollback` verb). */
export function rollbackName(releaseId: string, attempt: number): string {
  return nameWithAttempt(`${releaseId}-rollback`, attempt);
}

function nameWithAttempt(base: string, attempt: number): string {
  const clean = base.replace(/[^A-Za-z0-9_.-]/g, '_');
  const suffix = attempt > 1 ? `-${attempt}` : '';
  return `${clean.slice(0, 80 - suffix.length)}${suffix}`;
}
