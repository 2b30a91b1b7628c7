/**
 * Port: starts one fresh instance of a wave's new build with nothing warm, for the new-host gate
 * (core/new-host.ts decides when and from which region), and tears it down after the gate.
 * Locally: one more process from the region's staged `releases/<version>/` on a spare port
 * (adapters/local/new-host.ts). On AWS, per platform: a one-off ECS task of the new task
 * definition (adapters/aws/ecs-new-host.ts), a cold invocation of the new Lambda version
 * (adapters/aws/lambda-new-host.ts), one more instance of a Server group's Auto Scaling group
 * (adapters/aws/asg-new-host.ts), dispatched per platform by adapters/aws/new-hosts.ts; a Server
 * group with no Auto Scaling group, or one at its MaxSize, has none (`unsupported`, with why).
 */
import type { GateSettings, RegionTarget } from '../core/config.ts';
import type { ProbeSample } from '../core/model.ts';
import type { NewHostRef, Revision } from '../core/types.ts';

export type { NewHostRef };

export interface NewHostRequest {
  service: string;
  releaseId: string;
  wave: number;
  /** The region whose build, target and settings the new host takes. */
  region: string;
  /** `new host (<region>)`: core/new-host.ts `newHostName`. */
  name: string;
  target: RegionTarget;
  revision: Revision;
  /**
   * The region's staging (its release record's `staging.id`): on AWS what staging made there, the
   * task definition it registered or the Lambda version it published, when the AppSpec names the
   * document or code to make them from (adapters/aws/stage-id.ts). Absent: nothing was staged.
   */
  stageId?: string;
  gate: GateSettings;
  /** How long it may take to be up: the regions' readiness timeout (`deploy.readinessTimeoutSeconds`). */
  readinessTimeoutMs: number;
}

export type NewHostLaunch =
  /**
   * It runs, or is starting (`host.probedBy: 'launcher'`: the launcher's `probe` says when it is up):
   * `host.target` (if any) is what is probed; `samples` came with the launch itself.
   */
  | { kind: 'started'; host: Omit<NewHostRef, 'counts'>; samples: ProbeSample[] }
  /** It did not come up (exited, never answered, the platform refused): the gate fails, naming it. */
  | { kind: 'failed'; message: string }
  /** This target's platform has no new host here: the wave is gated on its regions alone, and says so. */
  | { kind: 'unsupported'; why: string };

/** One probe round of a new host its launcher probes: what the ordinary prober is asked for a region. */
export interface NewHostProbeRequest {
  expectedVersion: string;
  gate: GateSettings;
  /** How many probes the round makes (`gate.probes`). */
  count: number;
}

export interface NewHostLauncher {
  /** Starts it; returns at once where its platform starts it on its own (then `probe` says when it is up). */
  launch(request: NewHostRequest): Promise<NewHostLaunch>;
  /**
   * One probe round of a host launched with `probedBy: 'launcher'`: its platform is asked first
   * whether it is up (core/new-host.ts `readinessRound`): not yet → no samples; down or past its
   * readiness timeout → failed probes naming why; up → its health URL is probed.
   */
  probe?(
    host: Pick<NewHostRef, 'name' | 'region' | 'handle' | 'target'>,
    request: NewHostProbeRequest,
  ): Promise<ProbeSample[]>;
  /**
   * Tears it down (locally: waits until the process is gone; ECS: StopTask, which ECS finishes;
   * Auto Scaling: TerminateInstanceInAutoScalingGroup, the capacity decremented); idempotent.
   */
  stop(host: Pick<NewHostRef, 'name' | 'region' | 'handle'>): Promise<void>;
  /**
   * Tears down every new host of the release still up (all of them, without a release id): the
   * safety net of a release's end and of an orchestrator that died mid-gate. `targets`: the
   * release's region targets, where a launcher that keeps no record of its own (AWS) looks for them
   * (the clusters of its ECS groups, the Auto Scaling groups of its Server groups); the local one
   * reads its records and ignores them.
   */
  stopLeft?(releaseId?: string, targets?: readonly RegionTarget[]): Promise<string[]>;
}
