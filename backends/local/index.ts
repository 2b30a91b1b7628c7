/**
 * The embedded local backend: the release state machine on the local engine, regions as real
 * processes on 127.0.0.1, HTTP health probes, and the ledger in dynalite persisted under the
 * state directory (default `.flotilla/`). Nothing here needs an AWS account.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { jsonDocumentRequests } from '../../adapters/dynamodb/json-documents.ts';
import { createLedgerTable, type DocumentRequests, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { LocalNewHosts } from '../../adapters/local/new-host.ts';
import { LocalProcessFleet } from '../../adapters/local/process-fleet.ts';
import { LocalTaskTokens } from '../../adapters/local/task-tokens.ts';
import type { FlotillaConfig, LocalTarget } from '../../config/types.ts';
import type { Intent } from '../../core/control.ts';
import { namedError, refused } from '../../core/errors.ts';
import type { EmergencyRequest } from '../../core/model.ts';
import { executionName } from '../../core/plan.ts';
import { queuedToResume } from '../../core/queue.ts';
import { localLockOwner } from '../../core/recovery.ts';
import { touchedRegions } from '../../core/rollback.ts';
import type { ReleaseOutcome, StartReleaseInput } from '../../core/types.ts';
import type { Deps } from '../../functions/deps.ts';
import type { EventSink } from '../../ports/events.ts';
import type { Ledger, ReleaseRecord } from '../../ports/ledger.ts';
import type { RegionLiveness } from '../../ports/region-liveness.ts';
import type { ReleaseStarter } from '../../ports/release-starter.ts';
import { probeBakes } from '../../services/bake-watch.ts';
import { deploymentChanged } from '../../services/deploy-watch.ts';
import { recoverRelease } from '../../services/recovery.ts';
import type { RollbackDeps } from '../../services/rollback.ts';
import { type IntentRequest, submitIntent } from '../../services/steering.ts';
import { unlockService } from '../../services/unlock.ts';
import { LedgerDamaged, startDynalite } from './dynalite-server.ts';
import type { LocalEngine } from './engine.ts';

type FunctionFactories = typeof import('../../functions/index.ts').functionFactories;

import { lostLedger, writeLedgerCopy } from './ledger-copy.ts';
import { TABLE_NAME } from './ledger-files.ts';

export { TABLE_NAME } from './ledger-files.ts';

export interface LocalBackendOptions {
  stateDir: string;
  config: FlotillaConfig;
  events?: EventSink;
  now?: () => number;
  /**
   * `serve` (default; release, rollback, up): adopt the region processes an earlier command left
   * serving, and bring up from its `current` link each region whose process is gone. `read` (the
   * read verbs, steering intents, down): start, stop and adopt nothing.
   */
  regions?: 'serve' | 'read';
  /**
   * Region processes outlive this backend (the CLI: they serve until `flotilla down`), and `close()`
   * leaves them running. Default false: `close()` stops them, and they never outlive this Node process.
   */
  keepServing?: boolean;
  /**
   * Handlers to use instead of functions/' own, by function name: for tests that drive a failure the
   * real handlers never produce (a States.Runtime from a malformed result, say).
   */
  functionOverrides?: Partial<Record<string, FunctionFactories[string]>>;
}

export interface ReleaseRequest {
  version: string;
  /** Absolute path of the build directory (`{region}` fills in each region's name). */
  artifact: string;
  /** Region name → that region's own build directory (core/artifacts.ts). */
  artifacts?: Record<string, string>;
  /** The break-glass lane: who asks and why (a second, distinct person approves before wave 1). */
  emergency?: EmergencyRequest;
}

