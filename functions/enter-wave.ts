/**
 * EnterWave: before a wave deploys, probe each of its regions that already runs a version; one
 * already unhealthy blocks the wave (the decision is core/gate.ts `checkWaveEntry`). A clear wave
 * is then marked touched in the ledger, every region at once and *before* anything changes there,
 * with each region's last-known-good: the platform's own record of what runs there (CodeDeploy's
 * last successful deployment may predate Flotilla), else what PlanRelease found in the ledger.
 */
import { lambda } from '../backends/aws/lambda.ts';
import { ledgerFromEnv } from '../backends/aws/ledger.ts';
import { deployerFromEnv, eventsFromEnv, proberFromEnv } from '../backends/aws/ports.ts';
import { addSamples, checkWaveEntry, emptyCounts } from '../core/gate.ts';
import type { ReleasePlan, WaveEntry } from '../core/types.ts';
import { type Deps, emit, isoAt, namedError } from './deps.ts';

export interface WaveInput {
  plan: ReleasePlan;
  waveIndex: number;
}

export const createEnterWave =
  (deps: Pick<Deps, 'ledger' | 'deployer' | 'prober' | 'events' | 'now'>) =>
  async ({ plan, waveIndex }: WaveInput): Promise<WaveEntry> => {
    const wave = plan.waves[waveIndex];
    if (!wave) throw namedError('InvalidState', `wave ${waveIndex} does not exist in ${plan.releaseId}`);
    await deps.ledger.updateRelease(plan.service, plan.releaseId, { wave: waveIndex });
    await emit(deps, plan.service, plan.releaseId, {
      kind: 'wave-started',
      wave: waveIndex,
      name: wave.name,
      regions: wave.regions.map((r) => r.region),
    });
    // One query for the service's regions rather than one read per region: a wave can be 40 wide.
    const states = new Map((await deps.ledger.listRegions(plan.service)).map((s) => [s.region, s]));
    const checks = await Promise.all(
      wave.regions.map(async (task) => {
        const currentVersion = states.get(task.region)?.current?.version ?? null;
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
      return entry;
    }
    const current = await Promise.all(wave.regions.map((t) => deps.deployer.currentRevision(t.region, t.target)));
    const updatedAt = isoAt(deps);
    await deps.ledger.updateReleaseRegions(
      plan.service,
      plan.releaseId,
      wave.regions.map((task, i) => {
        const before = current[i];
        return { region: task.region, phase: 'deploying', updatedAt, ...(before ? { before } : {}) };
      }),
    );
    return entry;
  };

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
