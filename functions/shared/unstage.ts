/** Removing what a release staged, once it has ended: FinishRelease locally, UnstageRelease on AWS. */
import { regionsToUnstage } from '../../core/staging.ts';
import type { ReleasePlan } from '../../core/types.ts';
import type { ReleaseRecord } from '../../ports/ledger.ts';
import type { RegionDeployer } from '../../ports/region-deployer.ts';

/**
 * Removes the build from every region of the release that does not run it now (core/staging.ts
 * `regionsToUnstage`): staged ahead and never switched to, or rolled back. A removal that fails
 * is logged and never changes the outcome: a stray copy costs disk, not safety.
 */
export async function unstage(
  deps: { deployer?: Pick<RegionDeployer, 'removeStaged'> },
  plan: ReleasePlan,
  record: ReleaseRecord,
  versions: Record<string, string | null>,
): Promise<void> {
  const removeStaged = deps.deployer?.removeStaged?.bind(deps.deployer);
  if (!removeStaged) return;
  await Promise.all(
    regionsToUnstage(plan, record, versions).map(async (task) => {
      if (!task.revision) return;
      const stageId = record.regions[task.region]?.staging?.id;
      try {
        await removeStaged({
          service: task.service,
          releaseId: task.releaseId,
          region: task.region,
          target: task.target,
          revision: task.revision,
          ...(stageId !== undefined ? { stageId } : {}),
        });
      } catch (error) {
        console.warn(`${task.region}: could not remove the build staged by ${task.releaseId}: ${String(error)}`);
      }
    }),
  );
}
