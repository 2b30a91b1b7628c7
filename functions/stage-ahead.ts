/**
 * StageAhead: as the release starts (its turn claimed), starts putting the build into every region
 * of the later waves without switching anything there (core/staging.ts `regionsToStage`), and
 * records each staging's id with the region in the ledger; EnterWave looks at them before each
 * wave. It returns at once: the copies go on while the canary deploys and bakes. A deployer that
 * cannot stage leaves it to each deploy, as before.
 */

import { regionsToStage } from '../core/staging.ts';
import type { PlanRef } from '../core/types.ts';
import type { ReleaseRegionPatch } from '../ports/ledger.ts';
import type { RegionDeployer } from '../ports/region-deployer.ts';
import { type Deps, isoAt } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { stagerFromEnv } from './runtime/ports.ts';
import { loadPlan } from './shared/plan.ts';

export const createStageAhead =
  (deps: Pick<Deps, 'ledger' | 'now'> & { deployer?: Pick<RegionDeployer, 'startStaging'> }) =>
  async ({ plan: ref }: { plan: PlanRef }): Promise<{ staging: number }> => {
    const startStaging = deps.deployer?.startStaging?.bind(deps.deployer);
    if (!startStaging) return { staging: 0 };
    const plan = await loadPlan(deps, ref);
    const started = await Promise.all(
      regionsToStage(plan).map(async (task) => {
        if (!task.revision) return null;
        const { stageId } = await startStaging({
          service: task.service,
          releaseId: task.releaseId,
          region: task.region,
          target: task.target,
          revision: task.revision,
        });
        return { region: task.region, stageId };
      }),
    );
    const updatedAt = isoAt(deps);
    const patches: ReleaseRegionPatch[] = started.flatMap((s) =>
      s ? [{ region: s.region, staging: { id: s.stageId }, updatedAt }] : [],
    );
    if (patches.length > 0) await deps.ledger.updateReleaseRegions(plan.service, plan.releaseId, patches);
    return { staging: patches.length };
  };

/**
 * The Lambda entry point on AWS: the AWS stager stages each region's revision
 * (adapters/aws/revision-stager.ts: an S3 copy into the region's bucket or a check that the bundle
 * is there; an ECS task definition registered or a Lambda version published there) and the stage
 * id records how it went and what it made, for that region's deploy and the cleanup.
 */
export const handler = lambda(() =>
  createStageAhead({ ledger: ledgerFromEnv(), deployer: stagerFromEnv(), now: Date.now }),
);
