/**
 * CheckWaveEntry: before a wave deploys, probe each of its regions that already runs a version.
 * One already unhealthy blocks the wave (the decision is core/gate.ts `checkWaveEntry`).
 */

import { lambda } from '../backends/aws/lambda.ts';
import { ledgerFromEnv } from '../backends/aws/ledger.ts';
import { eventsFromEnv, proberFromEnv } from '../backends/aws/ports.ts';
import { addSamples, checkWaveEntry, emptyCounts } from '../core/gate.ts';
import type { ReleasePlan, WaveEntry } from '../core/types.ts';
import { type Deps, emit, FlotillaError } from './deps.ts';

export interface WaveInput {
  plan: ReleasePlan;
  waveIndex: number;
}

export const createCheckWaveEntry =
  (deps: Pick<Deps, 'ledger' | 'prober' | 'events' | 'now'>) =>
  async ({ plan, waveIndex }: WaveInput): Promise<WaveEntry> => {
    const wave = plan.waves[waveIndex];
    if (!wave) throw new FlotillaError('InvalidState', `wave ${waveIndex} does not exist in ${plan.releaseId}`);
    await deps.ledger.updateRelease(plan.service, plan.releaseId, { wave: waveIndex });
    await emit(deps, plan.service, plan.releaseId, {
      kind: 'wave-started',
      wave: waveIndex,
      name: wave.name,
      regions: wave.regions.map((r) => r.region),
    });
    const checks = await Promise.all(
      wave.regions.map(async (task) => {
        const state = await deps.ledger.getRegion(plan.service, task.region);
        const currentVersion = state?.current?.version ?? null;
        if (currentVersion === null) return { region: task.region, currentVersion, counts: emptyCounts() };
        const samples = await deps.prober.probe({
          region: task.region,
          target: task.target,
          expectedVersion: currentVersion,
          gate: plan.gate,
          count: plan.gate.probes,
        });
        return { region: task.region, currentVersion, counts: addSamples(emptyCounts(), samples) };
      }),
    );
    const entry = checkWaveEntry(checks, plan.gate);
    if (entry.kind === 'Blocked') {
      await emit(deps, plan.service, plan.releaseId, { kind: 'wave-blocked', wave: waveIndex, signals: entry.signals });
    }
    return entry;
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createCheckWaveEntry({ ledger: ledgerFromEnv(), prober: proberFromEnv(), events: eventsFromEnv(), now: Date.now }),
);
