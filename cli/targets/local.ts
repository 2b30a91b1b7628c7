/**
 * The release target with no control server running: the local backend opened in this process
 * on the state dir. A release (or rollback) runs here with live progress, serving the control API
 * meanwhile so another terminal can steer it.
 */
import type { LocalBackend, StartedRelease } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { whereFromLedger } from '../../control/local-handler.ts';
import type { ControlServer } from '../../control/server.ts';
import { refused } from '../../core/errors.ts';
import { isFinished, outcomeOfRecord } from '../../core/outcome.ts';
import type { ReleaseOutcome } from '../../core/types.ts';
import type { EventSink } from '../../ports/events.ts';
import type { Context } from '../context.ts';
import { UsageError } from '../exit-codes.ts';
import { warn } from '../output.ts';
import { closeQuietly, noting, serveControl, teeEvents } from '../serve.ts';
import { onStop } from '../signals.ts';
import type { ReleaseTarget } from './types.ts';

/** How long the API stays up after the last hosted release ended: a few of a follower's polls. */
const FOLLOWERS_GRACE_MS = 1500;

export function localTarget(ctx: Context, config: FlotillaConfig): ReleaseTarget {
  return {
    kind: 'local',
    release: (request) =>
      runLocally(
        ctx,
        config,
        async (backend) => {
          const started = await backend.start(request);
          // This build is recorded first, so a build a dead process left queued that is older
          // gives way to it (SUPERSEDED) instead of racing it for the lock.
          await started.planned;
          await resumeLeftQueue(backend);
          return started.done;
        },
        { checkPorts: true },
      ),
    resume: (releaseId) =>
      runLocally(ctx, config, async (backend) => {
        const record = await backend.ledger.getRelease(config.service, releaseId);
        if (!record) throw refused('NotFound', `no release ${releaseId}`);
        const mine = (await resumeLeftQueue(backend)).find((r) => r.releaseId === releaseId);
        if (mine) return mine.done;
        // It ended (or, RUNNING in a process that is gone, was closed as interrupted when this opened).
        const ended = (await backend.ledger.getRelease(config.service, releaseId)) ?? record;
        const where = await whereFromLedger(backend.ledger, config);
        return outcomeOfRecord(ended, new Map(where.regions.map((r) => [r.region, r.version])));
      }),
    // Refused (nothing left to put back, the lock held, still running) before anything is served.
    rollback: (releaseId, person) =>
      runLocally<StartedRelease>(ctx, config, (_backend, started) => started.done, {
        start: (backend) => backend.rollback(releaseId, person),
      }),
    async intent(body) {
      const backend = await openLocal(ctx, config, undefined, 'read');
      try {
        return await backend.intent(body);
      } finally {
        await backend.close();
      }
    },
    async unlock(person) {
      // Opening the state dir proves no other process runs a release from it (it holds an OS-level
      // lock); only a release of this process could still run, and none does.
      const backend = await openLocal(ctx, config);
      try {
        return await backend.unlock(person);
      } finally {
        await backend.close();
      }
    },
    /**
     * No control server runs for the state dir, so no process runs a release there (opening it
     * closes a dead one's as FAILED): a release that has ended is answered from the ledger.
     */
    async watch(releaseId) {
      const backend = await openLocal(ctx, config);
      try {
        const record = await backend.ledger.getRelease(config.service, releaseId);
        if (!record) throw refused('NotFound', `no release ${releaseId}`);
        if (!isFinished(record.status)) {
          throw refused(
            'NotApplicable',
            `${releaseId} is ${record.status} but no process serves the control API for ${ctx.stateDir()}: nothing to follow` +
              (record.status === 'QUEUED' ? ' (the next `flotilla release` or `flotilla up` runs it)' : ''),
          );
        }
        const where = await whereFromLedger(backend.ledger, config);
        return outcomeOfRecord(record, new Map(where.regions.map((r) => [r.region, r.version])));
      } finally {
        await backend.close();
      }
    },
    async reads() {
      // Reads start nothing and write nothing: the ledger, opened read-only here, says what runs
      // where; each region's pid and port whether it is up.
      const [{ openLocalReads }, { ledgerReads }] = await Promise.all([
        import('../../backends/local/reads.ts'),
        import('./ledger-reads.ts'),
      ]);
      const local = await openLocalReads({ stateDir: ctx.stateDir(), config });
      if (local) {
        return { ...(await ledgerReads(local.ledger, config, () => local.liveness())), close: () => local.close() };
      }
      // A process that is gone left a release open, or the lock held: opening the backend closes
      // them (and says so) first, as any command's would, so the read shows what is true now.
      const backend = await openLocal(ctx, config, undefined, 'read');
      return {
        ...(await ledgerReads(backend.ledger, config, () => backend.liveness())),
        close: () => backend.close(),
      };
    },
  };
}

/**
 * The team channel, when Slack is configured (FLOTILLA_SLACK_BOT_TOKEN + FLOTILLA_SLACK_CHANNEL,
 * FLOTILLA_SLACK_WEBHOOK_URL, or <state dir>/slack.json with mode 0600): release events go there
 * too. Without Slack settings the terminal progress already says everything.
 */
