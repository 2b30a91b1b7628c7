/**
 * The new-host gate: after a wave deploys, one fresh instance of the new build is started with
 * nothing warm (locally a new process from the staged release on a spare port; on AWS a one-off
 * ECS task, a cold invocation of the new Lambda version, or one more instance of a Server group's
 * Auto Scaling group) and gated on like the wave's regions,
 * then torn down. It catches what steady-state probes of long-running hosts miss: a build that
 * only breaks on a fresh start (Intercom's EU outage of 22 Nov 2023 surfaced on the next
 * scale-out). These are its decisions: whether a wave gets one, from which region's build, what
 * it is called, how a failed start counts, and when it goes. Pure.
 */
import type { ProbeSample } from './model.ts';
import type { GateDecision, NewHostRef, RegionResult, RegionTask, ReleasePlan } from './types.ts';

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

/**
 * Whether a new host's samples are in the gate's verdict as one more region: one that something
 * probes through the bake (the ordinary prober on its `target`, or its launcher, a one-off ECS task
 * asked first whether it is up). One with neither (a Lambda's cold invocation) was judged by its
 * launch alone: a failed launch fails the gate, a good one adds nothing to wait for.
 */
export function countsInGate(host: Pick<NewHostRef, 'target' | 'probedBy'>): boolean {
  return host.target !== undefined || host.probedBy === 'launcher';
}

/** What a new host's own platform says of it, before its health URL is asked (core/ecs-task.ts for ECS). */
export type HostReadiness =
  | { kind: 'up'; why: string }
  | { kind: 'starting'; why: string }
  | { kind: 'down'; why: string };

/** Whether a new host launched at `launchedAt` is past the time it had to be up (the regions' readiness timeout). */
export function readinessOverdue(input: { launchedAt: number; timeoutMs: number; now: number }): boolean {
  return input.now - input.launchedAt > input.timeoutMs;
}

/**
 * What one probe round of a new host that starts on its own (a one-off ECS task, launched without
 * waiting) makes of its readiness: up → probe its health URL; still starting within the readiness
 * timeout → no samples at all (missing data never passes: a host never up leaves the gate short of
 * samples, never passed); still starting past it, or down (stopped, unhealthy) → every probe of the
 * round fails, naming why, so the gate fails at once as it does for a local process that exits.
 */
export function readinessRound(input: {
  readiness: HostReadiness;
  /** When it was launched and how long it may take to be up (the regions' readiness timeout). */
  launchedAt: number;
  timeoutMs: number;
  now: number;
  /** The round's probes (`gate.probes`). */
  count: number;
  /** Names it in the message, e.g. `task arn:…/abc of shop:8`. */
  what: string;
}): { kind: 'probe' } | { kind: 'samples'; samples: ProbeSample[] } {
  const { readiness, launchedAt, timeoutMs, now, count, what } = input;
  if (readiness.kind === 'up') return { kind: 'probe' };
  const fail = (message: string) => ({
    kind: 'samples' as const,
    samples: Array.from({ length: Math.max(1, count) }, () => ({ kind: 'error' as const, message })),
  });
  if (readiness.kind === 'down') return fail(`${what} ${readiness.why}`);
  if (readinessOverdue({ launchedAt, timeoutMs, now })) {
    return fail(`${what} not up within ${Math.round(timeoutMs / 1000)} s of its start (${readiness.why})`);
  }
  return { kind: 'samples', samples: [] };
}

/**
 * The health-URL probes of a new host that ECS already says runs, as the gate counts them: within
 * its readiness timeout one that does not answer yet (no answer, a refused connection: no HTTP
 * status) is still starting, and those probes are left out; any HTTP answer counts as it is, and
 * past the timeout everything does. So a build that takes a while to listen is not failed for it,
 * and one that never listens fails once its time is up, as a local process does.
 */
export function startingProbes(
  samples: readonly ProbeSample[],
  input: { launchedAt: number; timeoutMs: number; now: number },
): ProbeSample[] {
  if (readinessOverdue(input)) return [...samples];
  return samples.filter((s) => s.kind === 'ok' || (s.kind === 'error' && s.status !== undefined));
}
