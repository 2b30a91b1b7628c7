/**
 * `adaptive_bake_saved_s`: a healthy 3-wave release on real local processes (one region per wave,
 * the local backend with its background bake watcher), its waves baking `bake: {min, max}`, against
 * the same release with fixed bakes of `max`. Each release starts from nothing in its own state
 * directory, so both deploy the same. The key is the wall-clock difference; the bakes alone (from the
 * events) are reported beside it. The most it can save is Σ (max − min) over the waves: the watcher
 * wakes the bake at min (within one gate interval) once the evidence is in.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openLocalBackend } from '../backends/local/index.ts';
import type { FlotillaConfig } from '../config/types.ts';
import type { Stamped } from '../core/events.ts';
import { freePorts } from '../test/helpers/local.ts';
import { benchGate, realRegions } from './fleet.ts';

export const ADAPTIVE_WAVES = 3;
export const ADAPTIVE_MIN_S = 1;
export const ADAPTIVE_MAX_S = 4;

export interface AdaptiveRun {
  /** Whole releases, wall clock. */
  adaptiveMs: number;
  fixedMs: number;
  /** Σ over the waves of each bake (its first gate check to its last), from the release's events: deploy noise left out. */
  adaptiveBakeMs: number;
  fixedBakeMs: number;
  /** Σ (max − min) over the waves, in seconds: the saving's ceiling. */
  idealSavedS: number;
}

/** Σ over the waves of first gate event → last gate event. */
function bakesMs(events: readonly Stamped[]): number {
  const spans = new Map<number, { first: number; last: number }>();
  for (const e of events) {
    if (e.kind !== 'gate') continue;
    const at = Date.parse(e.at);
    const span = spans.get(e.wave);
    spans.set(e.wave, span ? { first: span.first, last: at } : { first: at, last: at });
  }
  return [...spans.values()].reduce((sum, s) => sum + (s.last - s.first), 0);
}

async function releaseMs(adaptive: boolean): Promise<{ wallMs: number; bakeMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-adaptive-'));
  try {
    const ports = await freePorts(ADAPTIVE_WAVES);
    const names = Array.from({ length: ADAPTIVE_WAVES }, (_, i) => `region-${i + 1}`);
    const config: FlotillaConfig = {
      service: 'shop',
      regions: realRegions(names, ports),
      waves: names.map((name, i) => ({
        name: `wave-${i + 1}`,
        regions: [name],
        bakeSeconds: ADAPTIVE_MAX_S,
        ...(adaptive ? { bake: { min: ADAPTIVE_MIN_S, max: ADAPTIVE_MAX_S } } : {}),
        approval: false,
      })),
      gate: benchGate(ADAPTIVE_MAX_S),
      deploy: { readinessTimeoutSeconds: 30, pollSeconds: 1, maxPollSeconds: 5 },
      policy: { allowMultiRegionCanary: false },
    };
    const events: Stamped[] = [];
    const backend = await openLocalBackend({
      stateDir: join(dir, 'state'),
      config,
      events: { emit: (e) => void events.push(e) },
    });
    try {
      const started = performance.now();
      const outcome = await backend.release({
        version: '1.0.0',
        artifact: resolve(import.meta.dirname, '../examples/shop/builds/good'),
      });
      if (outcome.status !== 'SUCCEEDED') throw new Error(`adaptive bake: ${outcome.status}: ${outcome.reason}`);
      return { wallMs: performance.now() - started, bakeMs: bakesMs(events) };
    } finally {
      await backend.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * One of each release, in the order given: the first release in a process pays for warming it up
 * (module loading, JIT), so a caller that measures more than once turns the order about.
 */
export async function adaptiveBakeRun(order: 'fixed-first' | 'adaptive-first' = 'fixed-first'): Promise<AdaptiveRun> {
  const first = await releaseMs(order === 'adaptive-first');
  const second = await releaseMs(order !== 'adaptive-first');
  const [adaptive, fixed] = order === 'adaptive-first' ? [first, second] : [second, first];
  return {
    adaptiveMs: adaptive.wallMs,
    fixedMs: fixed.wallMs,
    adaptiveBakeMs: adaptive.bakeMs,
    fixedBakeMs: fixed.bakeMs,
    idealSavedS: ADAPTIVE_WAVES * (ADAPTIVE_MAX_S - ADAPTIVE_MIN_S),
  };
}
