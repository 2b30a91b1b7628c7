/**
 * A new host's health URL on AWS (an ECS task's, an Auto Scaling instance's private address),
 * probed as the gate probes its region: the region's gate settings and expected version through
 * the health prober, refused connections left out until the host's readiness timeout
 * (core/new-host.ts `startingProbes`). Shared by adapters/aws/ecs-new-host.ts and asg-new-host.ts.
 */
import type { ProbeSample } from '../../core/model.ts';
import { startingProbes } from '../../core/new-host.ts';
import type { HealthProber } from '../../ports/health-prober.ts';
import type { NewHostProbeRequest, NewHostRef } from '../../ports/new-host.ts';

/** A new host's launch time and readiness timeout from its handle, else `now` and the launcher's own timeout. */
export function handleReadiness(
  handle: NewHostRef['handle'],
  fallback: { now: number; timeoutMs: number },
): { launchedAt: number; timeoutMs: number } {
  const launched = Number(handle.launchedAt);
  const timeout = Number(handle.readinessTimeoutMs);
  return {
    launchedAt: Number.isFinite(launched) ? launched : fallback.now,
    timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : fallback.timeoutMs,
  };
}

/** `count` unanswered probes: never a pass. */
export function missingProbes(count: number, message: string): ProbeSample[] {
  return Array.from({ length: Math.max(1, count) }, () => ({ kind: 'missing' as const, message }));
}

export async function probeNewHostUrl(
  prober: HealthProber | undefined,
  host: Pick<NewHostRef, 'name' | 'target'>,
  url: string,
  request: NewHostProbeRequest,
  readiness: { launchedAt: number; timeoutMs: number; now: () => number },
): Promise<ProbeSample[]> {
  const count = Math.max(1, request.count);
  if (!prober || host.target?.kind !== 'codedeploy')
    return missingProbes(count, `${host.name}: nothing here probes ${url}`);
  const answers = await prober.probe({
    region: host.name,
    target: { ...host.target, alarms: { names: [] }, healthUrl: url },
    expectedVersion: request.expectedVersion,
    gate: request.gate,
    count,
  });
  const { launchedAt, timeoutMs, now } = readiness;
  return startingProbes(answers, { launchedAt, timeoutMs, now: now() });
}
