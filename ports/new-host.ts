/**
 * Port: starts one fresh instance of a wave's new build with nothing warm, for the new-host gate
 * (core/new-host.ts decides when and from which region), and tears it down after the gate.
 * Locally: one more process from the region's staged `releases/<version>/` on a spare port
 * (adapters/local/new-host.ts). On AWS, per platform: a one-off ECS task of the new task
 * definition (adapters/aws/ecs-new-host.ts), a cold invocation of the new Lambda version
 * (adapters/aws/lambda-new-host.ts); an extra EC2 instance through Auto Scaling is not supported.
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
  gate: GateSettings;
}

export type NewHostLaunch =
  /** It runs: `host.target` (if any) is what the ordinary prober probes; `samples` came with the launch itself. */
  | { kind: 'started'; host: Omit<NewHostRef, 'counts'>; samples: ProbeSample[] }
  /** It did not come up (exited, never answered, the platform refused): the gate fails, naming it. */
  | { kind: 'failed'; message: string }
  /** This target's platform has no new host here: the wave is gated on its regions alone, and says so. */
  | { kind: 'unsupported'; why: string };

export interface NewHostLauncher {
  launch(request: NewHostRequest): Promise<NewHostLaunch>;
  /** Tears it down and waits until it is gone; idempotent (one already gone is fine). */
  stop(host: Pick<NewHostRef, 'name' | 'region' | 'handle'>): Promise<void>;
  /**
   * Tears down every new host of the release still up (all of them, without a release id): the
   * safety net of a release's end and of an orchestrator that died mid-gate.
   */
  stopLeft?(releaseId?: string): Promise<string[]>;
}
