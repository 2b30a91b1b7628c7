import type { SlackSettings } from './slack-authz.ts';

/**
 * The validated release configuration (`flotilla.yml`), after defaults are applied.
 * The zod schema in `schema.ts` produces exactly this shape; everything downstream trusts it.
 */

/** A fault the local region target injects, for tests and demos. */
export interface FaultSpec {
  kind:
    | 'deploy-fail'
    | 'stage-fail'
    | 'slow-start'
    | 'crash-after-start'
    | 'fresh-start'
    | 'unhealthy'
    | 'flapping'
    | 'silent';
  /** When the fault applies: a deploy, a rollback, starting the region's current version when the backend starts, or always. */
  on: 'deploy' | 'rollback' | 'start' | 'always';
  /** Only for this version, when set. */
  version?: string;
  /** slow-start: extra start delay; crash-after-start: time after readiness before the process exits. */
  ms: number;
}

/** A region served by a real process on 127.0.0.1. */
export interface LocalTarget {
  kind: 'local-process';
  port: number;
  /** argv run in the staged release directory, e.g. ["node", "server.js"]. */
  command: string[];
  env: Record<string, string>;
  /**
   * Names of the orchestrator's environment variables the process also gets (POSIX names, never
   * FLOTILLA_*). Nothing else of the orchestrator's environment reaches it but PATH (core/service-env.ts).
   */
  passEnv?: string[];
  faults: FaultSpec[];
}

/** CloudWatch alarms that gate a region: by exact names and/or a name prefix; metric and composite alike. */
export interface AlarmSelector {
  names: string[];
  prefix?: string;
}

/** A region deployed by AWS CodeDeploy (the AWS backend). */
export interface CodeDeployTarget {
  kind: 'codedeploy';
  /** The AWS region the deployment group lives in. */
  awsRegion: string;
  application: string;
  deploymentGroup: string;
  /** Decides the revision type: S3 bundle for Server (EC2/on-premises), AppSpec content for Lambda and ECS. */
  platform: 'Server' | 'Lambda' | 'ECS';
  /** Assumed through STS for this region's calls (cross-account); the function's own role when absent. */
  roleArn?: string;
  alarms: AlarmSelector;
  /** Optional HTTP(S) health URL probed like a local region's health path. */
  healthUrl?: string;
}

export type RegionTarget = LocalTarget | CodeDeployTarget;

/** When a region may be deployed to, in its own local time. */
export interface DeployWindow {
  /** Days the window is open, e.g. ['Mon', 'Tue', 'Wed', 'Thu']. */
  days: ('Mon' | 'Tue' | 'Wed' | 'Thu' | 'Fri' | 'Sat' | 'Sun')[];
  /** 'HH:MM', inclusive. */
  start: string;
  /** 'HH:MM', exclusive; after `start`, or (overnight) before it, on the next day. */
  end: string;
  /** The window opens on each of `days` at `start` and closes at `end` the next day (e.g. 22:00–06:00). */
  overnight?: boolean;
  /** IANA time zone of the region, e.g. Europe/Dublin. */
  timeZone: string;
}

export interface RegionConfig {
  name: string;
  target: RegionTarget;
  window?: DeployWindow;
}

export interface WaveConfig {
  name: string;
  regions: string[];
  /** Bake time after the wave is deployed; defaults to gate.bakeSeconds. */
  bakeSeconds: number;
  /**
   * An adaptive bake (bakeSeconds is then its max): the bake ends at `min` seconds once the
   * evidence is in (core/bake.ts `evidenceIn`), otherwise it runs to `max`.
   */
  bake?: { min: number; max: number };
  /** The wave waits for a release manager's promote before it deploys. */
  approval: boolean;
  /**
   * At most this many of the wave's regions deploy at once (a big wave without a thundering herd).
   * Absent: all of them, up to the engine's limit (core/plan.ts `ENGINE_MAX_PARALLEL`).
   */
  maxParallel?: number;
  /**
   * Start one fresh instance of the new build after the wave deploys and gate on it too
   * (core/new-host.ts). Absent: on for a wave with a bake.
   */
  newHost?: boolean;
}

export interface GateSettings {
  healthPath: string;
  /** Probes per region per check. */
  probes: number;
  /** Seconds between checks while baking. */
  intervalSeconds: number;
  /** Errors / (ok + errors) above this fails the gate. */
  maxErrorRate: number;
  /** Fewer samples than this per region at the end of the bake is Inconclusive, never Passed. */
  minSamples: number;
  probeTimeoutMs: number;
  /** Gap between two probes of one check. */
  probeSpacingMs: number;
  bakeSeconds: number;
  /** rollback: roll back at once; pause: hold and alert until a human promotes or aborts. */
  onInconclusive: 'rollback' | 'pause';
}

export interface DeploySettings {
  /** How long a region's process may take to answer after a restart. */
  readinessTimeoutSeconds: number;
  /**
   * A region's child waits on its deployment's end (an event); after this long it re-checks once,
   * the fallback for a missed event, and the interval doubles up to maxPollSeconds.
   */
  pollSeconds: number;
  maxPollSeconds: number;
}

export interface PolicySettings {
  /** Allow a first wave (the canary) of more than one region. */
  allowMultiRegionCanary: boolean;
}

/** Where a deployed Flotilla stack lives (the outputs of `osls deploy`), for `--backend aws`. */
export interface AwsBackendSettings {
  region: string;
  /** The release state machine. */
  stateMachineArn: string;
  /** The ledger table. */
  table: string;
}

export type { SlackSettings } from './slack-authz.ts';

/** The break-glass lane (`release --emergency`): how short its bakes are. */
export interface EmergencySettings {
  /** Every wave of an emergency release bakes this long (or its own bake, if shorter). */
  minBakeSeconds: number;
}

export interface FlotillaConfig {
  service: string;
  regions: RegionConfig[];
  waves: WaveConfig[];
  gate: GateSettings;
  deploy: DeploySettings;
  policy: PolicySettings;
  aws?: AwsBackendSettings;
  /** Who may steer releases from Slack (core/slack-authz.ts). Absent: every Slack click is refused. */
  slack?: SlackSettings;
  /** The break-glass lane; absent: its bakes are EMERGENCY_MIN_BAKE_SECONDS (core/plan.ts). */
  emergency?: EmergencySettings;
}

/** One thing wrong with a config, with the path to it (`waves[1].regions[0]`). */
export interface ConfigProblem {
  path: string;
  message: string;
}
