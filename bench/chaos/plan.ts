/**
 * The chaos suite's dice: a seeded generator and what one run does (which faults where, which
 * build, whether the orchestrator is killed, whether the ledger is damaged afterwards). Pure, so a
 * seed always replays the same storm.
 */
import type { FaultSpec } from '../../config/types.ts';

export const FAULT_KINDS = [
  'deploy-fail',
  'slow-start',
  'crash-after-start',
  'unhealthy',
  'flapping',
  'silent',
  'fresh-start',
] as const satisfies readonly FaultSpec['kind'][];
export const FAULT_ON = ['deploy', 'rollback', 'start', 'always'] as const satisfies readonly FaultSpec['on'][];
export const DAMAGES = ['missing-CURRENT', 'truncated-table', 'missing-MANIFEST'] as const;
export type Damage = (typeof DAMAGES)[number];

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RunPlan {
  index: number;
  version: string;
  build: 'good' | 'broken';
  /** 'up': the release runs inside a `flotilla up`; 'plain': a plain `flotilla release` is the orchestrator. */
  host: 'up' | 'plain';
  faults: Record<string, FaultSpec[]>;
  /** kill -9 of the orchestrator this many ms after the release command starts. */
  killAfterMs?: number;
  /** Damage done to the ledger's files after the run's checks. */
  damage?: Damage;
}

export interface Dice {
  /** Share of runs with each region given a fault (each region drawn apart). */
  faultRate: number;
  killRate: number;
  damageRate: number;
  /** The longest a killed release runs before the kill. */
  maxKillMs: number;
  /** The regions' readiness timeout: slow-start faults are drawn around it. */
  readinessMs: number;
}

export const DEFAULT_DICE: Dice = {
  faultRate: 0.4,
  killRate: 0.12,
  damageRate: 0.08,
  maxKillMs: 6000,
  readinessMs: 3000,
};

export function planRun(
  random: () => number,
  index: number,
  regions: readonly string[],
  dice: Dice = DEFAULT_DICE,
): RunPlan {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const version = `2.${index}.0`;
  const faults: Record<string, FaultSpec[]> = {};
  for (const region of regions) {
    faults[region] = [];
    if (random() >= dice.faultRate) continue;
    const kind = pick(FAULT_KINDS);
    const on = pick(FAULT_ON);
    const ms =
      kind === 'slow-start'
        ? Math.round(random() * dice.readinessMs * 1.6)
        : kind === 'crash-after-start'
          ? 200 + Math.round(random() * 3000)
          : 0;
    // A fault for the new version only, sometimes: the old one stays healthy to roll back to.
    const onlyNew = random() < 0.3;
    faults[region].push({ kind, on, ms, ...(onlyNew ? { version } : {}) });
  }
  const plan: RunPlan = {
    index,
    version,
    build: random() < 0.2 ? 'broken' : 'good',
    host: random() < 0.7 ? 'up' : 'plain',
    faults,
  };
  if (random() < dice.killRate) plan.killAfterMs = 600 + Math.round(random() * dice.maxKillMs);
  if (random() < dice.damageRate) plan.damage = pick(DAMAGES);
  return plan;
}
