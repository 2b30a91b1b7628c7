/**
 * One concern, hence its length: the local RegionDeployer, from staging to readiness.
 *
 * Local RegionDeployer: every region is a real process on 127.0.0.1.
 *
 * On disk, per region:
 *   <stateDir>/regions/<region>/releases/<version>/   a copy of the build directory (+ a staging marker, and
 *                                                      the id of the release that copied it there)
 *   <stateDir>/regions/<region>/current               symlink -> releases/<version>, switched atomically
 *   <stateDir>/regions/<region>/logs/<version>.log    stdout + stderr of that version's processes, appended
 *   <stateDir>/regions/<region>/process.pid           the pid of the region's process while it runs
 *
 * Every region process leads its own process group, its stdio goes to its log file, and its pid is
 * recorded. With `keepServing` (the CLI) it outlives the command that started it, as
 * `docker compose up -d` leaves its services: the next fleet adopts it (`adoptRunning`) once it has
 * checked that the pid is really that region's process and that it answers on the region's port,
 * and `stopRecorded` (`flotilla down`) stops it. Without `keepServing` (tests, the bench) processes
 * never outlive the Node process that started them: stopAll() stops them gracefully, and an 'exit'
 * handler SIGKILLs whatever is left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  appendFile,
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { FaultSpec, LocalTarget, RegionTarget } from '../../config/types.ts';
import { type HealthFault, serviceEnvironment } from '../../core/service-env.ts';
import type {
  DeploymentRef,
  DeploymentRequest,
  DeploymentStatus,
  DeployPurpose,
  RegionDeployer,
  Revision,
  StageRef,
  StageRequest,
  StageStatus,
} from '../../ports/region-deployer.ts';
import type { RegionLiveness } from '../../ports/region-liveness.ts';
import { copyTree } from './copy-tree.ts';
import { processCwd, processEnvironment, processRunning, STOP_GRACE_MS, signalProcess, stopPid } from './os-process.ts';
import { Slots } from './slots.ts';

// node:http as CommonJS gives it: an ESM import of it also evaluates its lazy WebSocket exports,
// which loads undici, a good part of `flotilla where`'s start-up.
const http = process.getBuiltinModule('node:http');

export interface LocalProcessFleetOptions {
  /** Root of the fleet's files (releases, `current` links, logs). */
  stateDir: string;
  /** How long a freshly started process may take to answer HTTP on its port. */
  readinessTimeoutMs: number;
  log?: (line: string) => void;
  /**
   * Region processes outlive this fleet and the Node process (the CLI): `close()` leaves them
   * serving, and the next fleet adopts them. Default false: they go with the Node process.
   */
  keepServing?: boolean;
  /** The path that answers with the service's health and version (`gate.healthPath`), checked before adopting. */
  healthPath?: string;
  /**
   * Told as each deployment ends (its status is final by then): the local backend wakes the region's
   * child waiting on it, as CodeDeploy's state-change event does on AWS. A throwing listener changes nothing here.
   */
  onDeploymentEnd?: (deploymentId: string, region: string) => void | Promise<void>;
}

/** What `adoptRunning` did with each region's recorded process. */
export interface AdoptionReport {
  /** Ours, on the region's current version, answering on its port: kept as it runs. */
  adopted: { region: string; pid: number; version: string }[];
  /** Ours, but not worth keeping (another version than `current`, or not answering): stopped. */
  stopped: { region: string; pid: number; version: string; why: string }[];
}

/** A region process `stopRecorded` stopped. */
export interface StoppedProcess {
  region: string;
  pid: number;
  version: string;
  /** `killed`: it ignored SIGTERM for the grace period. */
  how: 'stopped' | 'killed';
}

/** Why a process is started: a deployment, or bringing the current release back up when the backend boots. */
export type StartPurpose = DeployPurpose | 'start';

/** Per region: the pid of the process this fleet started there, so one left by a killed orchestrator can be found. */
const PID_FILE = 'process.pid';
const MARKER = '.flotilla-staged';
/** In a staged copy: the release that copied it there, the one whose end may remove it again. */
const STAGED_FOR = '.flotilla-staged-for';
/**
 * Background copies at once across regions (staging ahead): they must not starve the deploying
 * wave of the disk. A wave's own deploys never wait for a slot: they are the wave, and serialising
 * them would make a wide wave cost more than a narrow one.
 */
const STAGING_SLOTS = 4;
/** Builds whose fingerprints a fleet keeps: a release's own, and those of the few before it. */
const FINGERPRINTS_KEPT = 8;
/** Files of a build read at once while it is fingerprinted. */
const FINGERPRINT_READS = 16;
/** How often a starting region's port is looked at until it accepts connections. */
const READY_POLL_MS = 10;
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface RunningProcess {
  pid: number | undefined;
  /** Signals the process's group (it leads one). */
  kill(signal: NodeJS.Signals): void;
  /** Started by an earlier fleet, which is gone; followed by polling its pid. */
  adopted: boolean;
  version: string;
  port: number;
  logFile: string;
  exited: Promise<ExitInfo>;
  exit: ExitInfo | null;
  spawnError: Error | null;
  crashTimer: NodeJS.Timeout | null;
}

interface DeploymentRecord {
  region: string;
  status: DeploymentStatus;
  /** Settles when the deployment ends. */
  done: Promise<void>;
}

interface StagingRecord {
  region: string;
  status: StageStatus;
  done: Promise<void>;
}

