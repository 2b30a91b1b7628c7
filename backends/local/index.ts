/**
 * The embedded local backend: the release state machine on the local engine, regions as real
 * processes on 127.0.0.1, HTTP health probes, and the ledger in dynalite persisted under the
 * state directory (default `.flotilla/`). Nothing here needs an AWS account.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { HttpHealthProber } from '../../adapters/local/http-prober.ts';
import { LocalProcessFleet } from '../../adapters/local/process-fleet.ts';
import { LocalTaskTokens } from '../../adapters/local/task-tokens.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import type { Intent } from '../../core/control.ts';
import { namedError } from '../../core/errors.ts';
import { executionName } from '../../core/plan.ts';
import { touchedRegions } from '../../core/rollback.ts';
import type { ReleaseOutcome, StartReleaseInput } from '../../core/types.ts';
import type { Deps } from '../../functions/deps.ts';
import { functionFactories } from '../../functions/index.ts';
import type { EventSink } from '../../ports/events.ts';
import type { Ledger, ReleaseRecord } from '../../ports/ledger.ts';
import type { ReleaseStarter } from '../../ports/release-starter.ts';
import { probeBakes } from '../../services/bake-watch.ts';
import { recoverRelease } from '../../services/recovery.ts';
import { type RollbackDeps, startRollback } from '../../services/rollback.ts';
import { type IntentRequest, submitIntent } from '../../services/steering.ts';
import { unlockService } from '../../services/unlock.ts';
import { startEmbeddedDynamo } from './dynalite-server.ts';
import { LocalEngine, loadDefinition, localArn } from './engine.ts';

export const TABLE_NAME = 'flotilla';

export interface LocalBackendOptions {
  stateDir: string;
  config: FlotillaConfig;
  events?: EventSink;
  now?: () => number;
  /**
   * Handlers to use instead of functions/' own, by function name: for tests that drive a failure the
   * real handlers never produce (a States.Runtime from a malformed result, say).
   */
  functionOverrides?: Partial<Record<string, (typeof functionFactories)[string]>>;
}

export interface ReleaseRequest {
  version: string;
  /** Absolute path of the build directory. */
  artifact: string;
}

export interface StartedRelease {
  releaseId: string;
  /** Settles with the terminal outcome; rejects only if the release could not start (e.g. ServiceLocked). */
  done: Promise<ReleaseOutcome>;
}

export interface LocalBackend {
  ledger: Ledger;
  /** Runs one release to its end and returns its terminal outcome; never leaves it RUNNING. */
  release(request: ReleaseRequest): Promise<ReleaseOutcome>;
  /** Starts a release and returns its id at once (for `flotilla up`); `done` follows it to its end. */
  start(request: ReleaseRequest): Promise<StartedRelease>;
  /** The `rollback` verb (services/rollback.ts): puts back what a finished release changed, where it still runs. */
  rollback(releaseId: string, who: { actor: string; reason: string }): Promise<StartedRelease>;
  /**
   * StopExecution for the local engine: ends the release's execution at once, as an operator's stop
   * does on AWS (no rollback runs); the abnormal-end recovery then closes it and frees the lock.
   */
  stop(releaseId: string, who: { actor: string; reason: string }): boolean;
  /** Whether the release's execution runs in this backend now. */
  isRunning(releaseId: string): boolean;
  /**
   * `flotilla unlock` (services/unlock.ts): frees the lock if the release holding it no longer runs
   * here (this process holds the state dir, so no other one runs it), audited.
   */
  unlock(who: { actor: string; reason: string }): ReturnType<typeof unlockService>;
  /** Records a release manager's intent (pause, resume, promote, abort, skip-region, freeze, …). */
  intent(request: Omit<IntentRequest, 'service'>): Promise<Intent>;
  /**
   * The releases this backend runs now (started here or through its control API), each with its
   * end: a process hosting them must not exit before they end, or queued ones would be dropped.
   */
  inFlight(): { releaseId: string; done: Promise<ReleaseOutcome> }[];
  /** Releases found RUNNING whose orchestrating process is gone; marked FAILED when the backend opened. */
  interrupted: ReleaseRecord[];
  close(): Promise<void>;
}

/**
 * A release whose local orchestrator died (killed, machine restarted) still holds the lock and says
 * RUNNING. The regions themselves know what they run (each one's `current` release), so the repair
 * reads that back into the ledger for every region the release touched, closes the release as
 * FAILED, says so, and frees the lock.
 */
