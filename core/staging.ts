/**
 * Staging ahead: while the canary deploys and bakes, the build is put into every region of the
 * later waves without switching anything, so a later wave's deploy is only the switch. Three
 * decisions, each here once: where to stage, whether a wave may start given how its staging went,
 * and where to remove a staged build at the end of the release. Pure.
 */
import type { ReleaseRecord } from './model.ts';
import type { RegionTask, ReleasePlan } from './types.ts';

/**
 * The regions to stage in as the release starts: every region of every wave after the first, and
 * a first-wave region whose bundle must be copied into its own bucket first (`copyFrom`, AWS:
 * staging is the only step that copies, so the canary's copy is made before its wave too).
 */
export function regionsToStage(plan: ReleasePlan): RegionTask[] {
  if (plan.mode !== 'release') return [];
  return plan.waves.flatMap((wave, index) =>
    wave.regions.filter((task) => task.revision !== null && (index > 0 || task.revision.copyFrom !== undefined)),
  );
}

/** How a region's staging went, as the deployer reports it when its wave is about to start. */
export interface StagingReport {
  region: string;
  status: 'InProgress' | 'Staged' | 'Failed' | 'NotStaged';
  message?: string;
}

/**
 * A wave whose build could not be staged in one of its regions does not start: the release fails
 * there, before the wave, naming each such region, never halfway through a wave. A staging still
 * running, or none at all, is no reason to stop: that region's deploy stages (or waits for) it.
 */
export function stagingAtEntry(
  reports: readonly StagingReport[],
  version: string,
): { kind: 'Clear' } | { kind: 'Blocked'; signals: string[] } {
  const signals = reports
    .filter((r) => r.status === 'Failed')
    .map((r) => `${r.region}: ${version} could not be staged before its wave${r.message ? ` (${r.message})` : ''}`);
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
