/**
 * The local NewHostLauncher: a wave's new host is one more process of the new build, started from
 * the region's staged `releases/<version>/` with the region's clean environment
 * (core/service-env.ts) on a spare free port, with nothing of the region's running process.
 *
 * It must never outlive the gate as a stranger holding a port:
 *   - its pid is recorded in `<stateDir>/new-hosts/<release>.<wave>.json` while it runs, so the
 *     release's end, the next command (`stopLeft` as the backend opens) and `flotilla down` find it;
 *   - it runs under a small guard (the recorded pid, leading the process group) that SIGKILLs the
 *     group as soon as the orchestrator that started it is gone, so a `kill -9` of the
 *     orchestrator takes it down too, with no later command needed.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FaultSpec, LocalTarget } from '../../config/types.ts';
import { type HealthFault, serviceEnvironment } from '../../core/service-env.ts';
import type { NewHostLaunch, NewHostLauncher, NewHostRef, NewHostRequest } from '../../ports/new-host.ts';
import { processCwd, processRunning, stopPid } from './os-process.ts';
import { sparePorts } from './ports.ts';
import { httpAnswers, lastLogLine } from './process-fleet.ts';

export interface LocalNewHostsOptions {
  stateDir: string;
  /** How long the new host may take to answer HTTP on its port (the regions' readiness timeout). */
  readinessTimeoutMs: number;
  /** Ports the config gives its regions: never handed to a new host, even while a region is down. */
  reservedPorts?: readonly number[];
  log?: (line: string) => void;
}

const DIR = 'new-hosts';
const SAFE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/**
 * Runs `argv[2..]` as its child in the same process group and SIGKILLs the group once the
 * orchestrator (argv[1]) is gone; exits as its child does. CommonJS, for `node -e`.
 */
const GUARD = `
const { spawn } = require('node:child_process');
const [orchestrator, command, ...args] = process.argv.slice(1);
const child = spawn(command, args, { stdio: 'inherit' });
const killGroup = () => { try { process.kill(-process.pid, 'SIGKILL'); } catch { process.exit(137); } };
child.on('error', (error) => { console.error('could not start ' + command + ': ' + error.message); process.exit(127); });
child.on('exit', (code, signal) => process.exit(code === null ? 128 : code));
process.on('SIGTERM', () => { child.kill('SIGTERM'); setTimeout(killGroup, 5000).unref(); });
setInterval(() => { try { process.kill(Number(orchestrator), 0); } catch { killGroup(); } }, 200);
`;

interface Recorded {
  pid: number;
  port: number;
  region: string;
  version: string;
  releaseId: string;
  wave: number;
  cwd: string;
}

export class LocalNewHosts implements NewHostLauncher {
  readonly #stateDir: string;
  readonly #readinessTimeoutMs: number;
  readonly #reserved: ReadonlySet<number>;
  readonly #log: (line: string) => void;

  constructor(options: LocalNewHostsOptions) {
    this.#stateDir = path.resolve(options.stateDir);
    this.#readinessTimeoutMs = options.readinessTimeoutMs;
    this.#reserved = new Set(options.reservedPorts ?? []);
    this.#log = options.log ?? (() => {});
  }