async function recoverInterrupted(
  ledger: Ledger,
  fleet: LocalProcessFleet,
  config: FlotillaConfig,
  now: () => number,
): Promise<ReleaseRecord[]> {
  const { service } = config;
  // Queued releases wait inside the process that ran them; this process owns the state dir now,
  // so any still QUEUED belonged to one that is gone.
  for (const queued of (await ledger.listReleases(service, 50)).filter((r) => r.status === 'QUEUED')) {
    await ledger.updateRelease(service, queued.releaseId, {
      status: 'FAILED',
      hold: null,
      reason: 'interrupted while queued: the process that ran it exited',
      endedAt: new Date(now()).toISOString(),
    });
  }
  const lock = await ledger.getLock(service);
  if (!lock) return [];
  // A local orchestrator holds the state directory (an OS-level lock, freed when its process dies)
  // for as long as it runs. This process holds it now, so whoever took this lock locally is gone,
  // whatever its pid or host said: a pid and a hostname are not unique over time (a container's
  // pid 1, a renamed host), and trusting them left a dead release's lock held for good.
  const match = /^local:(.+):(\d+)$/.exec(lock.owner);
  if (!match) return [];
  const record = await ledger.getRelease(service, lock.releaseId);
  if (record?.status === 'RUNNING') {
    const updatedAt = new Date(now()).toISOString();
    const targets = new Map(config.regions.map((r) => [r.name, r.target]));
    const states = await Promise.all(
      touchedRegions(record).flatMap((region) => {
        const target = targets.get(region);
        if (!target) return [];
        return [
          fleet
            .currentRevision(region, target)
            .then((current) => ({ service, region, current, releaseId: record.releaseId, updatedAt })),
        ];
      }),
    );
    await ledger.putRegions(states);
    await ledger.updateRelease(service, lock.releaseId, {
      status: 'FAILED',
      hold: null,
      reason: `interrupted: the process that ran it (pid ${match[2]} on ${match[1]}) exited before it ended`,
      endedAt: updatedAt,
    });
  }
  await ledger.releaseLock(service, lock.releaseId);
  return record ? [record] : [];
}

/** How often the local watcher looks for bakes whose gate interval has come round. */
const WATCH_TICK_MS = 100;

/**
 * The local stand-in for AWS's scheduled prober and alarm events: while any bake is being watched,
 * probes its regions every gate interval in the background (services/bake-watch.ts), so a signal
 * turning bad fails the release's bake wait at once. The release itself never polls.
 */
async function watchBakes(deps: Parameters<typeof probeBakes>[0], signal: AbortSignal): Promise<void> {
  const lastRound = new Map<string, number>();
  const due = (watch: { releaseId: string; wave: number; startedAt: number; gate: { intervalSeconds: number } }) => {
    const key = `${watch.releaseId}#${watch.wave}`;
    // StartBake probed once as the bake began: the first round is one interval after that.
    const last = lastRound.get(key) ?? watch.startedAt;
    const now = deps.now();
    if (now - last < watch.gate.intervalSeconds * 1000) return false;
    lastRound.set(key, now);
    return true;
  };
  while (!signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, WATCH_TICK_MS));
    if (signal.aborted) break;
    try {
      await probeBakes(deps, due);
    } catch {
      // The ledger closing under a round, a probe erroring: the next round tries again, and the
      // bake's final check probes whatever happened here.
    }
  }
}

