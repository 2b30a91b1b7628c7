/**
 * The web dashboard (dashboard/) wired to what the CLI already has: the ledger reads `status`,
 * `history` and `where` use, and steering through the same services (the local backend's
 * `intent`/`rollback`, or AWS's, both services/steering.ts and services/rollback.ts). Locally it
 * is mounted on the control server of `flotilla up`; on AWS it has a server of its own.
 */
import type { AwsCliBackend } from '../backends/aws/cli.ts';
import type { FlotillaConfig } from '../config/types.ts';
import type { ControlHandler } from '../control/server.ts';
import type { DashboardSource } from '../dashboard/live.ts';
import type { Dashboard } from '../dashboard/server.ts';
import type { Stamped } from '../ports/events.ts';
import type { Ledger } from '../ports/ledger.ts';
import { type Context, defaultActor } from './context.ts';
import { warn } from './output.ts';

/** Release events told to whoever listens (the dashboard), beside the terminal's progress. */
export interface EventHub {
  emit(event: Stamped): void;
  subscribe(listener: (event: Stamped) => void): () => void;
}

export function eventHub(): EventHub {
  const listeners = new Set<(event: Stamped) => void>();
  return {
    emit(event) {
      for (const l of listeners) l(event);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

async function ledgerSource(
  ledger: Ledger,
  config: FlotillaConfig,
): Promise<Pick<DashboardSource, 'releases' | 'globalIntents' | 'regionStates'>> {
  const { ledgerReads } = await import('./targets/ledger-reads.ts');
  const reads = await ledgerReads(ledger, config);
  return {
    releases: (limit) => reads.releases(limit),
    globalIntents: () => reads.globalIntents(),
    regionStates: () => ledger.listRegions(config.service),
  };
}

const onError = (error: unknown) => warn(`flotilla: dashboard: ${(error as Error).stack ?? String(error)}`);

/** The dashboard of a local backend served by this process: steering through its control handler (what the API does). */
export async function localDashboard(
  ctx: Context,
  ledger: Ledger,
  config: FlotillaConfig,
  handler: ControlHandler,
  hub: EventHub,
): Promise<Dashboard> {
  const { createDashboard } = await import('../dashboard/server.ts');
  return createDashboard({
    source: {
      config,
      backend: 'local',
      ...(await ledgerSource(ledger, config)),
      intent: (body) => handler.intent(body),
      rollback: (releaseId, who) => handler.rollback(releaseId, who),
      subscribe: (listener) => hub.subscribe(listener),
    },
    actor: ctx.options.actor ?? defaultActor(),
    pollMs: 1000,
    onError,
  });
}

/** The dashboard of the AWS backend, on a server of its own on 127.0.0.1, with the operator's credentials. */
export async function awsDashboard(ctx: Context, config: FlotillaConfig, backend?: AwsCliBackend) {
  const settings = config.aws;
  if (!settings) {
    const { UsageError } = await import('./exit-codes.ts');
    throw new UsageError(
      `${ctx.configPath()} has no aws: section (region, stateMachineArn, table of the deployed stack)`,
    );
  }
  const [{ AwsCliBackend }, { startDashboardServer }] = await Promise.all([
    import('../backends/aws/cli.ts'),
    import('../dashboard/server.ts'),
  ]);
  const aws = backend ?? new AwsCliBackend({ config, settings });
  return startDashboardServer({
    source: {
      config,
      backend: 'aws',
      ...(await ledgerSource(aws.ledger, config)),
      intent: (body) => aws.intent(body),
      rollback: (releaseId, who) => aws.rollback(releaseId, who),
    },
    actor: ctx.options.actor ?? defaultActor(),
    // DynamoDB reads cost money and count against capacity: every 3 s while a page watches.
    pollMs: 3000,
    onError,
  });
}
