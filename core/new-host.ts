/**
 * The new-host gate: after a wave deploys, one fresh instance of the new build is started with
 * nothing warm (locally a new process from the staged release on a spare port; on AWS a one-off
 * ECS task or a cold invocation of the new Lambda version) and gated on like the wave's regions,
 * then torn down. It catches what steady-state probes of long-running hosts miss: a build that
 * only breaks on a fresh start (Intercom's EU outage of 22 Nov 2023 surfaced on the next
 * scale-out). These are its decisions: whether a wave gets one, from which region's build, what
 * it is called, how a failed start counts, and when it goes. Pure.
 */
import type { GateDecision, RegionResult, RegionTask, ReleasePlan } from './types.ts';

export type { NewHostRef } from './types.ts';

export const newHostName = (region: string): string => `new host (${region})`;

/** Whether a host name is a new host's rather than a region's. */
export const isNewHostName = (name: string): boolean => /^new host \(.+\)$/.test(name);

/**
 * Whether a wave gets a new-host check: `waves[].newHost` when the config says so, else on for
 * every wave that bakes (a wave without a bake gates on nothing, so neither does its new host).
 */
export function wantsNewHost(wave: { bakeSeconds: number; newHost?: boolean | undefined }): boolean {
  return wave.newHost ?? wave.bakeSeconds > 0;
}

/**
 * The region whose build the wave's new host is started from, or null for none: the wave's first
 * region (in plan order) that deployed the new revision, in a release (never a rollback) whose wave
 * asks for one. None when any region of the wave failed to deploy: the gate has already failed.
 */
export function newHostRegion(
  plan: Pick<ReleasePlan, 'mode' | 'waves'>,
  waveIndex: number,
  results: readonly Pick<RegionResult, 'region' | 'outcome'>[],
): RegionTask | null {
  const wave = plan.waves[waveIndex];
  if (plan.mode !== 'release' || !wave || wave.newHost !== true) return null;
  if (results.some((r) => r.outcome !== 'deployed')) return null;
  const deployed = new Set(results.filter((r) => r.outcome === 'deployed').map((r) => r.region));
  return wave.regions.find((task) => task.revision !== null && deployed.has(task.region)) ?? null;
}

/** A new host that did not come up counts as a failed deploy of the wave: the gate fails, naming it. */
export function newHostStartFailure(region: string, message: string): { region: string; message: string } {
  return { region: newHostName(region), message: `a fresh start of the new build failed: ${message}` };
}

/**
 * Whether the gate's decision ends the wave's new hosts: once the gate has passed (next wave) or
 * failed (roll back), never while it bakes or holds for a human, who may still want its samples.
 */
export function newHostsDone(decision: GateDecision): boolean {
  return decision === 'next-wave' || decision === 'rollback';
}