export async function openLocalBackend(options: LocalBackendOptions): Promise<LocalBackend> {
  const { stateDir, config } = options;
  const now = options.now ?? Date.now;
  await mkdir(stateDir, { recursive: true });
  const dynamo = await startEmbeddedDynamo({ dir: `${stateDir}/ledger` });
  let fleet: LocalProcessFleet | undefined;
  try {
    await createLedgerTable(dynamo.client, TABLE_NAME);
    const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: TABLE_NAME });
    fleet = new LocalProcessFleet({ stateDir, readinessTimeoutMs: config.deploy.readinessTimeoutSeconds * 1000 });
    const liveFleet = fleet;
    // This process holds the state dir now: region processes a killed orchestrator left behind are strays.
    await liveFleet.reapStrays(config.regions.filter((r) => r.target.kind === 'local-process').map((r) => r.name));
    const interrupted = await recoverInterrupted(ledger, liveFleet, config, now);

    // Processes do not outlive the command that started them: bring every region's current
    // version back up, so probes before a wave see what really runs there.
    const targets = new Map(config.regions.map((r) => [r.name, r.target]));
    const states = await ledger.listRegions(config.service);
    await Promise.all(
      states.map(async (state) => {
        const target = targets.get(state.region);
        if (target?.kind !== 'local-process' || !state.current) return;
        await liveFleet.ensureRunning(config.service, state.region, target, state.current.version).catch(() => {
          // A region that does not come back up is found unhealthy by the wave-entry check, which is the point.
        });
      }),
    );

    const shutdown = new AbortController();
    const finished = new Map<string, ReleaseOutcome>();
    const events: EventSink = {
      emit(event) {
        if (event.kind === 'release-finished') finished.set(event.releaseId, event.outcome);
        return options.events?.emit(event);
      },
    };
    const tokens = new LocalTaskTokens();
    const prober = new HttpHealthProber();
    const deps: Deps = {
      ledger,
      deployer: liveFleet,
      prober,
      events,
      now,
      regionStateMachineArn: localArn('flotilla-region'),
      longPollMs: 10_000,
      pollEveryMs: 25,
      waitAtHolds: true,
      waitForToken: (token, signal) => tokens.wait(token, signal),
      callbacks: tokens,
      signal: shutdown.signal,
    };
    const watcher = watchBakes({ ledger, prober, callbacks: tokens, events, now }, shutdown.signal);
    const factories = { ...functionFactories, ...options.functionOverrides };
    const functions = Object.fromEntries(
      Object.entries(factories).flatMap(([name, make]) => (make ? [[name, make(deps)]] : [])),
    );
    const engine = new LocalEngine({ functions, retryIntervalMs: 50 });
    engine.register('flotilla-region', loadDefinition('region'));
    const releaseArn = engine.register('flotilla-release', loadDefinition('release'));

    const recoveryDeps = { ledger, callbacks: tokens, events, now };
    /** Why an operator stopped a release, for its record. */
    const stopReasons = new Map<string, string>();
    const running = new Map<string, Promise<ReleaseOutcome>>();
    /** Runs the release state machine on `input` without waiting for it. */
    const run = (input: StartReleaseInput): StartedRelease => {
      const { releaseId } = input;
      const done = (async () => {
        try {
          await engine.run(releaseArn, input as never, releaseId);
        } catch (error) {
          // Closing the backend stopped it: it stays RUNNING, and the next open finds it interrupted.
          if (shutdown.signal.aborted) throw error;
          // Terminal Fail states (ReleaseRolledBack, RollbackFailed, ...) end here after FinishRelease
          // reported the outcome. Anything else ended the execution abnormally (a States.Runtime, a
          // limit, a stop): the same recovery as AWS's execution-status rule runs.
          if (!finished.has(releaseId)) {
            const inner = error as Error & { cause?: Error };
            const stopped = inner.name === 'ExecutionAbortedError';
            await recoverRelease(recoveryDeps, {
              service: config.service,
              releaseId,
              status: stopped ? 'ABORTED' : 'FAILED',
              error: stopped ? 'StopExecution' : (inner.cause?.name ?? inner.name),
              cause: stopped ? (stopReasons.get(releaseId) ?? '') : (inner.cause?.message ?? inner.message),
            });
            throw error;
          }
        }
        const outcome = finished.get(releaseId);
        if (!outcome) throw new Error(`release ${releaseId} ended without an outcome`);
        return outcome;
      })();
      // Whoever awaits `done` sees a failure; one nobody awaits (the backend closed under it) is not an unhandled rejection.
      done.catch(() => {});
      running.set(releaseId, done);
      done.then(
        () => running.delete(releaseId),
        () => running.delete(releaseId),
      );
      return { releaseId, done };
    };
    const owner = `local:${hostname()}:${process.pid}`;

    /** Picks a fresh release id for a build, then runs it. */
    const startRun = async (request: ReleaseRequest): Promise<StartedRelease> => {
      const taken = new Set((await ledger.listReleases(config.service)).map((r) => r.releaseId));
      let attempt = 1;
      while (taken.has(executionName(config.service, request.version, attempt))) attempt += 1;
      return run({
        releaseId: executionName(config.service, request.version, attempt),
        version: request.version,
        artifact: request.artifact,
        config: config as unknown as StartReleaseInput['config'],
        owner,
      });
    };
    const starter: ReleaseStarter = {
      async start(input) {
        if ((await ledger.getRelease(config.service, input.releaseId)) !== undefined) {
          throw namedError('ExecutionAlreadyExists', `release ${input.releaseId} already exists`);
        }
        return run(input);
      },
    };

    return {
      ledger,
      interrupted,
      inFlight: () => [...running].map(([releaseId, done]) => ({ releaseId, done })),
      async release(request) {
        return (await startRun(request)).done;
      },
      start: (request) => startRun(request),
      async rollback(releaseId, who) {
        const started = await startRollback(
          { ledger, now, starter, config: config as unknown as RollbackDeps['config'], owner },
          { releaseId, ...who },
        );
        if (!started.done) throw new Error(`rollback ${started.releaseId} started without a way to follow it`);
        return { releaseId: started.releaseId, done: started.done };
      },
      stop(releaseId, who) {
        stopReasons.set(releaseId, `stopped by ${who.actor}: ${who.reason}`);
        return engine.stop(releaseId);
      },
      isRunning: (releaseId) => engine.isRunning(releaseId),
      unlock: (who) =>
        unlockService(
          { ...recoveryDeps, isRunning: async (releaseId) => engine.isRunning(releaseId) },
          { service: config.service, ...who },
        ),
      intent: (request) => submitIntent({ ledger, now, waker: tokens }, { ...request, service: config.service }),
      async close() {
        shutdown.abort();
        await watcher;
        engine.abortAll();
        await liveFleet.stopAll();
        await dynamo.close();
      },
    };
  } catch (error) {
    await fleet?.stopAll();
    await dynamo.close();
    throw error;
  }
}
