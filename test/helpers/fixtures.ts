/** Builders for in-memory configs and records: core tests need no files and no mocks. */

import type { FlotillaConfig, GateSettings, LocalTarget, RegionTarget } from '../../config/types.ts';
import type { Intent } from '../../core/control.ts';
import { emptyCounts } from '../../core/gate.ts';
import type { BakeWatch } from '../../core/types.ts';
import type { Verb } from '../../core/verbs.ts';
import type { BranchHead, BranchHeads, ReleaseRecord } from '../../ports/ledger.ts';
import type { TaskCallbacks } from '../../ports/task-callbacks.ts';

export const gate = (over: Partial<GateSettings> = {}): GateSettings => ({
  healthPath: '/health',
  probes: 5,
  intervalSeconds: 1,
  maxErrorRate: 0.1,
  minSamples: 10,
  probeTimeoutMs: 500,
  probeSpacingMs: 0,
  bakeSeconds: 10,
  onInconclusive: 'rollback',
  ...over,
});

/** A config with the given waves of region names; ports from 7101 up. */
export function configWith(waves: string[][], over: Partial<FlotillaConfig> = {}): FlotillaConfig {
  const names = waves.flat();
  return {
    service: 'shop',
    regions: names.map((name, i) => ({
      name,
      target: { kind: 'local-process', port: 7101 + i, command: ['node', 'server.js'], env: {}, faults: [] },
    })),
    waves: waves.map((regions, i) => ({ name: `wave-${i + 1}`, regions, bakeSeconds: 10, approval: false })),
    gate: gate(),
    deploy: { readinessTimeoutSeconds: 10, pollSeconds: 1, maxPollSeconds: 30 },
    policy: { allowMultiRegionCanary: false },
    ...over,
  };
}

export function recordWith(
  regions: { region: string; wave: number; phase: ReleaseRecord['regions'][string]['phase']; before: string | null }[],
): ReleaseRecord {
  return {
    service: 'shop',
    releaseId: 'shop-2.0.0',
    version: '2.0.0',
    artifact: '/builds/2.0.0',
    status: 'RUNNING',
    wave: 0,
    waveCount: 3,
    startedAt: '2026-01-01T00:00:00.000Z',
    regions: Object.fromEntries(
      regions.map((r) => [
        r.region,
        {
          region: r.region,
          wave: r.wave,
          phase: r.phase,
          before: r.before === null ? null : { version: r.before, artifact: `/builds/${r.before}` },
          updatedAt: '2026-01-01T00:00:00.000Z',
        },
      ]),
    ),
  };
}

/** Narrows a region target to the local kind (every fixture here is local); fails the test otherwise. */
export function asLocal(target: RegionTarget | undefined): LocalTarget {
  if (target?.kind !== 'local-process') throw new Error(`expected a local-process target, got ${target?.kind}`);
  return target;
}

/**
 * The ledger's branch heads in memory, with its compare-and-set: for tests of the webhook paths that
 * are not about the ledger (those that are use the DynamoDB ledger on dynalite).
 */
export function memoryBranchHeads(): BranchHeads & { heads: Map<string, BranchHead> } {
  const heads = new Map<string, BranchHead>();
  const key = (service: string, branch: string) => `${service}#${branch}`;
  return {
    heads,
    getBranchHead: async (service, branch) => heads.get(key(service, branch)),
    putBranchHead: async (service, head, previous) => {
      const now = heads.get(key(service, head.branch));
      if (now?.commit !== previous?.commit || now?.pushedAt !== previous?.pushedAt) return false;
      heads.set(key(service, head.branch), head);
      return true;
    },
  };
}

let intentCount = 0;
/** One recorded intent of shop-2.0.0 (service-wide for freeze/unfreeze), by ops@test, each with its own id and time. */
export function intentOf(verb: Verb, extra: Partial<Intent> = {}): Intent {
  const n = intentCount++;
  return {
    service: 'shop',
    releaseId: verb === 'freeze' || verb === 'unfreeze' ? null : 'shop-2.0.0',
    verb,
    actor: 'ops@test',
    reason: `because ${verb}`,
    at: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
    id: `id-${String(n).padStart(6, '0')}`,
    ...extra,
  };
}

/**
 * A bake of shop-2.0.0 kept for the watchers: started at `startedAt`, an hour long, each region
 * with no samples yet; `over` sets the rest (the wave, the gate, an adaptive min).
 */
export function bakeWatchOf(
  regions: BakeWatch['regions'],
  startedAt: number,
  over: Partial<Omit<BakeWatch, 'regions' | 'startedAt' | 'samples'>> = {},
): BakeWatch {
  return {
    service: 'shop',
    releaseId: 'shop-2.0.0',
    wave: 0,
    token: 'bake-token',
    startedAt,
    bakeUntil: startedAt + 3_600_000,
    version: '2.0.0',
    gate: gate(),
    regions,
    samples: Object.fromEntries(regions.map((r) => [r.region, emptyCounts()])),
    ...over,
  };
}

/** Task callbacks that wake every token they are given, and the wakes they made, in order. */
export function recordingCallbacks(): {
  callbacks: TaskCallbacks;
  woken: { token: string; output: Record<string, unknown> }[];
} {
  const woken: { token: string; output: Record<string, unknown> }[] = [];
  const callbacks: TaskCallbacks = {
    succeed: async (token, output) => {
      woken.push({ token, output });
      return 'woken';
    },
    fail: async () => 'woken',
  };
  return { callbacks, woken };
}