/** The fleet only runs local-process targets; anything else is a wiring mistake, said plainly. */
export function localTarget(region: string, target: RegionTarget): LocalTarget {
  if (target.kind === 'local-process') return target;
  const error = new Error(`${region}: the local backend cannot deploy a ${target.kind} target; use --backend aws`);
  error.name = 'UnsupportedTarget';
  throw error;
}

/** What starts a region's process. */
interface ProcessStart {
  service: string;
  region: string;
  target: LocalTarget;
  version: string;
  purpose: StartPurpose;
  faults: FaultSpec[];
}

/** A process's log, open for it to write to (#openLog). */
interface OpenLog {
  file: string;
  handle: FileHandle;
  /** Where the process's own output starts, after the header. */
  logOffset: number;
  env: Record<string, string>;
}

/** A deployment failure with a message meant for people; the region prefix is added where it is reported. */
class DeployFailure extends Error {
  override name = 'DeployFailure';
}

// Every process of every fleet without keepServing in this Node process, for the synchronous
// last-resort kill (of each one's group) on exit.
const liveChildren = new Set<number>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', () => {
    for (const pid of liveChildren) signalProcess(pid, 'SIGKILL');
  });
}

/** How often an adopted process (not our child: no 'exit' event) is checked for being gone. */
const ADOPTED_POLL_MS = 250;
/**
 * How long an HTTP check of a region's port may take: before adopting (a slow answer on a loaded
 * machine must not get a healthy process restarted), and for `where` (which must stay quick).
 */
const ADOPT_TIMEOUT_MS = 3_000;
const LIVENESS_TIMEOUT_MS = 1_500;

export class LocalProcessFleet implements RegionDeployer {
  readonly #stateDir: string;
  readonly #readinessTimeoutMs: number;
  readonly #log: (line: string) => void;
  readonly #keepServing: boolean;
  readonly #healthPath: string;
  readonly #onDeploymentEnd: NonNullable<LocalProcessFleetOptions['onDeploymentEnd']>;
  readonly #deployments = new Map<string, DeploymentRecord>();
  readonly #processes = new Map<string, RunningProcess>();
  /** Tail of each region's queue of work: deployments in one region run one after the other. */
  readonly #queues = new Map<string, Promise<void>>();
  readonly #stagings = new Map<string, StagingRecord>();
  readonly #copySlots = new Slots(STAGING_SLOTS);
  /** Each release's build fingerprint, by release and build directory (`#fingerprintOf`). */
  readonly #fingerprints = new Map<string, Promise<string>>();
  #stopping = false;

  constructor(options: LocalProcessFleetOptions) {
    this.#stateDir = path.resolve(options.stateDir);
    this.#readinessTimeoutMs = options.readinessTimeoutMs;
    this.#log = options.log ?? (() => {});
    this.#keepServing = options.keepServing === true;
    this.#healthPath = options.healthPath ?? '/';
    this.#onDeploymentEnd = options.onDeploymentEnd ?? (() => {});
  }

