/**
 * The release target when a `flotilla up` (or a `release`) serves the control API for the state
 * dir: it runs the release; this command asks it to, and follows it by reading it.
 */

import type { FlotillaConfig } from '../../config/types.ts';
import type { ControlClient, ControlEndpoint, ReleaseWithIntents } from '../../control/client.ts';
import type { WhereAnswer } from '../../control/server.ts';
import { REFUSALS, refused } from '../../core/errors.ts';
import { isFinished, outcomeOfRecord } from '../../core/outcome.ts';
import type { ReleaseOutcome } from '../../core/types.ts';
import type { ReleaseRecord } from '../../ports/ledger.ts';
import type { Context } from '../context.ts';
import { UsageError } from '../exit-codes.ts';
import { auditLine, warn } from '../output.ts';
import { onStop } from '../signals.ts';
import { queuedOutcome, type ReleaseTarget, runningOutcome } from './types.ts';

export async function controlTarget(
  ctx: Context,
  config: FlotillaConfig,
  endpoint: ControlEndpoint,
): Promise<ReleaseTarget & { follow(releaseId: string): Promise<ReleaseOutcome> }> {
  const { controlClient } = await import('../../control/client.ts');
  const client = controlClient(endpoint);
  /** Once the server is gone (a `release` ended and stopped serving), the ledger says how the release ended. */
  const fromLedger = async (releaseId: string): Promise<ReleaseOutcome | undefined> => {
    const { localTarget } = await import('./local.ts');
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        return await localTarget(ctx, config).watch(releaseId);
      } catch (error) {
        // The process that ran it may still be closing the state dir.
        if ((error as Error).name !== 'StateDirLocked' || Date.now() > deadline) return undefined;
        await new Promise((ok) => setTimeout(ok, 250));
      }
    }
  };
  /**
   * The server died (kill -9) under a release this command asked for: the release's queue is the
   * ledger, so this command, which runs releases, takes the state dir over and runs it here (a
   * QUEUED one to its end; a RUNNING one was interrupted and is closed as such). If another
   * process took the state dir first, that one runs it: follow it there.
   */
  const takeOver = async (releaseId: string): Promise<ReleaseOutcome> => {
    const { localTarget } = await import('./local.ts');
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const local = localTarget(ctx, config);
        if (!local.resume) throw new Error('the local target cannot resume a release');
        return await local.resume(releaseId);
      } catch (error) {
        if ((error as Error).name !== 'StateDirLocked' || Date.now() > deadline) throw error;
      }
      const { findControlServer } = await import('../../control/client.ts');
      const next = await findControlServer(ctx.stateDir());
      if (next) return (await controlTarget(ctx, config, next)).follow(releaseId);
      await new Promise((ok) => setTimeout(ok, 250));
    }
  };
  const follow = (releaseId: string) => followThroughApi(ctx, client, releaseId, takeOver);
  const started = async (releaseId: string, version: string): Promise<ReleaseOutcome> => {
    if (!ctx.json) warn(`started ${releaseId} on the control server at ${endpoint.url}`);
    if (ctx.wait) return follow(releaseId);
    // The server answers once the release is recorded: RUNNING, or QUEUED behind another.
    const record = await client.findRelease(releaseId);
    if (record?.status === 'QUEUED') {
      // Its own hold says so once ClaimTurn ran; until then, the release in flight is the one ahead.
      const ahead = (await client.listReleases(20)).find((r) => r.status === 'RUNNING');
      const behind =
        record.hold?.reasons[0]?.text ?? (ahead ? `queued behind ${ahead.releaseId}` : 'queued behind another release');
      return queuedOutcome(
        releaseId,
        config.service,
        version,
        `${behind}: it runs when that one ends, unless a newer build supersedes it (\`flotilla watch ${releaseId}\` follows it)`,
      );
    }
    return runningOutcome(releaseId, config.service, version, endpoint.url);
  };
  return {
    kind: 'control',
    follow,
    async release(request) {
      if (request.emergency) {
        throw new UsageError(
          'release --emergency is not taken through a running `flotilla up` yet: stop it, or release on --backend aws',
        );
      }
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
    watch: (releaseId) => followThroughApi(ctx, client, releaseId, fromLedger),
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

/** How long one read of the server's event log waits for the next event. */
const LONG_POLL_MS = 2_000;

/**
 * Follows a release the control server runs, with the view of the terminal that runs it: its
 * events, read from the server's event log (control/event-log.ts) as they happen, go to this
 * command's progress (the table on a terminal, plain lines elsewhere), and each intent recorded
 * meanwhile is a note. A queued release is followed through its wait. A release the server's log
 * never saw (it ended before this server started) is answered from its record. Ctrl-C stops
 * following only.
 */
export async function followThroughApi(
  ctx: Context,
  client: ControlClient,
  releaseId: string,
  /** The release's outcome from the state dir, once the server is gone (undefined: it has not ended). */
  fromLedger?: (releaseId: string) => Promise<ReleaseOutcome | undefined>,
): Promise<ReleaseOutcome> {
  onStop(async (signal) => {
    warn(
      `\nflotilla: ${signal}: stopped following; ${releaseId} goes on in the control server ` +
        '(`flotilla status`, `flotilla abort` to stop it)',
    );
    return 130;
  });
  const progress = ctx.progress();
  const lost = (error: unknown) => {
    if ((error as Error).name === 'Unauthorized') return error;
    return new Error(
      `lost the control server while following ${releaseId} (${(error as Error).message}); ` +
        'see `flotilla status` for where it got to',
    );
  };
  let after = 0;
  let intentsSeen: number | undefined;
  let endedRounds = 0;
  try {
    for (;;) {
      let finished: ReleaseOutcome | undefined;
      let record: ReleaseWithIntents | undefined;
      try {
        const page = await client.events(releaseId, after, LONG_POLL_MS);
        for (const event of page.events) {
          await progress.emit(event);
          if (event.kind === 'release-finished') finished = event.outcome;
        }
        after = page.next;
        if (finished) return finished;
        record = await client.findRelease(releaseId);
      } catch (error) {
        // A `release` stops serving once its release ended: its end is then in the ledger.
        const ended = await fromLedger?.(releaseId);
        if (ended) return ended;
        throw lost(error);
      }
      if (record) {
        // Intents from before this command started are in `status`; the ones recorded while it follows are news.
        for (const intent of record.intents.slice(intentsSeen ?? record.intents.length)) {
          progress.note(`intent: ${auditLine(intent, false)}`);
        }
        intentsSeen = record.intents.length;
      }
      if (record && isFinished(record.status) && (after === 0 || ++endedRounds > 2)) {
        return outcomeFrom(record, await client.where());
      }
    }
  } finally {
    onStop(undefined);
  }
}