export interface StartedRelease {
  releaseId: string;
  /** Settles with the terminal outcome; rejects only if the release could not start (e.g. ServiceLocked). */
  done: Promise<ReleaseOutcome>;
  /**
   * Settles once PlanRelease has recorded the release (RUNNING or QUEUED), or once it could not
   * start (`start` and `resumeQueued` give it; a rollback does not).
   */
  planned?: Promise<void>;
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
  /**
   * From now on `start` refuses (Busy) instead of starting: the process hosting this backend is
   * about to end. A start already under way counts in `inFlight` from the moment it was asked for,
   * so drain, stop accepting, drain again, and nothing submitted is dropped.
   */
  stopAccepting(): void;
  /** Releases found RUNNING whose orchestrating process is gone; marked FAILED when the backend opened. */
  interrupted: ReleaseRecord[];
  /**
   * Runs here every release a process that is gone left QUEUED (its queue lives in the ledger: the
   * record and the plan PlanRelease stored), each in a new execution of the same state machine that
   * re-enters the queue at ClaimTurn: the newest takes its turn when the lock is free, older ones end
   * SUPERSEDED without touching a region, one aborted while queued ends ABORTED. Only a process that
   * runs the state dir's releases calls it (`release`, `up`); read verbs leave the queue alone.
   */
  resumeQueued(): Promise<StartedRelease[]>;
  /** Each local region's process as it is now (read only: nothing is started). */
  liveness(): Promise<Map<string, RegionLiveness>>;
  /** Refuses (PortInUse) when another program holds a local region's port; every release checks it first. */
  checkPorts(): Promise<void>;
  /** `flotilla down`: stops every region process recorded in the state dir and verified as ours. */
  stopRegions(reason?: string): Promise<{ region: string; pid: number; version: string; how: 'stopped' | 'killed' }[]>;
  /**
   * Resolves once what finished releases leave to do in the background is done: the recoverable
   * copy of the ledger (ledger-copy.ts) written after each one ends. `close` waits for it too.
   */
  settled(): Promise<void>;
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
  // A QUEUED release stays QUEUED: its queue is the ledger, and the next process that runs releases
  // resumes it (resumeQueued). Only a RUNNING one, the lock's holder, died with its process.
  const lock = await ledger.getLock(service);
  if (!lock) return [];
  // A local orchestrator holds the state directory (an OS-level lock, freed when its process dies)
  // for as long as it runs. This process holds it now, so whoever took this lock locally is gone,
  // whatever its pid or host said: a pid and a hostname are not unique over time (a container's
  // pid 1, a renamed host), and trusting them left a dead release's lock held for good.
  const owner = localLockOwner(lock.owner);
  if (!owner) return [];
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
      reason: `interrupted: the process that ran it (pid ${owner.pid} on ${owner.host}) exited before it ended`,
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
 * turning bad fails the release's bake wait at once. The release itself never polls, and neither
 * does the watcher while no bake is kept: once a look finds none, it sleeps until `bakeKept` says a
 * handler of this process kept one (only this process writes the ledger while it holds the state
 * directory). Its first look, at start, finds any bake an earlier process left.
 */
export async function watchBakes(
  deps: Parameters<typeof probeBakes>[0],
  signal: AbortSignal,
  bakeKept: BakeNotices = new BakeNotices(),
): Promise<void> {
  const lastRound = new Map<string, number>();
  let listed = 0;
  const due = (watch: { releaseId: string; wave: number; startedAt: number; gate: { intervalSeconds: number } }) => {
    listed += 1;
    const key = `${watch.releaseId}#${watch.wave}`;
    // StartBake probed once as the bake began: the first round is one interval after that.
    const last = lastRound.get(key) ?? watch.startedAt;
    const now = deps.now();
    if (now - last < watch.gate.intervalSeconds * 1000) return false;
    lastRound.set(key, now);
    return true;
  };
  const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  let anyKept = true;
  while (!signal.aborted) {
    // Taken before the look: a bake kept while the look runs wakes the sleep after it.
    const next = bakeKept.next();
    await new Promise((resolve) => setTimeout(resolve, WATCH_TICK_MS));
    if (!anyKept) await Promise.race([next, aborted]);
    if (signal.aborted) break;
    listed = 0;
    try {
      await probeBakes(deps, due);
      anyKept = listed > 0;
    } catch {
      // The ledger closing under a round, a probe erroring: the next round tries again, and the
      // bake's final check probes whatever happened here.
      anyKept = true;
    }
  }
}

/** Tells the local bake watcher that a bake was kept in the ledger (`kept`), so it looks again. */
export class BakeNotices {
  #wake: () => void = () => {};
  #next: Promise<void> | undefined;

  /** Resolves at the next `kept` (one promise for every caller until then). */
  next(): Promise<void> {
    this.#next ??= new Promise((resolve) => {
      this.#wake = resolve;
    });
    return this.#next;
  }

  kept(): void {
    this.#next = undefined;
    this.#wake();
    this.#wake = () => {};
  }
}