  async launch(request: NewHostRequest): Promise<NewHostLaunch> {
    const { region, target: given, revision, releaseId, wave, name } = request;
    if (given.kind !== 'local-process') {
      return { kind: 'unsupported', why: `the local backend starts no new host for a ${given.kind} target` };
    }
    const target: LocalTarget = given;
    if (!SAFE.test(region) || !SAFE.test(revision.version)) {
      return { kind: 'failed', message: `${region} ${revision.version}: not usable as directory names` };
    }
    const [command, ...args] = target.command;
    if (command === undefined) return { kind: 'failed', message: 'target.command is empty' };
    const regionDir = path.join(this.#stateDir, 'regions', region);
    const cwd = await realpath(path.join(regionDir, 'releases', revision.version)).catch(() => null);
    if (cwd === null) return { kind: 'failed', message: `${revision.version} is not staged in ${region}` };

    const port = await this.#sparePort();
    const faults = target.faults.filter(
      (f) => (f.on === 'deploy' || f.on === 'always') && (f.version === undefined || f.version === revision.version),
    );
    const healthFault = faults.find(
      (f): f is FaultSpec & { kind: HealthFault } =>
        f.kind === 'unhealthy' || f.kind === 'flapping' || f.kind === 'silent',
    );
    const fresh = faults.some((f) => f.kind === 'fresh-start');
    const env = serviceEnvironment({
      orchestrator: process.env,
      targetEnv: target.env,
      ...(target.passEnv ? { passEnv: target.passEnv } : {}),
      service: request.service,
      region,
      version: revision.version,
      port,
      ...(healthFault ? { healthFault: healthFault.kind } : {}),
      ...(fresh ? { startFault: 'fresh-start' as const } : {}),
    });

    const logsDir = path.join(regionDir, 'logs');
    await mkdir(logsDir, { recursive: true });
    const logFile = path.join(logsDir, `${revision.version}.new-host.log`);
    const handle = await open(logFile, 'a');
    let child: ReturnType<typeof spawn>;
    let logOffset: number;
    try {
      await handle.write(
        `--- ${new Date().toISOString()} ${name} for ${releaseId} wave ${wave + 1}: ${request.service} ${revision.version} on port ${port}` +
          `${fresh ? ' (fault: fresh-start)' : healthFault ? ` (fault: ${healthFault.kind})` : ''} ---\n`,
      );
      logOffset = (await handle.stat()).size;
      child = spawn(process.execPath, ['-e', GUARD, String(process.pid), command, ...args], {
        cwd,
        env,
        stdio: ['ignore', handle.fd, handle.fd],
        detached: true,
      });
    } finally {
      await handle.close();
    }
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ? `was killed by ${signal}` : `exited with code ${code}`));
      child.once('error', (error) => resolve(`could not start: ${error.message}`));
    });
    const pid = child.pid;
    if (pid === undefined) return { kind: 'failed', message: await exited };
    child.unref();
    const record: Recorded = { pid, port, region, version: revision.version, releaseId, wave, cwd };
    const file = this.#file(releaseId, wave);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(record)}\n`);
    this.#log(`${name}: started ${revision.version} as pid ${pid} on port ${port}`);

    const deadline = Date.now() + this.#readinessTimeoutMs;
    let gone: string | null = null;
    void exited.then((why) => {
      gone = why;
    });
    while (gone === null && Date.now() < deadline) {
      if (await httpAnswers(port, Math.min(1_000, Math.max(1, deadline - Date.now())))) break;
      await new Promise((ok) => setTimeout(ok, 50));
    }
    if (gone !== null || !(await httpAnswers(port, 500))) {
      const why = gone ?? `nothing answered HTTP on port ${port} within ${this.#readinessTimeoutMs} ms`;
      await this.#stopRecorded(record, file);
      const last = await lastLogLine(logFile, logOffset);
      return {
        kind: 'failed',
        message: `process ${why} before it was ready${last ? `: ${last}` : ''} (log: ${logFile})`,
      };
    }
    const probeTarget: LocalTarget = { ...target, port, faults: [] };
    return {
      kind: 'started',
      host: { name, region, wave, target: probeTarget, handle: { pid, port, releaseId, wave } },
      samples: [],
    };
  }

  async stop(host: Pick<NewHostRef, 'name' | 'region' | 'handle'>): Promise<void> {
    const { releaseId, wave } = host.handle;
    if (typeof releaseId !== 'string' || typeof wave !== 'number') return;
    const file = this.#file(releaseId, wave);
    const record = await readRecord(file);
    if (record) await this.#stopRecorded(record, file);
    this.#log(`${host.name}: torn down`);
  }

  async stopLeft(releaseId?: string): Promise<string[]> {
    const dir = path.join(this.#stateDir, DIR);
    const files = await readdir(dir).catch(() => [] as string[]);
    const stopped: string[] = [];
    for (const entry of files.filter((f) => f.endsWith('.json'))) {
      const file = path.join(dir, entry);
      const record = await readRecord(file);
      if (!record) {
        await rm(file, { force: true });
        continue;
      }
      if (releaseId !== undefined && record.releaseId !== releaseId) continue;
      if (await this.#stopRecorded(record, file)) stopped.push(`new host (${record.region})`);
    }
    return stopped;
  }

  /** Stops the recorded process when it is still ours (it runs from the staged copy), then forgets it. */
  async #stopRecorded(record: Recorded, file: string): Promise<boolean> {
    let stopped = false;
    if ((await processRunning(record.pid)) && (await processCwd(record.pid)) === record.cwd) {
      await stopPid(record.pid);
      stopped = true;
    }
    await rm(file, { force: true });
    return stopped;
  }

  #file(releaseId: string, wave: number): string {
    return path.join(this.#stateDir, DIR, `${encodeURIComponent(releaseId)}.${wave}.json`);
  }

  async #sparePort(): Promise<number> {
    const [port] = await sparePorts(1, { avoid: this.#reserved });
    return port as number;
  }
}

async function readRecord(file: string): Promise<Recorded | null> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<Recorded>;
    return typeof parsed.pid === 'number' && typeof parsed.cwd === 'string' ? (parsed as Recorded) : null;
  } catch {
    return null;
  }
}
