/**
 * The local new host: one more real process of the new build from the region's staged release,
 * on a spare port, with the region's clean environment; torn down leaving no process and a free
 * port; never left behind by an orchestrator killed with SIGKILL. Real processes, real files.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalNewHosts } from '../../adapters/local/new-host.ts';
import type { FaultSpec, LocalTarget } from '../../config/types.ts';
import type { NewHostRequest } from '../../ports/new-host.ts';
import { gate } from '../helpers/fixtures.ts';
import { GOOD_BUILD, running, servedVersion } from '../helpers/local.ts';

let dir: string;
let stateDir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-new-host-'));
  stateDir = path.join(dir, 'state');
  // The build as staging ahead leaves it in the region.
  await mkdir(path.join(stateDir, 'regions', 'eu-west-1', 'releases'), { recursive: true });
  await cp(GOOD_BUILD, path.join(stateDir, 'regions', 'eu-west-1', 'releases', '1.1.0'), { recursive: true });
});
afterEach(async () => {
  await new LocalNewHosts({ stateDir, readinessTimeoutMs: 1 }).stopLeft();
  await rm(dir, { recursive: true, force: true });
});

const target = (faults: FaultSpec[] = []): LocalTarget => ({
  kind: 'local-process',
  port: 1,
  command: [process.execPath, 'server.js'],
  env: { CURRENCY: 'EUR', LOCALE: 'de-DE' },
  faults,
});

const request = (t: LocalTarget, version = '1.1.0'): NewHostRequest => ({
  service: 'shop',
  releaseId: 'shop-1.1.0-1',
  wave: 1,
  region: 'eu-west-1',
  name: 'new host (eu-west-1)',
  target: t,
  revision: { version, artifact: GOOD_BUILD },
  gate: gate(),
  readinessTimeoutMs: 10_000,
});

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (!(await running(pid))) return true;
    await new Promise((ok) => setTimeout(ok, 25));
  }
  return false;
}

const recorded = async () => readdir(path.join(stateDir, 'new-hosts')).catch(() => [] as string[]);

describe('LocalNewHosts', () => {
  it("starts the staged build on a spare port with the region's clean environment, and tears it down", async () => {
    const hosts = new LocalNewHosts({ stateDir, readinessTimeoutMs: 10_000, reservedPorts: [7101] });
    const launch = await hosts.launch(request(target()));
    if (launch.kind !== 'started') throw new Error(`not started: ${JSON.stringify(launch)}`);
    const { port, pid } = launch.host.handle as { port: number; pid: number };
    expect(launch.host.target).toMatchObject({ kind: 'local-process', port });
    expect(port).not.toBe(7101);
    expect(await servedVersion(port)).toBe('1.1.0');
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    const env = Object.fromEntries(
      environ
        .split('\0')
        .filter(Boolean)
        .map((e) => e.split(/=(.*)/s).slice(0, 2)),
    );
    expect(env).toMatchObject({ FLOTILLA_REGION: 'eu-west-1', FLOTILLA_VERSION: '1.1.0', PORT: String(port) });
    expect(env.CURRENCY).toBe('EUR');
    expect(
      Object.keys(env).filter(
        (k) => !['PATH', 'CURRENCY', 'LOCALE'].includes(k) && !k.startsWith('FLOTILLA_') && k !== 'PORT',
      ),
    ).toEqual([]);
    expect(await recorded()).toHaveLength(1);

    await hosts.stop(launch.host);
    expect(await running(pid)).toBe(false);
    expect(await portFree(port)).toBe(true);
    expect(await recorded()).toEqual([]);
    await hosts.stop(launch.host); // idempotent
  });

  it('reports a build that dies on a fresh start (the fresh-start fault) as failed, leaving nothing running', async () => {
    const hosts = new LocalNewHosts({ stateDir, readinessTimeoutMs: 10_000 });
    const launch = await hosts.launch(request(target([{ kind: 'fresh-start', on: 'deploy', ms: 0 }])));
    expect(launch).toEqual({
      kind: 'failed',
      message: expect.stringMatching(/exited with code 1 before it was ready: Error: fresh-start fault/),
    });
    expect(await recorded()).toEqual([]);
  });

  it('applies the fault only to the version it names, and refuses a build that is not staged', async () => {
    const hosts = new LocalNewHosts({ stateDir, readinessTimeoutMs: 10_000 });
    const other = await hosts.launch(request(target([{ kind: 'fresh-start', on: 'deploy', version: '9.9.9', ms: 0 }])));
    expect(other.kind).toBe('started');
    if (other.kind === 'started') await hosts.stop(other.host);
    expect(await hosts.launch(request(target(), '2.0.0'))).toEqual({
      kind: 'failed',
      message: '2.0.0 is not staged in eu-west-1',
    });
  });

  it('goes with an orchestrator killed by SIGKILL, and stopLeft forgets what is left recorded', async () => {
    // An orchestrator of its own: a Node process that launches the host, prints its pid and port, and waits.
    const script = `
      import { LocalNewHosts } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../adapters/local/new-host.ts'))};
      const hosts = new LocalNewHosts({ stateDir: ${JSON.stringify(stateDir)}, readinessTimeoutMs: 10000 });
      const launch = await hosts.launch(${JSON.stringify(request(target()))});
      console.log(JSON.stringify(launch.host.handle));
      setInterval(() => {}, 1000);
    `;
    const orchestrator = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const handle = await new Promise<{ pid: number; port: number }>((resolve, reject) => {
      orchestrator.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString())));
      orchestrator.once('exit', () => reject(new Error('orchestrator exited early')));
    });
    expect(await servedVersion(handle.port)).toBe('1.1.0');
    orchestrator.kill('SIGKILL');
    expect(await waitGone(handle.pid)).toBe(true);
    for (let i = 0; i < 100 && !(await portFree(handle.port)); i++) await new Promise((ok) => setTimeout(ok, 25));
    expect(await portFree(handle.port)).toBe(true);
    // Its record stays until the next command looks: stopLeft stops nothing (it is gone) and forgets it.
    expect(await recorded()).toHaveLength(1);
    expect(await new LocalNewHosts({ stateDir, readinessTimeoutMs: 1 }).stopLeft()).toEqual([]);
    expect(await recorded()).toEqual([]);
  });

  it('stopLeft stops a recorded new host still up, of one release or of all', async () => {
    const hosts = new LocalNewHosts({ stateDir, readinessTimeoutMs: 10_000 });
    const launch = await hosts.launch(request(target()));
    if (launch.kind !== 'started') throw new Error('not started');
    const { pid } = launch.host.handle as { pid: number };
    expect(await hosts.stopLeft('another-release')).toEqual([]);
    expect(await running(pid)).toBe(true);
    expect(await hosts.stopLeft('shop-1.1.0-1')).toEqual(['new host (eu-west-1)']);
    expect(await running(pid)).toBe(false);
  });
});
