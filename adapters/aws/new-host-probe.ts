/**
 * A new host's health URL on AWS (an ECS task's, an Auto Scaling instance's private address),
 * probed as the gate probes its region: the region's gate settings and expected version through
 * the health prober, refused connections left out until the host's readiness timeout
 * (core/new-host.ts `startingProbes`). Shared by adapters/aws/ecs-new-host.ts and asg-new-host.ts.
 */
import type { CodeDeployTarget } from '../../config/types.ts';
import type { ProbeSample } from '../../core/model.ts';
import { type HostReadiness, readinessRound, startingProbes } from '../../core/new-host.ts';
import type { HealthProber } from '../../ports/health-prober.ts';
import type { NewHostLaunch, NewHostProbeRequest, NewHostRef, NewHostRequest } from '../../ports/new-host.ts';

/**
 * A new host launched on AWS, which its launcher probes (`probedBy: 'launcher'`), with the region's
 * target without its alarms (they gate the region, not this host) or its URL (the host's own is
 * known once it is up): nothing an ordinary prober could probe by mistake.
 */
export function startedHost(
  request: NewHostRequest,
  target: CodeDeployTarget,
  handle: NewHostRef['handle'],
): NewHostLaunch {
  const { healthUrl: _url, ...rest } = target;
  return {
    kind: 'started',
    host: {
      name: request.name,
      region: request.region,
      wave: request.wave,
      handle,
      target: { ...rest, alarms: { names: [] } },
      probedBy: 'launcher',
    },
    samples: [],
  };
}

/** `scheme://ip:port/path`, an IPv6 address in brackets. */
export function hostUrl(scheme: string, ip: string, port: number, path: string): string {
  return `${scheme}://${ip.includes(':') ? `[${ip}]` : ip}:${port}${path}`;
}

/**
 * One probe round of a new host on AWS once its platform has said how it is: starting or down, the
 * round's samples say so (core/new-host.ts `readinessRound`); up with no health path, that it is up
 * is the evidence; up, its health path is probed at the URL `urlOf` finds (or the samples it gives
 * instead, saying why there is none).
 */
export async function probeReadyHost(input: {
  prober: HealthProber | undefined;
  host: Pick<NewHostRef, 'name' | 'handle' | 'target'>;
  request: NewHostProbeRequest;
  readiness: HostReadiness;
  /** Names the host in the samples' messages, e.g. `task arn:…/abc of shop:8`. */
  what: string;
  launchedAt: number;
  timeoutMs: number;
  now: () => number;
  urlOf: (path: string) => Promise<string | ProbeSample[]>;
}): Promise<ProbeSample[]> {
  const { host, request, launchedAt, timeoutMs, now } = input;
  const count = Math.max(1, request.count);
  const round = readinessRound({
    readiness: input.readiness,
    launchedAt,
    timeoutMs,
    now: now(),
    count,
    what: input.what,
  });
  if (round.kind === 'samples') return round.samples;
  const path = host.handle.healthPath;
  if (typeof path !== 'string') return Array.from({ length: count }, () => ({ kind: 'ok' as const }));
  const url = await input.urlOf(path);
  if (typeof url !== 'string') return url;
  return probeNewHostUrl(input.prober, host, url, request, { launchedAt, timeoutMs, now });
}

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
