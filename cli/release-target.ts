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
import type { Context } from './context.ts';
import type { ReleaseTarget } from './targets/types.ts';

export type { Reads, ReleaseTarget } from './targets/types.ts';

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