  async startDeployment(request: DeploymentRequest): Promise<{ deploymentId: string }> {
    const deploymentId = `local-${randomUUID()}`;
    const done = this.#enqueue(request.region, async () => {
      let status: DeploymentStatus;
      const progress = { touched: false };
      try {
        await this.#deploy(request, progress);
        status = { status: 'Succeeded' };
      } catch (err) {
        status = {
          status: 'Failed',
          message: `${request.region}: ${errorMessage(err)}`,
          ...(progress.touched ? {} : { untouched: true }),
        };
      }
      this.#deployments.set(deploymentId, { region: request.region, status, done });
      const what = `${request.purpose} of ${request.revision ? request.revision.version : 'nothing (removal)'}`;
      this.#log(status.status === 'Failed' ? `${status.message} [${what}]` : `${request.region}: ${what} succeeded`);
      this.#signalEnd(deploymentId, request.region);
    });
    this.#deployments.set(deploymentId, { region: request.region, status: { status: 'InProgress' }, done });
    return { deploymentId };
  }

  /**
   * Copies the build into the region's releases/<version> in the background, switching nothing.
   * It runs in the region's queue, so a deploy of the region started meanwhile waits for it and
   * then finds the copy in place.
   */
  async startStaging(request: StageRequest): Promise<{ stageId: string }> {
    const stageId = `stage-${randomUUID()}`;
    const { region, revision } = request;
    const done = this.#enqueue(region, async () => {
      let status: StageStatus;
      try {
        if (this.#stopping) throw new DeployFailure('the fleet is shutting down');
        const target = localTarget(region, request.target);
        assertSafeName('version', revision.version);
        if (matchingFaults(target.faults, 'deploy', revision.version).some((f) => f.kind === 'stage-fail')) {
          throw new DeployFailure('injected staging failure');
        }
        await this.#stage(region, revision, request.releaseId, 'ahead');
        status = { status: 'Staged' };
      } catch (err) {
        status = { status: 'Failed', message: `${region}: staging ${revision.version} failed: ${errorMessage(err)}` };
        this.#log(status.message);
      }
      this.#stagings.set(stageId, { region, status, done });
    });
    this.#stagings.set(stageId, { region, status: { status: 'InProgress' }, done });
    return { stageId };
  }

  async awaitStaging(ref: StageRef, timeoutMs: number): Promise<StageStatus> {
    const record = this.#stagings.get(ref.stageId);
    if (!record || record.region !== ref.region) {
      return { status: 'Failed', message: `${ref.region}: staging ${ref.stageId} is unknown to this orchestrator` };
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      record.done.catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return this.#stagings.get(ref.stageId)?.status ?? record.status;
  }

  /** Removes releases/<version> when this release copied it there and the region does not run it. */
  async removeStaged(request: StageRequest): Promise<void> {
    const { region, revision, releaseId } = request;
    if (!SAFE_NAME.test(region) || !SAFE_NAME.test(revision.version)) return;
    await this.#enqueue(region, async () => {
      if ((await this.currentVersion(region)) === revision.version) return;
      const releaseDir = path.join(this.#regionDir(region), 'releases', revision.version);
      const owner = await readFile(path.join(releaseDir, STAGED_FOR), 'utf8').catch(() => null);
      if (owner !== releaseId) return;
      await rm(releaseDir, { recursive: true, force: true });
      this.#log(`${region}: removed ${revision.version}, staged by ${releaseId} and not run here`);
    });
  }

  /** Tells the listener a deployment ended, without holding up the region's queue or failing on its errors. */
  #signalEnd(deploymentId: string, region: string): void {
    void (async () => {
      try {
        await this.#onDeploymentEnd(deploymentId, region);
      } catch (error) {
        // The child's own re-check (its wait's timeout) still finds the deployment finished.
        this.#log(`${region}: could not signal the end of deployment ${deploymentId}: ${errorMessage(error)}`);
      }
    })();
  }

  /** Resolves when the deployment ends (or after `timeoutMs`): no polling needed in this process. */
  async awaitDeployment(ref: DeploymentRef, timeoutMs: number): Promise<DeploymentStatus> {
    const record = this.#deployments.get(ref.deploymentId);
    if (record) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        record.done.catch(() => {}),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    return this.getDeployment(ref);
  }

  async getDeployment({ region, deploymentId }: DeploymentRef): Promise<DeploymentStatus> {
    const record = this.#deployments.get(deploymentId);
    if (!record || record.region !== region) {
      const err = new Error(`deployment ${deploymentId} not found in region ${region}`);
      err.name = 'DeploymentNotFound';
      throw err;
    }
    return record.status;
  }

  /**
   * Starts the region's `current` release unless a process of this fleet already runs there.
   * Used when the backend boots (processes do not outlive the orchestrator). Throws when it cannot.
   */
  async ensureRunning(service: string, region: string, target: LocalTarget, version: string): Promise<void> {
    await this.#enqueue(region, async () => {
      const running = this.#processes.get(region);
      if (running && running.exit === null) return;
      try {
        const current = await this.currentVersion(region);
        if (current === null) throw new DeployFailure(`no current release to start (expected ${version})`);
        if (current !== version) {
          throw new DeployFailure(`current release is ${current}, expected ${version}`);
        }
        await this.#assertPortFree(target.port);
        const faults = matchingFaults(target.faults, 'start', version);
        await this.#startProcess({ service, region, target, version, purpose: 'start', faults });
      } catch (err) {
        throw new Error(`${region}: ${errorMessage(err)}`);
      }
    });
  }

  /** The region's current release: its version and staged directory (a rollback redeploys from there). */
  async currentRevision(region: string, _target: RegionTarget): Promise<Revision | null> {
    const version = await this.currentVersion(region);
    return version === null ? null : { version, artifact: path.join(this.#regionDir(region), 'releases', version) };
  }

  /**
   * A local deployment is a restart that ends within the readiness timeout; it is not cut short
   * (a half-restarted region is worse than a finished one). Abort acts at the next safe point.
   */
  async stopDeployment(_ref: DeploymentRef): Promise<void> {}

  /** The version the region's `current` link points at, or null when the region has none. */
  async currentVersion(region: string): Promise<string | null> {
    try {
      const target = await readlink(path.join(this.#regionDir(region), 'current'));
      return path.basename(target);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
  }

  /** PID of the region's running process, or null. */
  pid(region: string): number | null {
    const running = this.#processes.get(region);
    return running && running.exit === null ? (running.pid ?? null) : null;
  }

  /** Stops every process this fleet started (deployments still in flight fail) and waits until they are gone. */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    try {
      await Promise.all([...this.#queues.values()]);
      await Promise.all([...this.#processes.keys()].map((region) => this.#stopRegion(region)));
    } finally {
      this.#stopping = false;
    }
  }

  #enqueue(region: string, work: () => Promise<void>): Promise<void> {
    const previous = this.#queues.get(region) ?? Promise.resolve();
    const run = previous.then(work);
    const tail = run.then(
      () => {},
      () => {},
    );
    this.#queues.set(region, tail);
    void tail.then(() => {
      if (this.#queues.get(region) === tail) this.#queues.delete(region);
    });
    return run;
  }

  /** `progress.touched` turns true the moment anything in the region is stopped or switched. */
  async #deploy(request: DeploymentRequest, progress: { touched: boolean }): Promise<void> {
    const { region, revision, purpose } = request;
    const target = localTarget(region, request.target);
    assertSafeName('region', region);
    if (this.#stopping) throw new DeployFailure('the fleet is shutting down');
    const faults = matchingFaults(target.faults, purpose, revision?.version ?? null);
    if (faults.some((f) => f.kind === 'deploy-fail')) throw new DeployFailure('injected deploy failure');

    if (revision === null) {
      progress.touched = true;
      await this.#stopRegion(region);
      await rm(path.join(this.#regionDir(region), 'current'), { force: true });
      this.#log(`${region}: removed`);
      return;
    }

    assertSafeName('version', revision.version);
    await this.#stage(region, revision, request.releaseId, 'deploy');
    const start: ProcessStart = {
      service: request.service,
      region,
      target,
      version: revision.version,
      purpose,
      faults,
    };
    // The new process's log is opened before the old process stops: one that cannot be opened fails
    // the deploy with the region untouched, still serving what it served.
    const log = await this.#openLog(start);
    progress.touched = true;
    try {
      await this.#stopRegion(region);
      await this.#assertPortFree(target.port);
      await this.#switchCurrent(region, revision.version);
    } catch (error) {
      await log.handle.close().catch(() => {});
      throw error;
    }
    await this.#startProcess({ ...start, log });
  }

  /**
   * Copies the build into releases/<version>, unless the same content is already staged there or
   * this release staged it there already (ahead of its wave): a release ships the bits it staged,
   * and a later wave's deploy neither copies nor reads the build again.
   */
  async #stage(region: string, revision: Revision, releaseId: string, when: 'ahead' | 'deploy'): Promise<void> {
    // A build given as a symlink is staged from what it points at now, and copied: a link kept as a
    // link (or links inside the build) would make later rollbacks run whatever it points at then.
    const given = path.resolve(revision.artifact);
    const releases = path.join(this.#regionDir(region), 'releases');
    const releaseDir = path.join(releases, revision.version);
    // Everything the decision below reads, read at once: a deploy's own start is on the wave's critical path.
    const [source, info, inPlace, stagedFor, staged] = await Promise.all([
      realpath(given).catch(() => null),
      stat(given).catch(() => null),
      realpath(releaseDir).catch(() => releaseDir),
      readFile(path.join(releaseDir, STAGED_FOR), 'utf8').catch(() => null),
      readFile(path.join(releaseDir, MARKER), 'utf8').catch(() => null),
    ]);
    if (!source || !info) throw new DeployFailure(`build directory ${given} does not exist`);
    if (!info.isDirectory()) throw new DeployFailure(`build ${given} is a file, not a directory`);
    // A rollback redeploys the copy staged here earlier: nothing to copy.
    if (source === inPlace) return;
    if (stagedFor === releaseId && staged !== null) return;
    const copy = () => this.#copyIn(region, revision, source, releases, releaseDir, staged, releaseId);
    await (when === 'ahead' ? this.#copySlots.run(copy) : copy());
  }

  async #copyIn(
    region: string,
    revision: Revision,
    source: string,
    releases: string,
    releaseDir: string,
    staged: string | null,
    releaseId: string,
  ): Promise<void> {
    const fingerprinting = this.#fingerprintOf(source, releaseId);
    // Something is staged under this version already: the same content is not copied again.
    if (staged !== null && staged === (await fingerprinting)) return;

    // Copy next to the release dir, then move it into place: a half-copied release is never visible.
    // Where nothing is staged yet the copy is needed whatever the fingerprint, so both read the build
    // at once: the fingerprint is only the marker written into the copy.
    await mkdir(releases, { recursive: true });
    const tmp = path.join(releases, `.staging-${revision.version}-${randomUUID()}`);
    const [hashed, copied] = await Promise.allSettled([fingerprinting, copyTree(source, tmp)]);
    if (hashed.status === 'rejected' || copied.status === 'rejected') {
      await rm(tmp, { recursive: true, force: true });
      throw hashed.status === 'rejected' ? hashed.reason : (copied as PromiseRejectedResult).reason;
    }
    const fingerprint = hashed.value;
    // The marker is written into the copy only, never into the source.
    await Promise.all([
      writeFile(path.join(tmp, MARKER), fingerprint),
      writeFile(path.join(tmp, STAGED_FOR), releaseId),
    ]);
    const old = path.join(releases, `.replaced-${revision.version}-${randomUUID()}`);
    const hadOld = await rename(releaseDir, old).then(
      () => true,
      (err: unknown) => {
        if (isErrno(err, 'ENOENT')) return false;
        throw err;
      },
    );
    await rename(tmp, releaseDir);
    if (hadOld) await rm(old, { recursive: true, force: true });
    this.#log(`${region}: staged ${revision.version} from ${source}`);
  }

  /**
   * The build's fingerprint, read once per release: a release ships one build everywhere, so its
   * regions share one read of it (the realistic bench build is 39 MiB in 4,002 files) instead of
   * reading it each.
   */
  #fingerprintOf(source: string, releaseId: string): Promise<string> {
    const key = `${releaseId}\u0000${source}`;
    let known = this.#fingerprints.get(key);
    if (!known) {
      known = fingerprintDir(source);
      this.#fingerprints.set(key, known);
      // A failed read is not kept; only the last few releases' builds are.
      known.catch(() => this.#fingerprints.delete(key));
      if (this.#fingerprints.size > FINGERPRINTS_KEPT)
        this.#fingerprints.delete(this.#fingerprints.keys().next().value as string);
    }
    return known;
  }

  /** Fails unless the port is free: this fleet's own process for the region must already be stopped. */
  async #assertPortFree(port: number): Promise<void> {
    const owner = [...this.#processes.entries()].find(([, p]) => p.port === port && p.exit === null);
    if (owner) throw new DeployFailure(`port ${port} already in use by this fleet's process for ${owner[0]}`);
    if (await portInUse(port)) throw new DeployFailure(`port ${port} already in use by another process`);
  }

  async #switchCurrent(region: string, version: string): Promise<void> {
    const regionDir = this.#regionDir(region);
    const tmp = path.join(regionDir, `.current-${randomUUID()}`);
    await symlink(path.join('releases', version), tmp);
    await rename(tmp, path.join(regionDir, 'current'));
  }

  /**
   * The log a process of this version writes to, opened with its header written, and the
   * environment it gets: everything a start needs that changes nothing in the region, so a deploy
   * makes it while the old process stops.
   */
  async #openLog(start: ProcessStart): Promise<OpenLog> {
    const { region, target, version, faults } = start;
    const logsDir = path.join(this.#regionDir(region), 'logs');
    const file = path.join(logsDir, `${version}.log`);
    await mkdir(logsDir, { recursive: true }).catch((error: unknown) => {
      throw new DeployFailure(`cannot open the log ${file}: ${errorMessage(error)}`);
    });
    const healthFault = faults.find(
      (f): f is FaultSpec & { kind: HealthFault } =>
        f.kind === 'unhealthy' || f.kind === 'flapping' || f.kind === 'silent',
    );
    // An allow-list, never the orchestrator's environment (its secrets stay with it): core/service-env.ts.
    const env = serviceEnvironment({
      orchestrator: process.env,
      targetEnv: target.env,
      ...(target.passEnv ? { passEnv: target.passEnv } : {}),
      service: start.service,
      region,
      version,
      port: target.port,
      ...(healthFault ? { healthFault: healthFault.kind } : {}),
    });
    const handle = await open(file, 'a').catch((error: unknown) => {
      throw new DeployFailure(`cannot open the log ${file}: ${errorMessage(error)}`);
    });
    try {
      await handle.write(
        `--- ${new Date().toISOString()} ${start.purpose}: ${start.service} ${version} in ${region} on port ${target.port}` +
          `${healthFault ? ` (fault: ${healthFault.kind})` : ''} ---\n`,
      );
      return { file, handle, logOffset: (await handle.stat()).size, env };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async #startProcess(start: ProcessStart & { log?: OpenLog }): Promise<void> {
    const { region, target, version, faults } = start;
    const [command, ...args] = target.command;
    const deadline = Date.now() + this.#readinessTimeoutMs;
    const opening = start.log ? Promise.resolve(start.log) : this.#openLog(start);
    // Awaited below or by `abandon`, perhaps after a slow-start's wait: never an unhandled rejection meanwhile.
    opening.catch(() => {});
    // Whatever stops the start before its process runs closes the log opened for it.
    const abandon = async (error: unknown): Promise<never> => {
      await opening.then((opened) => opened.handle.close()).catch(() => {});
      throw error;
    };
    if (command === undefined) return abandon(new DeployFailure('target.command is empty'));
    const slow = faults.find((f) => f.kind === 'slow-start');
    if (slow) {
      this.#log(`${region}: slow-start fault: waiting ${slow.ms} ms before starting`);
      await sleep(Math.min(slow.ms, Math.max(0, deadline - Date.now())));
      if (Date.now() >= deadline) {
        return abandon(
          new DeployFailure(
            `not ready within ${this.#readinessTimeoutMs} ms (slow-start fault delayed the start by ${slow.ms} ms)`,
          ),
        );
      }
    }
    if (this.#stopping) return abandon(new DeployFailure('the fleet is shutting down'));

    const log = await opening;
    const cwd = path.join(this.#regionDir(region), 'releases', version);
    let running: RunningProcess;
    try {
      // Its own process group: a Ctrl-C at the terminal (sent to the command's group) never reaches it,
      // and the whole group (a wrapper and what it runs) is signalled as one.
      const child = spawn(command, args, {
        cwd,
        env: log.env,
        stdio: ['ignore', log.handle.fd, log.handle.fd],
        detached: true,
      });
      // Listen before the next await: a failed spawn reports its 'error' on the next tick.
      running = this.#track(region, version, target.port, log.file, child);
    } finally {
      await log.handle.close();
    }
    const { logOffset } = log;
    const logFile = log.file;
    const { pid } = running;
    if (pid !== undefined) this.#log(`${region}: started ${version} as pid ${pid} on port ${target.port}`);

    const outcome = await this.#waitReady(running, deadline);
    if (outcome === 'ready') {
      const crash = faults.find((f) => f.kind === 'crash-after-start');
      if (crash) {
        running.crashTimer = setTimeout(() => {
          if (running.exit) return;
          this.#log(`${region}: crash-after-start fault: killing ${version} (pid ${pid ?? '?'})`);
          running.kill('SIGKILL');
        }, crash.ms);
        running.crashTimer.unref();
      }
      return;
    }
    if (outcome === 'exited') {
      if (running.spawnError) {
        throw new DeployFailure(`could not start ${target.command.join(' ')}: ${running.spawnError.message}`);
      }
      const last = await lastLogLine(logFile, logOffset);
      throw new DeployFailure(
        `process ${describeExit(running.exit ?? { code: null, signal: null })} before it was ready` +
          `${last ? `: ${last}` : ''} (log: ${logFile})`,
      );
    }
    await this.#stopRegion(region);
    if (outcome === 'stopping') throw new DeployFailure('the fleet is shutting down');
    throw new DeployFailure(
      `not ready within ${this.#readinessTimeoutMs} ms: nothing answered HTTP on port ${target.port} (log: ${logFile})`,
    );
  }

  /** Records a just-spawned child as the region's process and follows it until it exits. */
  #track(region: string, version: string, port: number, logFile: string, child: ChildProcess): RunningProcess {
    if (!this.#keepServing) installExitHandler();
    let resolveExited: (info: ExitInfo) => void = () => {};
    const running: RunningProcess = {
      pid: child.pid,
      kill(signal) {
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          signalProcess(child.pid, signal);
        }
      },
      adopted: false,
      version,
      port,
      logFile,
      exited: new Promise<ExitInfo>((resolve) => {
        resolveExited = resolve;
      }),
      exit: null,
      spawnError: null,
      crashTimer: null,
    };
    const onExit = (info: ExitInfo) => {
      if (running.exit) return;
      running.exit = info;
      if (child.pid !== undefined) liveChildren.delete(child.pid);
      if (running.crashTimer) clearTimeout(running.crashTimer);
      if (this.#processes.get(region) === running) this.#processes.delete(region);
      this.#log(`${region}: ${version} (pid ${child.pid ?? '?'}) ${describeExit(info)}`);
      resolveExited(info);
    };
    child.on('exit', (code, signal) => onExit({ code, signal }));
    if (child.pid !== undefined) {
      // Kept while the process lives: if this orchestrator is killed (kill -9), the next one finds it.
      const pidFile = path.join(this.#regionDir(region), PID_FILE);
      const pid = child.pid;
      writeFileSync(pidFile, `${pid}\n`);
      running.exited
        .then(
          () => {
            if (readFileSync(pidFile, 'utf8').trim() === String(pid)) rmSync(pidFile, { force: true });
          },
          () => {},
        )
        .catch(() => {});
    }
    child.on('error', (err) => {
      // A failed spawn (ENOENT, EACCES) ends here, without an 'exit' event; a failed kill() is harmless.
      if (child.pid !== undefined) return;
      running.spawnError = err;
      onExit({ code: null, signal: null });
    });
    if (child.pid !== undefined) {
      // A kept process must not keep this Node process alive, nor be killed when it exits.
      if (this.#keepServing) child.unref();
      else liveChildren.add(child.pid);
    }
    this.#processes.set(region, running);
    return running;
  }

  /** Records a process an earlier fleet started as the region's process, and follows it until it exits. */
  #trackAdopted(region: string, version: string, port: number, pid: number): RunningProcess {
    let resolveExited: (info: ExitInfo) => void = () => {};
    const running: RunningProcess = {
      pid,
      kill: (signal) => signalProcess(pid, signal),
      adopted: true,
      version,
      port,
      logFile: path.join(this.#regionDir(region), 'logs', `${version}.log`),
      exited: new Promise<ExitInfo>((resolve) => {
        resolveExited = resolve;
      }),
      exit: null,
      spawnError: null,
      crashTimer: null,
    };
    const poll = setInterval(() => {
      void processRunning(pid).then((alive) => {
        if (alive || running.exit) return;
        clearInterval(poll);
        running.exit = { code: null, signal: null };
        if (this.#processes.get(region) === running) this.#processes.delete(region);
        this.#log(`${region}: ${version} (pid ${pid}, adopted) exited`);
        this.#forgetPid(region, pid);
        resolveExited(running.exit);
      });
    }, ADOPTED_POLL_MS);
    poll.unref();
    this.#processes.set(region, running);
    return running;
  }

  /**
   * Removes the region's pid file if it still names `pid`. Synchronous, as the write of a new pid is (#track): nothing of this process runs between the read
   * and the removal. Done with awaits, a process started the moment an adopted one was seen gone (a
   * restart) got its pid written between them, and lost it: the next command then found a stranger
   * on the region's port instead of adopting the region's own process.
   */
  #forgetPid(region: string, pid: number): void {
    const pidFile = path.join(this.#regionDir(region), PID_FILE);
    let recorded = '';
    try {
      recorded = readFileSync(pidFile, 'utf8').trim();
    } catch {
      return;
    }
    if (recorded === String(pid)) rmSync(pidFile, { force: true });
  }

  async #waitReady(running: RunningProcess, deadline: number): Promise<'ready' | 'exited' | 'timeout' | 'stopping'> {
    const exited = running.exited.then(() => 'exited' as const);
    for (;;) {
      if (running.exit) return 'exited';
      if (this.#stopping) return 'stopping';
      const remaining = deadline - Date.now();
      if (remaining <= 0) return 'timeout';
      // A refused connection is cheap to see (a tenth of a failed HTTP request's CPU), so the port is
      // watched closely and asked over HTTP only once it accepts: a region is seen ready within
      // READY_POLL_MS of listening, without the CPU of polling HTTP that often while it starts.
      const answered = await Promise.race([
        (async () =>
          (await accepts(running.port, Math.min(1_000, remaining))) &&
          httpAnswers(running.port, Math.min(1_000, remaining)))(),
        exited,
      ]);
      if (answered === 'exited' || running.exit) return 'exited';
      if (answered) return 'ready';
      await Promise.race([sleep(READY_POLL_MS), exited]);
    }
  }

  /** SIGTERM the region's process, SIGKILL it after STOP_GRACE_MS, and wait until it is gone. */
  async #stopRegion(region: string): Promise<void> {
    const running = this.#processes.get(region);
    if (!running) return;
    if (running.crashTimer) clearTimeout(running.crashTimer);
    if (running.exit === null) {
      this.#log(`${region}: stopping ${running.version} (pid ${running.pid ?? '?'})`);
      running.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const graceful = await Promise.race([
        running.exited.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), STOP_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!graceful) {
        this.#log(`${region}: ${running.version} ignored SIGTERM for ${STOP_GRACE_MS} ms: SIGKILL`);
        running.kill('SIGKILL');
        await running.exited;
      }
    }
    if (this.#processes.get(region) === running) this.#processes.delete(region);
  }

  /**
   * Takes over the region processes an earlier command left serving (detached on purpose, or left
   * by an orchestrator killed with SIGKILL), instead of restarting them. A recorded pid is trusted
   * only when that process runs from this region's `releases/<version>` and (where /proc shows it)
   * was started with this region's FLOTILLA_REGION and FLOTILLA_VERSION, so a reused pid is never
   * adopted nor signalled. Ours and on the region's `current` version and answering its port: kept.
   * Ours but another version, or not answering: stopped (the caller brings `current` back up).
   * Call it while holding the state directory, before anything deploys.
   */
  async adoptRunning(regions: readonly { region: string; target: LocalTarget }[]): Promise<AdoptionReport> {
    const report: AdoptionReport = { adopted: [], stopped: [] };
    await Promise.all(
      regions.map(async ({ region, target }) => {
        if (this.#processes.get(region)?.exit === null) return;
        const pid = await this.#recordedPid(region);
        if (pid === null) return;
        const ours = await this.#identify(region, pid);
        if (!ours) {
          this.#forgetPid(region, pid);
          return;
        }
        const current = await this.currentVersion(region);
        const answer = ours.version === current ? await this.#answersAs(target.port, ours.version) : 'none';
        if (answer === 'same') {
          this.#trackAdopted(region, ours.version, target.port, pid);
          this.#log(`${region}: adopted ${ours.version} (pid ${pid}) serving on port ${target.port}`);
          report.adopted.push({ region, pid, version: ours.version });
          return;
        }
        const why =
          ours.version !== current
            ? `it runs ${ours.version}, the region's current release is ${current ?? 'none'}`
            : `it does not answer as ${ours.version} on port ${target.port}`;
        this.#log(`${region}: stopping pid ${pid}, left by an earlier command: ${why}`);
        await stopPid(pid);
        this.#forgetPid(region, pid);
        report.stopped.push({ region, pid, version: ours.version, why });
      }),
    );
    return report;
  }

  /**
   * Whether the region's process runs and answers, read from the state directory and the port
   * alone: it starts, stops and adopts nothing (the read verbs call it).
   */
  async liveness(region: string, target: LocalTarget): Promise<RegionLiveness> {
    const tracked = this.#processes.get(region);
    const pid = tracked?.exit === null && tracked.pid !== undefined ? tracked.pid : await this.#recordedPid(region);
    const ours = pid === null ? null : await this.#identify(region, pid);
    if (pid === null || ours === null) return { state: 'down', portTaken: await portInUse(target.port) };
    const health = await httpHealth(target.port, this.#healthPath, LIVENESS_TIMEOUT_MS);
    if (health === null) return { state: 'not-answering', pid, version: ours.version };
    return { state: 'serving', pid, version: ours.version, healthy: health.ok };
  }

  /**
   * The regions whose port something else holds: no process of this fleet runs there, yet the port
   * is taken. Deploying there could only fail (or the gate would probe that program): refused first.
   */
  async portConflicts(
    regions: readonly { region: string; target: LocalTarget }[],
  ): Promise<{ region: string; port: number }[]> {
    const taken = await Promise.all(
      regions.map(async ({ region, target }) => {
        const running = this.#processes.get(region);
        if (running && running.exit === null && running.port === target.port) return null;
        return (await portInUse(target.port)) ? { region, port: target.port } : null;
      }),
    );
    return taken.filter((t): t is { region: string; port: number } => t !== null);
  }

  /**
   * `flotilla down`: stops every region process recorded in the state directory that is verified
   * as ours (see adoptRunning), whichever fleet started it, and forgets the pid files of the others.
   * Call it while holding the state directory.
   */
  async stopRecorded(reason?: string): Promise<StoppedProcess[]> {
    const regionsDir = path.join(this.#stateDir, 'regions');
    const names = await readdir(regionsDir).catch(() => [] as string[]);
    const stopped: StoppedProcess[] = [];
    await Promise.all(
      names
        .filter((name) => SAFE_NAME.test(name))
        .map(async (region) => {
          const running = this.#processes.get(region);
          if (running && running.exit === null && running.pid !== undefined) {
            const { pid, version } = running;
            await this.#stopRegion(region);
            stopped.push({ region, pid, version, how: 'stopped' });
            await this.#noteStop(region, version, pid, 'stopped', reason);
            return;
          }
          const pid = await this.#recordedPid(region);
          if (pid === null) return;
          const ours = await this.#identify(region, pid);
          if (ours) {
            this.#log(`${region}: stopping ${ours.version} (pid ${pid})`);
            const how = await stopPid(pid);
            stopped.push({ region, pid, version: ours.version, how });
            await this.#noteStop(region, ours.version, pid, how, reason);
          }
          this.#forgetPid(region, pid);
        }),
    );
    return stopped.sort((a, b) => (a.region < b.region ? -1 : a.region > b.region ? 1 : 0));
  }

  /**
   * The fleet is done. With keepServing its processes go on serving (deployments in flight end
   * first, failing); without, they are stopped (stopAll).
   */
  async close(): Promise<void> {
    if (!this.#keepServing) return this.stopAll();
    this.#stopping = true;
    try {
      await Promise.all([...this.#queues.values()]);
    } finally {
      this.#stopping = false;
    }
  }

  /** The region's log says who stopped its process, next to what the process wrote itself. */
  async #noteStop(region: string, version: string, pid: number, how: string, reason?: string): Promise<void> {
    const file = path.join(this.#regionDir(region), 'logs', `${version.replace(/ \(deleted\)$/, '')}.log`);
    const line = `--- ${new Date().toISOString()} ${how} by flotilla down${reason ? `: ${reason}` : ''} (pid ${pid}) ---\n`;
    await appendFile(file, line).catch(() => {});
  }

  async #recordedPid(region: string): Promise<number | null> {
    const text = await readFile(path.join(this.#regionDir(region), PID_FILE), 'utf8').catch(() => '');
    const pid = Number(text.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  }

  /** The version the process runs when it is this region's process (see adoptRunning), else null. */
  async #identify(region: string, pid: number): Promise<{ version: string } | null> {
    if (!(await processRunning(pid))) return null;
    const cwd = await processCwd(pid);
    const releases = await realpath(path.join(this.#regionDir(region), 'releases')).catch(() => null);
    if (cwd === null || releases === null || path.dirname(cwd) !== releases) return null;
    // A release directory replaced since (restaged) shows as "<version> (deleted)": still ours, not current.
    const version = path.basename(cwd);
    const env = await processEnvironment(pid);
    if (env !== null) {
      if (env.get('FLOTILLA_REGION') !== region) return null;
      if (env.get('FLOTILLA_VERSION') !== version.replace(/ \(deleted\)$/, '')) return null;
    }
    return { version };
  }

  /** 'same': something answers the health path on the port, and says `version` (or no version at all). */
  async #answersAs(port: number, version: string): Promise<'same' | 'other' | 'none'> {
    const health = await httpHealth(port, this.#healthPath, ADOPT_TIMEOUT_MS);
    if (health === null) return 'none';
    return health.version === undefined || health.version === version ? 'same' : 'other';
  }

  #regionDir(region: string): string {
    assertSafeName('region', region);
    return path.join(this.#stateDir, 'regions', region);
  }
}

function matchingFaults(faults: FaultSpec[], purpose: StartPurpose, version: string | null): FaultSpec[] {
  return faults.filter(
    (f) => (f.on === purpose || f.on === 'always') && (f.version === undefined || f.version === version),
  );
}

function assertSafeName(what: string, name: string): void {
  if (!SAFE_NAME.test(name))
    throw new DeployFailure(`${what} ${JSON.stringify(name)} is not usable as a directory name`);
}

/** A content hash of a directory tree (relative paths, file modes and bytes). */
async function fingerprintDir(root: string): Promise<string> {
  const hash = createHash('sha256');
  // What a directory's entries contribute, read side by side (a few files at a time) and hashed in name order.
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (let i = 0; i < entries.length; i += FINGERPRINT_READS) {
      const parts = await Promise.all(
        entries.slice(i, i + FINGERPRINT_READS).map(async (entry): Promise<(string | Buffer)[] | string> => {
          const full = path.join(dir, entry.name);
          const rel = path.relative(root, full);
          if (entry.isDirectory()) return full;
          if (entry.isSymbolicLink()) return [`l ${rel} ${await readlink(full)}\0`];
          if (!entry.isFile()) return [];
          const [info, bytes] = await Promise.all([lstat(full), readFile(full)]);
          return [`f ${rel} ${info.mode} ${info.size}\0`, bytes];
        }),
      );
      for (const part of parts) {
        if (typeof part === 'string') {
          hash.update(`d ${path.relative(root, part)}\0`);
          await walk(part);
        } else for (const chunk of part) hash.update(chunk);
      }
    }
  };
  await walk(root);
  return hash.digest('hex');
}

/** True when a TCP connection to 127.0.0.1:port is accepted within timeoutMs. */
function accepts(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** True when something accepts connections on 127.0.0.1:port, or the port cannot be bound there. */
async function portInUse(port: number): Promise<boolean> {
  const connects = await new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (connects) return true;
  return new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(true));
    server.listen({ host: '127.0.0.1', port }, () => server.close(() => resolve(false)));
  });
}

/** True when an HTTP request to the port gets any answer within timeoutMs. */
export function httpAnswers(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      resolve(true);
      req.destroy();
    });
    const timer = setTimeout(() => req.destroy(), timeoutMs);
    req.once('error', () => resolve(false));
    req.once('close', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** The most telling line the process wrote since `offset`: the last error line, else the last line. */
export async function lastLogLine(logFile: string, offset: number): Promise<string | null> {
  const text = await readFile(logFile).then(
    (buf) => buf.subarray(offset).toString('utf8'),
    () => '',
  );
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('at ') && !/^Node\.js v\d/.test(l));
  const errorLine = lines.findLast((l) => /^([A-Za-z]*Error|Uncaught)\b/.test(l));
  return errorLine ?? lines.at(-1) ?? null;
}

function describeExit(info: ExitInfo): string {
  if (info.signal) return `was killed by ${info.signal}`;
  if (info.code !== null) return `exited with code ${info.code}`;
  return 'exited';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}

/** The answer on the port's health path (status, and the version its JSON body names), or null when none comes. */
function httpHealth(
  port: number,
  healthPath: string,
  timeoutMs: number,
): Promise<{ ok: boolean; version?: string } | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: healthPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 65_536) body += chunk;
      });
      res.on('end', () => {
        clearTimeout(timer);
        let version: string | undefined;
        try {
          const parsed = JSON.parse(body) as { version?: unknown };
          if (typeof parsed.version === 'string') version = parsed.version;
        } catch {
          // Not JSON: an answer all the same.
        }
        const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
        resolve(version === undefined ? { ok } : { ok, version });
      });
      res.on('error', () => resolve(null));
    });
    const timer = setTimeout(() => req.destroy(), timeoutMs);
    req.once('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}
