/**
 * Whether a one-off ECS task (the new-host gate's fresh instance on ECS) is up, still starting, or
 * down, from what DescribeTasks says of it. Up: RUNNING and not UNHEALTHY (its health URL is probed
 * next). Down: STOPPED (or on its way there) with ECS's reasons and exit codes, or UNHEALTHY (its
 * container health check failed). Anything else (PROVISIONING, PENDING, ACTIVATING) is starting.
 * Pure: the shape below is the part of ECS's `Task` it reads.
 */
import type { HostReadiness } from './new-host.ts';

export interface EcsTaskView {
  lastStatus?: string;
  desiredStatus?: string;
  healthStatus?: string;
  stoppedReason?: string;
  stopCode?: string;
  containers?: { name?: string; exitCode?: number; reason?: string }[];
}

export function ecsTaskReadiness(task: EcsTaskView | undefined): HostReadiness {
  if (!task) return { kind: 'down', why: 'is gone (ECS no longer knows it)' };
  if (task.lastStatus === 'STOPPED' || task.desiredStatus === 'STOPPED') {
    const exits = (task.containers ?? [])
      .filter((c) => c.exitCode !== undefined || c.reason)
      .map((c) =>
        `${c.name}: ${c.exitCode !== undefined ? `exit ${c.exitCode}` : ''}${c.reason ? ` ${c.reason}` : ''}`.trim(),
      );
    return {
      kind: 'down',
      why: `stopped: ${task.stoppedReason || task.stopCode || 'no reason given'}${exits.length > 0 ? ` (${exits.join('; ')})` : ''}`,
    };
  }
  if (task.healthStatus === 'UNHEALTHY')
    return { kind: 'down', why: 'is UNHEALTHY (its container health check failed)' };
  if (task.lastStatus === 'RUNNING') {
    // UNKNOWN: no health check in the task definition, or none evaluated yet (its start period). ECS
    // reports both alike, so the health URL, probed next, decides; unanswered probes never pass.
    return { kind: 'up', why: task.healthStatus === 'HEALTHY' ? 'RUNNING, HEALTHY' : 'RUNNING' };
  }
  return { kind: 'starting', why: `${task.lastStatus ?? 'PENDING'}, health ${task.healthStatus ?? 'UNKNOWN'}` };
}