/** The ledger the handlers get: each bake they keep (the Bake state, functions/bake.ts) wakes the bake watcher. */
export function noticingBakes(ledger: Ledger, notices: BakeNotices): Ledger {
  const putBake: Ledger['putBake'] = async (watch) => {
    await ledger.putBake(watch);
    notices.kept();
  };
  // Each method bound once (the ledger's private fields need it as `this`), not on every call.
  const bound = new Map<PropertyKey, unknown>([['putBake', putBake]]);
  return new Proxy(ledger, {
    get(target, key) {
      if (bound.has(key)) return bound.get(key);
      const value = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      const method = value.bind(target);
      bound.set(key, method);
      return method;
    },
  });
}

export async function openLocalBackend(options: LocalBackendOptions): Promise<LocalBackend> {
  const { stateDir, config } = options;
  const now = options.now ?? Date.now;
  await mkdir(stateDir, { recursive: true });
  const lost = await lostLedger(stateDir);
  if (lost) throw namedError(LedgerDamaged, `${lost}: run flotilla repair to rebuild it from the copy and the regions`);
  const dynamo = await startDynalite({ dir: `${stateDir}/ledger` });
  let fleet: LocalProcessFleet | undefined;
  try {
    await createLedgerTable(dynamo.json, TABLE_NAME);
    // Whether the ledger changed since its copy was last written: a command that only read it (down,
    // a refused steering verb) leaves the copy alone, as the read verbs do.
    let changed = false;
    // DynamoDB's JSON protocol straight to the embedded server, not the SDK's document client: a
    // third of the CPU per request, and a local release never loads the SDK.
    const direct = jsonDocumentRequests(dynamo.json);
    const requests: DocumentRequests = {
      send(request) {
        if (request.op !== 'Get' && request.op !== 'Query') changed = true;
        return direct.send(request);
      },
    };
    const ledger = new DynamoDbLedger({ requests, tableName: TABLE_NAME });
    // The local engine's SendTaskSuccess/Failure: the fleet settles a region child's wait on its
    // deployment as the deployment ends (CodeDeploy's state-change event does it on AWS).
    const tokens = new LocalTaskTokens();
    fleet = new LocalProcessFleet({
      stateDir,
      readinessTimeoutMs: config.deploy.readinessTimeoutSeconds * 1000,
      keepServing: options.keepServing === true,
      healthPath: config.gate.healthPath,
      onDeploymentEnd: async (deploymentId) => {
        // The fleet calls this once the deployment has ended: the wait is taken without reading it first.
        if (fleet) {
          await deploymentChanged({ ledger, deployer: fleet, callbacks: tokens, now }, deploymentId, { ended: true });
        }
      },
    });
    const liveFleet = fleet;
    const localRegions = config.regions.flatMap((r) =>
      r.target.kind === 'local-process' ? [{ region: r.name, target: r.target as LocalTarget }] : [],
    );
    // This process holds the state dir now: the processes an earlier command left serving (on
    // purpose, or because it was killed) are ours to keep, once verified; never strangers on the port.
    // New hosts are never adopted: one left by an orchestrator that died mid-gate (its guard takes
    // it down with it; this is for anything left recorded) is stopped before anything else runs.
    const newHosts = new LocalNewHosts({
      stateDir,
      readinessTimeoutMs: config.deploy.readinessTimeoutSeconds * 1000,
      reservedPorts: localRegions.map((r) => r.target.port),
    });
    if (options.regions !== 'read') await newHosts.stopLeft();
    if (options.regions !== 'read') await liveFleet.adoptRunning(localRegions);
    const interrupted = await recoverInterrupted(ledger, liveFleet, config, now);

    // A region whose process is gone (crashed, stopped by `down`, the machine restarted) comes back
    // up on its current version, so probes before a wave see what really runs there.
    if (options.regions !== 'read') {
      const targets = new Map(localRegions.map((r) => [r.region, r.target]));
      const states = await ledger.listRegions(config.service);
      await Promise.all(
        states.map(async (state) => {
          const target = targets.get(state.region);
          if (!target || !state.current) return;
          await liveFleet.ensureRunning(config.service, state.region, target, state.current.version).catch(() => {
            // A region that does not come back up is found unhealthy by the wave-entry check, which is the
            // point; one whose port another program holds is refused before a release starts (portsFree).
          });
        }),
      );
    }

    /** A release never starts while another program holds a region's port: it names them, before the lock. */
    const portsFree = async (): Promise<void> => {
      const conflicts = await liveFleet.portConflicts(localRegions);
      if (conflicts.length === 0) return;
      const named = conflicts.map((c) => `region ${c.region}: port ${c.port} is in use by another program`);
      throw namedError(
        'PortInUse',
        `${named.join('; ')} (not a Flotilla region process). Stop it, or give the region another port in ` +
          'the config; nothing was deployed.',
      );
    };

    // The recoverable copy (ledger-copy.ts), one write at a time, after each release and at close,
    // whenever the ledger changed since the last one.
    let copying: Promise<void> = Promise.resolve();
    const copyLedger = (): Promise<void> => {
      copying = copying
        .then(() => {
          if (!changed) return;
          changed = false;
          return writeLedgerCopy(dynamo.json, TABLE_NAME, stateDir, now()).then(
            () => {},
            (error: unknown) => {
              changed = true;
              throw error;
            },
          );
        })
        .then(
          () => {},
          () => {
            // A copy that could not be written leaves the last one; the ledger itself is unharmed.
          },
        );
      return copying;
    };
    const shutdown = new AbortController();
    const finished = new Map<string, ReleaseOutcome>();
    /** Who waits for a release to be recorded (StartedRelease.planned), by release id. */
    const recorded = new Map<string, () => void>();
    const events: EventSink = {
      emit(event) {
        if (event.kind === 'release-finished') finished.set(event.releaseId, event.outcome);
        // PlanRelease says release-started once the record is in the ledger.
        if (event.kind === 'release-started') recorded.get(event.releaseId)?.();
        return options.events?.emit(event);
      },
    };
    let watcher: Promise<void> = Promise.resolve();
    // Made at the first release: the engine and the handlers are most of the backend's start-up, and
    // the read verbs (`where` is meant to answer in a blink) never run one.
    let engineReady: Promise<{ engine: LocalEngine; releaseArn: string }> | undefined;
    let engineNow: LocalEngine | undefined;
    const engineOf = () => {
      engineReady ??= (async () => {
        const [{ HttpHealthProber }, { functionFactories }, { LocalEngine, loadDefinition, localArn }] =
          await Promise.all([
            import('../../adapters/local/http-prober.ts'),
            import('../../functions/index.ts'),
            import('./engine.ts'),
          ]);
        const prober = new HttpHealthProber();
        const bakeNotices = new BakeNotices();
        const deps: Deps = {
          ledger: noticingBakes(ledger, bakeNotices),
          deployer: liveFleet,
          prober,
          newHosts,
          events,
          now,
          regionStateMachineArn: localArn('flotilla-region'),
          waitAtHolds: true,
          waitForToken: (token, signal) => tokens.wait(token, signal),
          callbacks: tokens,
          signal: shutdown.signal,
        };
        watcher = watchBakes({ ledger, prober, callbacks: tokens, events, now }, shutdown.signal, bakeNotices);
        const factories: Partial<typeof functionFactories> = { ...functionFactories, ...options.functionOverrides };
        const functions = Object.fromEntries(
          Object.entries(factories).flatMap(([name, make]) => (make ? [[name, make(deps)]] : [])),
        );
        const engine = new LocalEngine({ functions, retryIntervalMs: 50 });
        engineNow = engine;
        engine.register('flotilla-region', loadDefinition('region'));
        return { engine, releaseArn: engine.register('flotilla-release', loadDefinition('release')) };
      })();
      return engineReady;
    };
    /** Whether this process's engine runs the release (none runs before the first release). */
    const engineRuns = (releaseId: string) => engineNow?.isRunning(releaseId) ?? false;

    /** What each region runs, from the region itself (its `current` release), not the ledger. */
    const readRegions = async () =>
      new Map(
        await Promise.all(
          localRegions.map(
            async (r) =>
              [r.region, await liveFleet.currentRevision(r.region, r.target).catch(() => undefined)] as const,
          ),
        ),
      );
    const recoveryDeps = { ledger, callbacks: tokens, events, now, regions: readRegions };
    /** Why an operator stopped a release, for its record. */
    const stopReasons = new Map<string, string>();
    const running = new Map<string, Promise<ReleaseOutcome>>();
    /** Runs the release state machine on `input` without waiting for it. */
    const run = (input: StartReleaseInput): StartedRelease => {
      const { releaseId } = input;
      const planned = new Promise<void>((ok) => recorded.set(releaseId, ok));
      const done = (async () => {
        try {
          const { engine, releaseArn } = await engineOf();
          if (shutdown.signal.aborted) throw new Error('the backend closed before the release started');
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
      const settled = () => {
        running.delete(releaseId);
        recorded.get(releaseId)?.();
        recorded.delete(releaseId);
      };
      done.then(settled, settled);
      void planned.then(() => recorded.delete(releaseId));
      void done.then(copyLedger, copyLedger);
      return { releaseId, done, planned };
    };
    const owner = `local:${hostname()}:${process.pid}`;

    /**
     * The build's first release id no release has taken yet (`shop-2.0.0`, then `shop-2.0.0-2`, …):
     * one read per attempt at this version, never the service's whole history.
     */
    const freshReleaseId = async (version: string): Promise<string> => {
      for (let attempt = 1; ; attempt += 1) {
        const releaseId = executionName(config.service, version, attempt);
        if ((await ledger.getRelease(config.service, releaseId)) === undefined) return releaseId;
      }
    };

    /** Picks a fresh release id for a build, then runs it. */
    const startRun = async (request: ReleaseRequest): Promise<StartedRelease> => {
      // The ports are checked while the release id is picked: neither needs the other.
      const [, releaseId] = await Promise.all([portsFree(), freshReleaseId(request.version)]);
      return run({
        releaseId,
        version: request.version,
        artifact: request.artifact,
        ...(request.artifacts ? { artifacts: request.artifacts } : {}),
        config: config as unknown as StartReleaseInput['config'],
        owner,
        ...(request.emergency ? { emergency: request.emergency } : {}),
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

    /** The queue a dead process left in the ledger, run here (LocalBackend.resumeQueued). */
    const resumeQueued = async (): Promise<StartedRelease[]> => {
      const queued = queuedToResume(await ledger.listReleases(config.service, 50)).filter(
        (r) => !running.has(r.releaseId),
      );
      return queued.map((record) =>
        run({
          releaseId: record.releaseId,
          version: record.version,
          artifact: record.artifact,
          config: config as unknown as StartReleaseInput['config'],
          owner,
          resume: true,
        }),
      );
    };

    let accepting = true;
    /** Starts asked for whose release id is not known yet: in flight all the same. */
    const starting = new Set<Promise<ReleaseOutcome>>();
    return {
      ledger,
      interrupted,
      resumeQueued,
      async liveness() {
        const entries = await Promise.all(
          localRegions.map(async (r) => [r.region, await liveFleet.liveness(r.region, r.target)] as const),
        );
        return new Map(entries);
      },
      checkPorts: portsFree,
      stopRegions: async (reason) => {
        await newHosts.stopLeft();
        return liveFleet.stopRecorded(reason);
      },
      inFlight: () => [
        ...[...running].map(([releaseId, done]) => ({ releaseId, done })),
        ...[...starting].map((done) => ({ releaseId: '(starting)', done })),
      ],
      stopAccepting() {
        accepting = false;
      },
      async release(request) {
        return (await startRun(request)).done;
      },
      start(request) {
        if (!accepting) {
          return Promise.reject(
            refused('Busy', 'the process hosting this control API is ending: release again once it has exited'),
          );
        }
        const started = startRun(request);
        const done = started.then((s) => s.done);
        done.catch(() => {});
        starting.add(done);
        void started.then(
          () => starting.delete(done),
          () => starting.delete(done),
        );
        return started;
      },
      async rollback(releaseId, who) {
        const { startRollback } = await import('../../services/rollback.ts');
        const started = await startRollback(
          {
            ledger,
            now,
            starter,
            config: config as unknown as RollbackDeps['config'],
            owner,
            regions: readRegions,
          },
          { releaseId, ...who },
        );
        if (!started.done) throw new Error(`rollback ${started.releaseId} started without a way to follow it`);
        return { releaseId: started.releaseId, done: started.done };
      },
      stop(releaseId, who) {
        stopReasons.set(releaseId, `stopped by ${who.actor}: ${who.reason}`);
        return engineNow?.stop(releaseId) ?? false;
      },
      isRunning: engineRuns,
      unlock: (who) =>
        unlockService(
          { ...recoveryDeps, isRunning: async (releaseId: string) => engineRuns(releaseId) },
          { service: config.service, ...who },
        ),
      intent: (request) => submitIntent({ ledger, now, waker: tokens }, { ...request, service: config.service }),
      settled: () => copying,
      async close() {
        shutdown.abort();
        if (engineReady) (await engineReady.catch(() => undefined))?.engine.abortAll();
        await watcher;
        if (options.regions !== 'read') await newHosts.stopLeft();
        await liveFleet.close();
        await copyLedger();
        await dynamo.close();
      },
    };
  } catch (error) {
    await fleet?.close();
    await dynamo.close();
    throw error;
  }
}
