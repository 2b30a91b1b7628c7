/**
 * VerifyRegion (child execution): one probe round right after a region's deployment succeeded.
 * Its samples seed the wave's gate; for a rollback they decide whether the region is healthy again.
 */

import { addSamples, emptyCounts } from '../core/gate.ts';
import type { RegionTask, SampleCounts } from '../core/types.ts';
import type { Deps } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { proberFromEnv } from './runtime/ports.ts';

export const createVerifyRegion =
  (deps: Pick<Deps, 'prober'>) =>
  async ({ task }: { task: RegionTask }): Promise<SampleCounts> => {
    // A region rolled back to nothing has no service left to probe.
    if (task.revision === null) return emptyCounts();
    const samples = await deps.prober.probe({
      region: task.region,
      target: task.target,
      expectedVersion: task.revision.version,
      gate: task.gate,
      count: task.gate.probes,
      signals: task.action === 'rollback' ? 'immediate' : 'all',
    });
    return addSamples(emptyCounts(), samples);
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() => createVerifyRegion({ prober: proberFromEnv() }));
