/**
 * Where a command's release, rollback, intent and reads go, chosen once per command:
 *  - `aws`: the deployed stack (Step Functions + DynamoDB), through backends/aws/cli.ts;
 *  - `control`: the control API of a running `flotilla up` (or `release`) for the state dir;
 *  - `local`: the local backend opened in this process (backends/local/index.ts).
 * Each implementation lives in cli/targets/; they are loaded on demand, so `validate`, `plan`
 * and `--help` never load an engine, dynalite or the AWS SDK.
 */
import type { FlotillaConfig } from '../config/types.ts';
import type { ControlEndpoint } from '../control/client.ts';
import type { IntentBody, ReleaseWithIntents, WhereAnswer } from '../control/server.ts';
import type { Intent } from '../core/control.ts';
import type { ReleaseOutcome } from '../core/types.ts';
import type { Context, Person } from './context.ts';

/** The reads of `status`, `history` and `where`. */
export interface Reads {
  where(): Promise<WhereAnswer>;
  release(releaseId: string): Promise<ReleaseWithIntents | undefined>;
  releases(limit: number): Promise<ReleaseWithIntents[]>;
  globalIntents(): Promise<Intent[]>;
  /** AWS only: the execution's own status and console link. */
  execution?(releaseId: string): Promise<{ status: string; consoleUrl: string }>;
  close(): Promise<void>;
}

export interface ReleaseTarget {
  readonly kind: 'aws' | 'control' | 'local';
  /**
   * Starts a release and follows it (with live progress) to its end; with --no-wait (aws, a
   * control server) returns it RUNNING once started.
   */
  release(request: { version: string; artifact: string }): Promise<ReleaseOutcome>;
  /** The rollback verb: starts the rollback release of `releaseId` and follows it likewise. */
  rollback(releaseId: string, person: Person): Promise<ReleaseOutcome>;
  /** A steering verb: records the intent (the release acts on it at its next safe point). */
  intent(body: IntentBody): Promise<Intent>;
  /** Opens the reads; the caller closes them. */
  reads(): Promise<Reads>;
}

/** The control server of this state dir, if one runs (local backend only). */
export async function findControl(ctx: Context): Promise<ControlEndpoint | undefined> {
  if (ctx.backend() !== 'local') return undefined;
  const { findControlServer } = await import('../control/client.ts');
  return findControlServer(ctx.stateDir());
}

/** AWS with --backend aws; else a running control server's API; else the state dir, opened here. */
export async function releaseTarget(ctx: Context, config: FlotillaConfig): Promise<ReleaseTarget> {
  if (ctx.backend() === 'aws') return (await import('./targets/aws.ts')).awsTarget(ctx, config);
  const endpoint = await findControl(ctx);
  if (endpoint) return (await import('./targets/control.ts')).controlTarget(ctx, config, endpoint);
  return (await import('./targets/local.ts')).localTarget(ctx, config);
}

/** What --no-wait answers: the release started and runs on (`reason` says where to look). */
export function runningOutcome(releaseId: string, service: string, version: string, reason: string): ReleaseOutcome {
  return { releaseId, service, version, status: 'RUNNING', reason, regions: [] };
}
