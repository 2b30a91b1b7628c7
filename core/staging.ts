/**
 * Staging ahead: while the canary deploys and bakes, the build is put into every region of the
 * later waves without switching anything, so a later wave's deploy is only the switch. Three
 * decisions, each here once: where to stage, whether a wave may start given how its staging went,
 * and where to remove a staged build at the end of the release. Pure.
 */
import { buildToMake } from './artifacts.ts';
import type { ReleaseRecord } from './model.ts';
import type { RegionTask, ReleasePlan } from './types.ts';

/**
 * The regions to stage in as the release starts: every region of every wave after the first, and
 * a first-wave region that only staging can prepare (AWS: a bundle to copy into its own bucket,
 * `copyFrom`; a task definition to register or a Lambda version to publish, core/artifacts.ts
 * `buildToMake`): staging is the only step that makes them, so the canary's are made before its
 * wave too.
 */
export function regionsToStage(plan: ReleasePlan): RegionTask[] {
  if (plan.mode !== 'release') return [];
  return plan.waves.flatMap((wave, index) =>
    wave.regions.filter((task) => task.revision !== null && (index > 0 || mustStage(task))),
  );
}

/**
 * True when the region's deploy needs what staging makes there: a bundle copied into its bucket,
 * a task definition registered or a Lambda version published in its region (its AppSpec names
 * where it is made from, not what AWS numbered it). Such a region never deploys unstaged.
 */
export function mustStage(task: Pick<RegionTask, 'revision' | 'target'>): boolean {
  const revision = task.revision;
  if (revision === null) return false;
  return revision.copyFrom !== undefined || buildToMake(revision.artifact, task.target) !== undefined;
}

/** How a region's staging went, as the deployer reports it when its wave is about to start. */
export interface StagingReport {
  region: string;
  status: 'InProgress' | 'Staged' | 'Failed' | 'NotStaged';
  message?: string;
  /** The region's deploy needs what staging makes (`mustStage`): it cannot stage at deploy time. */
  required?: boolean;
}

/**
 * A wave whose build could not be staged in one of its regions does not start: the release fails
 * there, before the wave, naming each such region, never halfway through a wave. A staging still
 * running, or none at all, is no reason to stop where the deploy can stage (or wait for) it
 * itself; where only staging makes what the deploy names (`required`), it blocks the wave too.
 */
export function stagingAtEntry(
  reports: readonly StagingReport[],
  version: string,
): { kind: 'Clear' } | { kind: 'Blocked'; signals: string[] } {
  const signals = reports.flatMap((r) => {
    if (r.status === 'Failed') {
      return [`${r.region}: ${version} could not be staged before its wave${r.message ? ` (${r.message})` : ''}`];
    }
    if (r.required && r.status !== 'Staged') {
      const why = r.status === 'InProgress' ? 'its staging had not finished' : 'it was never staged';
      return [`${r.region}: ${version} is not staged before its wave (${why}; only staging makes what it deploys)`];
    }
    return [];
  });
  return signals.length > 0 ? { kind: 'Blocked', signals } : { kind: 'Clear' };
}

/**
 * Where to remove the build this release staged or deployed, once it has ended: every region of
 * the release that does not run its version now (rolled back, aborted, superseded, skipped, never
 * reached). The deployer removes only what this release itself put there.
 */
export function regionsToUnstage(
  plan: ReleasePlan,
  record: Pick<ReleaseRecord, 'regions'>,
  currentVersions: Readonly<Record<string, string | null>>,
): RegionTask[] {
  if (plan.mode !== 'release') return [];
  return plan.waves.flatMap((wave) =>
    wave.regions.filter(
      (task) =>
        record.regions[task.region] !== undefined &&
        task.revision !== null &&
        currentVersions[task.region] !== task.revision.version,
    ),
  );
}