async function slackNotifier(ctx: Context) {
  const [{ SlackNotifier }, { slackSettingsFromEnv, slackSettingsFromStateDir }] = await Promise.all([
    import('../../adapters/slack/notifier.ts'),
    import('../../adapters/slack/settings.ts'),
  ]);
  try {
    const settings = slackSettingsFromEnv(process.env) ?? (await slackSettingsFromStateDir(ctx.stateDir()));
    return settings ? new SlackNotifier(settings, { writer: process.stderr }) : undefined;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * Opens the local backend on the state dir (progress and Slack get its events when `events` is
 * given), warning of each release a dead process left RUNNING, which opening closed as FAILED.
 * Region processes outlive the command (until `flotilla down`); with `regions: 'serve'` the ones
 * an earlier command left are adopted and dead ones brought back up, with `'read'` none is touched.
 */
export async function openLocal(
  ctx: Context,
  config: FlotillaConfig,
  events?: EventSink,
  regions: 'serve' | 'read' = 'serve',
): Promise<LocalBackend> {
  // Loaded on demand: the engine, dynalite and the AWS SDK are not needed to validate or plan.
  const { openLocalBackend } = await import('../../backends/local/index.ts');
  const slack = events ? await slackNotifier(ctx) : undefined;
  const sink: EventSink | undefined =
    slack && events
      ? {
          async emit(event) {
            await events.emit(event);
            await slack.emit(event);
          },
        }
      : events;
  const backend = await openLocalBackend({
    stateDir: ctx.stateDir(),
    config,
    regions,
    keepServing: true,
    ...(sink ? { events: sink } : {}),
  });
  if (slack) {
    // Slack updates are paced (about one a second): let the last ones go out before the command ends.
    const close = backend.close.bind(backend);
    backend.close = async () => {
      await slack.flush();
      await close();
    };
  }
  for (const record of backend.interrupted) {
    warn(
      `warning: release ${record.releaseId} was interrupted (its process exited); marked FAILED. ` +
        'Regions it touched keep what they ran when it stopped: see `flotilla where`.',
    );
  }
  return backend;
}

/**
 * Runs here the releases a process that is gone left QUEUED (LocalBackend.resumeQueued), saying so:
 * only the commands that run releases (`release`, `up`) call it.
 */
export async function resumeLeftQueue(backend: LocalBackend): Promise<StartedRelease[]> {
  const resumed = await backend.resumeQueued();
  for (const r of resumed) {
    warn(`flotilla: resuming ${r.releaseId}, left queued by a flotilla process that exited`);
  }
  return resumed;
}

/**
 * Runs a release (or rollback) here, serving the control API meanwhile; Ctrl-C closes the API and
 * exits. `start`, when given, runs before anything is served: a request refused there says so alone.
 */
async function runLocally<T>(
  ctx: Context,
  config: FlotillaConfig,
  run: (backend: LocalBackend, started: T) => Promise<ReleaseOutcome>,
  options: { checkPorts?: boolean; start?: (backend: LocalBackend) => Promise<T> } = {},
): Promise<ReleaseOutcome> {
  const events = ctx.progress();
  const { EventLog } = await import('../../control/event-log.ts');
  const log = new EventLog();
  const backend = await openLocal(ctx, config, teeEvents(events, log));
  let started = undefined as T;
  try {
    // A port another program holds is refused before anything is served or deployed (the release checks again).
    if (options.checkPorts) await backend.checkPorts();
    if (options.start) started = await options.start(backend);
  } catch (error) {
    await backend.close();
    throw error;
  }
  let server: ControlServer | undefined;
  try {
    server = await serveControl(ctx, backend, config, { events: log }, (handler) => noting(handler, events));
    if (!ctx.json) {
      warn(`flotilla: control API on ${server.url} while this runs (pause, promote, abort, ... from another terminal)`);
    }
  } catch (error) {
    warn(`flotilla: warning: not serving the control API: ${(error as Error).message}`);
  }
  const served = server;
  onStop(async (signal) => {
    warn(
      `\nflotilla: ${signal}: stopping; the next flotilla command will mark the release interrupted ` +
        '(a release queued here stays QUEUED: the next `flotilla release` or `flotilla up` runs it)',
    );
    await closeQuietly(served);
    return 130;
  });
  try {
    const outcome = await run(backend, started);
    // Releases submitted to this process's control API (queued behind this one, say) run here:
    // leaving now would drop them. Wait for each to end; Ctrl-C still stops (they are interrupted).
    let hosted = false;
    const drain = async () => {
      for (let others = backend.inFlight(); others.length > 0; others = backend.inFlight()) {
        hosted = true;
        warn(`flotilla: waiting for ${others.map((o) => o.releaseId).join(', ')}, submitted to this process, to end`);
        await Promise.allSettled(others.map((o) => o.done));
      }
    };
    await drain();
    // A submission that arrived while the last check ran is in flight already: refuse new ones, then drain it.
    backend.stopAccepting();
    await drain();
    // Whoever follows a hosted release through the API (polling every 300 ms) reads its end first.
    // So does whoever follows this release's events (status --watch), between two long polls.
    if (hosted || log.readSince(5_000)) await new Promise((ok) => setTimeout(ok, FOLLOWERS_GRACE_MS));
    return outcome;
  } finally {
    onStop(undefined);
    await closeQuietly(served);
    await backend.close();
  }
}
