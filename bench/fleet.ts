/** Shared by the bench scenarios: region names, how they fall into waves, the gate they bake under. */
import type { FlotillaConfig, GateSettings } from '../config/types.ts';

/** `region-01` … `region-NN`. */
export function regionNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `region-${String(i + 1).padStart(2, '0')}`);
}

/** Splits names into consecutive waves of the given sizes. */
/** Stand-in CodeDeploy regions for the simulated releases (the deployer is a stand-in; nothing reaches AWS). */
/**
 * The simulated regions' build: a Lambda AppSpec as CodeDeploy takes it (a function and a published
 * TargetVersion), which the platform checks before the lock (core/artifacts.ts) accept.
 */
export const SIMULATED_APPSPEC =
  'appspec:{"version":0.0,"Resources":[{"shop":{"Type":"AWS::Lambda::Function","Properties":{"Name":"shop","Alias":"live","CurrentVersion":"1","TargetVersion":"2"}}}]}';

export function simulatedRegions(names: readonly string[]): FlotillaConfig['regions'] {
  return names.map((name) => ({
    name,
    target: {
      kind: 'codedeploy',
      awsRegion: 'us-east-1',
      application: 'sim',
      deploymentGroup: name,
      platform: 'Lambda',
      alarms: { names: [`${name}-errors`] },
    },
  }));
}

export function splitWaves(names: readonly string[], sizes: readonly number[]): string[][] {
  const waves: string[][] = [];
  let start = 0;
  for (const size of sizes) {
    waves.push(names.slice(start, start + size));
    start += size;
  }
  return waves;
}

/** One probe a check, any error fails, one sample is enough: the bench measures Flotilla, not the service. */
export function benchGate(bakeSeconds: number): GateSettings {
  return {
    healthPath: '/health',
    probes: 1,
    intervalSeconds: 1,
    maxErrorRate: 0,
    minSamples: 1,
    probeTimeoutMs: 1000,
    probeSpacingMs: 0,
    bakeSeconds,
    onInconclusive: 'rollback',
  };
}
