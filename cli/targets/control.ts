/**
 * The release target when a `flotilla up` (or a `release`) serves the control API for the state
 * dir: it runs the release; this command asks it to, and follows it by reading it.
 */
import type { FlotillaConfig } from '../../config/types.ts';
import type { ControlClient, ControlEndpoint, ReleaseWithIntents } from '../../control/client.ts';
import type { WhereAnswer } from '../../control/server.ts';
import { REFUSALS, refused } from '../../core/errors.ts';
import { plainLine } from '../../core/event-line.ts';
import { isFinished, outcomeOfRecord } from '../../core/outcome.ts';
import type { ReleaseOutcome } from '../../core/types.ts';
import type { Stamped } from '../../ports/events.ts';
import type { ReleaseRecord } from '../../ports/ledger.ts';
import type { Context } from '../context.ts';
import { auditLine, print, warn } from '../output.ts';
import { onStop } from '../signals.ts';
import { type ReleaseTarget, runningOutcome } from './types.ts';

export async function controlTarget(
  ctx: Context,
  config: FlotillaConfig,
  endpoint: ControlEndpoint,
): Promise<ReleaseTarget> {
  const { controlClient } = await import('../../control/client.ts');
  const client = controlClient(endpoint);
  const started = async (releaseId: string, version: string): Promise<ReleaseOutcome> => {
    if (!ctx.json) warn(`started ${releaseId} on the control server at ${endpoint.url}`);
    return ctx.wait
      ? followThroughApi(ctx, client, releaseId)
      : runningOutcome(releaseId, config.service, version, endpoint.url);
  };
  return {
    kind: 'control',
    async release(request) {
      const { releaseId } = await client.startRelease(request);
      return started(releaseId, request.version);
    },
    async rollback(target, person) {
      const { releaseId } = await client.rollback({ releaseId: target, ...person });
      return started(releaseId, '');
    },
    async unlock() {
      // The process serving this API holds the state dir and runs its releases: the lock's holder is alive.
      throw refused(
        REFUSALS.Busy,
        'a flotilla process runs the releases of this state dir (its control API answers): the release holding the lock is alive; abort it, or stop that process (flotilla down) and unlock then',
      );
    },
    intent: (body) => client.intent(body),
    async reads() {
      return {
        where: () => client.where(),
        release: (id) => client.findRelease(id),
        releases: (limit) => client.listReleases(limit),
        globalIntents: () => client.globalIntents(),
        close: async () => {},
      };
    },
  };
}

function outcomeFrom(record: ReleaseRecord, where: WhereAnswer): ReleaseOutcome {
  return outcomeOfRecord(record, new Map(where.regions.map((r) => [r.region, r.version])));
}

/**
 * Follows a release the control server runs by reading it until it ends (a queued one is followed
 * through its wait: it has not ended): what
 * changed, as plain lines, and each intent as it is recorded. Ctrl-C stops following only.
 */
async function followThroughApi(ctx: Context, client: ControlClient, releaseId: string): Promise<ReleaseOutcome> {
  const { diffRecords } = await import('../../backends/aws/cli.ts');
  onStop(async (signal) => {
    warn(
      `\nflotilla: ${signal}: stopped following; ${releaseId} goes on in the control server ` +
        '(`flotilla status`, `flotilla abort` to stop it)',
    );
    return 130;
  });
  let previous: ReleaseRecord | undefined;
  let intentsSeen = 0;
  for (;;) {
    let record: ReleaseWithIntents | undefined;
    try {
      record = await client.findRelease(releaseId);
    } catch (error) {
      if ((error as Error).name === 'Unauthorized') throw error;
      throw new Error(
        `lost the control server while following ${releaseId} (${(error as Error).message}); ` +
          'see `flotilla status` for where it got to',
      );
    }
    if (record) {
      if (!ctx.json) {
        const at = new Date().toISOString();
        for (const event of diffRecords(previous, record)) {
          print(plainLine({ ...event, service: record.service, releaseId, at } as Stamped));
        }
        for (const intent of record.intents.slice(intentsSeen)) {
          print(`${at.slice(11, 19)} intent: ${auditLine(intent, false)}`);
        }
      }
      intentsSeen = record.intents.length;
      previous = record;
      if (isFinished(record.status)) return outcomeFrom(record, await client.where());
    }
    await new Promise((ok) => setTimeout(ok, 300));
  }
}
