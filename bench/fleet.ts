/** Shared by the bench scenarios: region names, how they fall into waves, the gate they bake under. */
import type { FlotillaConfig, GateSettings } from '../config/types.ts';

/** `region-01` … `region-NN`. */
export function regionNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `region-${String(i + 1).padStart(2, '0')}`);
}

/**
 * The simulated regions' build: a Lambda AppSpec as CodeDeploy takes it (a function and a published
 * TargetVersion), which the platform checks before the lock (core/artifacts.ts) accept.
 */
export const SIMULATED_APPSPEC =
  'appspec:{"version":0.0,"Resources":[{"shop":{"Type":"AWS::Lambda::Function","Properties":{"Name":"shop","Alias":"live","CurrentVersion":"1","TargetVersion":"2"}}}]}';

/** Stand-in CodeDeploy regions for the simulated releases (the deployer is a stand-in; nothing reaches AWS). */
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

/** Real local regions running the example service (`server.js` of the build), one per free port. */
export function realRegions(names: readonly string[], ports: readonly number[]): FlotillaConfig['regions'] {
  return names.map((name, i) => ({
    name,
    target: {
      kind: 'local-process',
      port: ports[i] as number,
      command: [process.execPath, 'server.js'],
      env: { CURRENCY: 'USD' },
      faults: [],
    },
  }));
}

/** Splits names into consecutive waves of the given sizes. */
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
