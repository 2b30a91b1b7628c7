/**
 * What a region's service process sees in its environment: an allow-list, never the
 * orchestrator's own environment. The service Flotilla ships is any commit merged to the branch;
 * if it inherited Flotilla's environment it would hold FLOTILLA_GITHUB_SECRET (and could sign
 * deliveries that start releases), the Slack token and webhook URL, and whatever else the person
 * or the machine running Flotilla has set. Pure: the caller hands in the orchestrator's
 * environment; nothing is read here.
 *
 * A service gets, in this order (a later one wins):
 *   PATH                     the orchestrator's, so `command: [node, server.js]` resolves as before
 *   passEnv names            copied from the orchestrator's environment when set there (never FLOTILLA_*)
 *   the target's `env`       the config's own values
 *   PORT, FLOTILLA_VERSION, FLOTILLA_REGION, FLOTILLA_SERVICE    what Flotilla tells every service
 *   FLOTILLA_FAULT_HEALTH    only while a health fault (unhealthy, flapping, silent) is injected
 *   FLOTILLA_FAULT_START     `fresh-start`, only into a new host's start (core/new-host.ts) while that fault is injected
 */

/** A POSIX environment variable name: letters, digits and underscores, not starting with a digit. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Flotilla's own variables: settings and secrets of the orchestrator, never passed through by name. */
export const FLOTILLA_PREFIX = 'FLOTILLA_';

export type HealthFault = 'unhealthy' | 'flapping' | 'silent';

/** Why a `passEnv` name cannot be passed through, or null when it can. */
export function passEnvProblem(name: string): string | null {
  if (!ENV_NAME_PATTERN.test(name)) {
    return `${JSON.stringify(name)} is not an environment variable name (letters, digits and _, not starting with a digit)`;
  }
  if (name.toUpperCase().startsWith(FLOTILLA_PREFIX)) {
    return `${name} is one of Flotilla's own variables (its settings and secrets, such as FLOTILLA_GITHUB_SECRET), which are never passed to a service; set a value in the target's env instead`;
  }
  return null;
}

export interface ServiceEnvInput {
  /** The orchestrator's environment (process.env): only PATH and the passEnv names are read from it. */
  orchestrator: Readonly<Record<string, string | undefined>>;
  /** The target's `env`, from the config. */
  targetEnv: Readonly<Record<string, string>>;
  /** The target's `passEnv`: names copied from the orchestrator's environment. */
  passEnv?: readonly string[];
  service: string;
  region: string;
  version: string;
  port: number;
  /** The health fault injected into this start, if any. */
  healthFault?: HealthFault;
  /** The start fault injected into this start (a new host's fresh start), if any. */
  startFault?: 'fresh-start';
}

/** The whole environment of one region process (nothing else is inherited). */
export function serviceEnvironment(input: ServiceEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  const path = input.orchestrator.PATH;
  if (path !== undefined) env.PATH = path;
  for (const name of input.passEnv ?? []) {
    // Config validation refuses these names; refused here again so no caller can pass a secret on.
    if (passEnvProblem(name) !== null) continue;
    const value = input.orchestrator[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, input.targetEnv);
  // Set by Flotilla alone: a stale value from the target's env never masquerades as an injected fault.
  delete env.FLOTILLA_FAULT_HEALTH;
  delete env.FLOTILLA_FAULT_START;
  env.PORT = String(input.port);
  env.FLOTILLA_VERSION = input.version;
  env.FLOTILLA_REGION = input.region;
  env.FLOTILLA_SERVICE = input.service;
  if (input.healthFault !== undefined) env.FLOTILLA_FAULT_HEALTH = input.healthFault;
  if (input.startFault !== undefined) env.FLOTILLA_FAULT_START = input.startFault;
  return env;
}
