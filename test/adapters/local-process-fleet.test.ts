import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpHealthProber } from '../../adapters/local/http-prober.ts';
import { LocalProcessFleet } from '../../adapters/local/process-fleet.ts';
import type { FaultSpec, GateSettings, LocalTarget } from '../../config/types.ts';
import type { DeploymentRequest, DeploymentStatus } from '../../ports/region-deployer.ts';
import { freePorts } from '../helpers/local.ts';

const builds = path.resolve(import.meta.dirname, '../../examples/shop/builds');
const good = path.join(builds, 'good');
const broken = path.join(builds, 'broken');

/** The fleet finds a deployment by id; the target only matters to adapters that call a platform. */
const anyTarget: LocalTarget = { kind: 'local-process', port: 1, command: ['true'], env: {}, faults: [] };

const gate: GateSettings = {
  healthPath: '/health',
  probes: 3,
  intervalSeconds: 1,
  maxErrorRate: 0,
  minSamples: 1,
  probeTimeoutMs: 1000,
  probeSpacingMs: 10,
  bakeSeconds: 1,
  onInconclusive: 'rollback',
};

async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no port');
  return port;
}

async function localTarget(options: { env?: Record<string, string>; faults?: FaultSpec[] } = {}): Promise<LocalTarget> {
  return {
    kind: 'local-process',
    port: await freePort(),
    command: [process.execPath, 'server.js'],
    env: options.env ?? { CURRENCY: 'USD', LOCALE: 'en-US' },
    faults: options.faults ?? [],
  };
}

function request(
  target: LocalTarget,
  version: string | null,
  artifact = good,
  purpose: DeploymentRequest['purpose'] = 'deploy',
): DeploymentRequest {
  return {
    service: 'shop',
    releaseId: 'r-1',
    region: 'eu-west-1',
    target,
    purpose,
    revision: version === null ? null : { version, artifact },
  };
}

async function getJson(port: number, urlPath = '/health'): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}${urlPath}`);
  return { status: res.status, body: await res.json() };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let stateDir: string;
let fleet: LocalProcessFleet;

async function deploy(req: DeploymentRequest): Promise<DeploymentStatus> {
  const { deploymentId } = await fleet.startDeployment(req);
  for (;;) {
    const status = await fleet.getDeployment({ region: req.region, target: anyTarget, deploymentId });
    if (status.status !== 'InProgress') return status;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-fleet-'));
  fleet = new LocalProcessFleet({ stateDir, readinessTimeoutMs: 5_000 });
});

afterEach(async () => {
  await fleet.stopAll();
  await rm(stateDir, { recursive: true, force: true });
});

describe('LocalProcessFleet', () => {
  it('deploys the good build: Succeeded, /health reports the version, current points at the release', async () => {
    const target = await localTarget();
    const { deploymentId } = await fleet.startDeployment(request(target, '1.0.0'));
    expect(await fleet.getDeployment({ region: 'eu-west-1', target: anyTarget, deploymentId })).toEqual({
      status: 'InProgress',
    });
    let status = await fleet.getDeployment({ region: 'eu-west-1', target: anyTarget, deploymentId });
    while (status.status === 'InProgress') {
      await new Promise((resolve) => setTimeout(resolve, 25));
      status = await fleet.getDeployment({ region: 'eu-west-1', target: anyTarget, deploymentId });
    }
    expect(status).toEqual({ status: 'Succeeded' });

    expect(await getJson(target.port)).toEqual({
      status: 200,
      body: { status: 'ok', version: '1.0.0', region: 'eu-west-1' },
    });
    const regionDir = path.join(stateDir, 'regions', 'eu-west-1');
    expect(await realpath(path.join(regionDir, 'current'))).toBe(
      await realpath(path.join(regionDir, 'releases', '1.0.0')),
    );
    expect(await fleet.currentVersion('eu-west-1')).toBe('1.0.0');
    const log = await readFile(path.join(regionDir, 'logs', '1.0.0.log'), 'utf8');
    expect(log).toContain(`listening on 127.0.0.1:${target.port}`);
  });

  it('replaces the running process on a redeploy and re-uses a staged release', async () => {
    const target = await localTarget();
    expect(await deploy(request(target, '1.0.0'))).toEqual({ status: 'Succeeded' });
    const firstPid = fleet.pid('eu-west-1');
    expect(firstPid).not.toBeNull();

    expect(await deploy(request(target, '1.1.0', broken))).toEqual({ status: 'Succeeded' });
    expect(firstPid !== null && isAlive(firstPid)).toBe(false);
    expect(fleet.pid('eu-west-1')).not.toBe(firstPid);
    expect((await getJson(target.port)).body).toMatchObject({ version: '1.1.0' });
    expect(await fleet.currentVersion('eu-west-1')).toBe('1.1.0');

    // Back to 1.0.0: already staged, the copy is skipped (a file added to the release survives).
    const releaseDir = path.join(stateDir, 'regions', 'eu-west-1', 'releases', '1.0.0');
    await writeFile(path.join(releaseDir, 'left-alone.txt'), 'x');
    expect(await deploy(request(target, '1.0.0', good, 'rollback'))).toEqual({ status: 'Succeeded' });
    expect((await getJson(target.port)).body).toMatchObject({ version: '1.0.0' });
    expect(await readFile(path.join(releaseDir, 'left-alone.txt'), 'utf8')).toBe('x');
  });

  it('serializes deployments in one region', async () => {
    const target = await localTarget();
    const first = await fleet.startDeployment(request(target, '1.0.0'));
    const second = await fleet.startDeployment(request(target, '1.0.1'));
    expect(
      await fleet.getDeployment({ region: 'eu-west-1', target: anyTarget, deploymentId: second.deploymentId }),
    ).toEqual({ status: 'InProgress' });
    let status = await fleet.getDeployment({
      region: 'eu-west-1',
      target: anyTarget,
      deploymentId: second.deploymentId,
    });
    while (status.status === 'InProgress') {
      await new Promise((resolve) => setTimeout(resolve, 25));
      status = await fleet.getDeployment({ region: 'eu-west-1', target: anyTarget, deploymentId: second.deploymentId });
    }
    expect(status).toEqual({ status: 'Succeeded' });
    expect(
      await fleet.getDeployment({ region: 'eu-west-1', target: anyTarget, deploymentId: first.deploymentId }),
    ).toEqual({ status: 'Succeeded' });
    expect((await getJson(target.port)).body).toMatchObject({ version: '1.0.1' });
  });

  it('removes the service from a region', async () => {
    const target = await localTarget();
    expect(await deploy(request(target, '1.0.0'))).toEqual({ status: 'Succeeded' });
    const pid = fleet.pid('eu-west-1');
    expect(await deploy(request(target, null, good, 'rollback'))).toEqual({ status: 'Succeeded' });
    expect(pid !== null && isAlive(pid)).toBe(false);
    expect(fleet.pid('eu-west-1')).toBeNull();
    expect(await fleet.currentVersion('eu-west-1')).toBeNull();
    await expect(fetch(`http://127.0.0.1:${target.port}/health`)).rejects.toThrow();
  });

  it('tells its listener as each deployment ends, once its final status can be read (how a waiting child is woken locally)', async () => {
    const ended: { deploymentId: string; region: string; status: DeploymentStatus }[] = [];
    const listened = new LocalProcessFleet({
      stateDir,
      readinessTimeoutMs: 5_000,
      onDeploymentEnd: async (deploymentId, region) => {
        ended.push({
          deploymentId,
          region,
          status: await listened.getDeployment({ region, target: anyTarget, deploymentId }),
        });
      },
    });
    try {
      const target = await localTarget();
      const ok = await listened.startDeployment(request(target, '1.0.0'));
      const faulty = {
        ...target,
        faults: [{ kind: 'deploy-fail', on: 'deploy', version: '1.1.0', ms: 0 }] as FaultSpec[],
      };
      const failed = await listened.startDeployment(request(faulty, '1.1.0', broken));
      expect(ended).toEqual([]);
      const deadline = Date.now() + 10_000;
      while (ended.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(ended).toEqual([
        { deploymentId: ok.deploymentId, region: 'eu-west-1', status: { status: 'Succeeded' } },
        {
          deploymentId: failed.deploymentId,
          region: 'eu-west-1',
          status: { status: 'Failed', message: 'eu-west-1: injected deploy failure', untouched: true },
        },
      ]);
    } finally {
      await listened.stopAll();
    }
  });

  it('reports unknown deployments as DeploymentNotFound', async () => {
    await expect(
      fleet.getDeployment({ region: 'eu-west-1', target: anyTarget, deploymentId: 'nope' }),
    ).rejects.toMatchObject({ name: 'DeploymentNotFound' });
  });

  it('deploy-fail fails the deployment and leaves the old version serving', async () => {
    const target = await localTarget();
    expect(await deploy(request(target, '1.0.0'))).toEqual({ status: 'Succeeded' });
    const pid = fleet.pid('eu-west-1');
    const faulty = {
      ...target,
      faults: [{ kind: 'deploy-fail', on: 'deploy', version: '1.1.0', ms: 0 }] as FaultSpec[],
    };
    const status = await deploy(request(faulty, '1.1.0', broken));
    expect(status).toEqual({ status: 'Failed', message: 'eu-west-1: injected deploy failure', untouched: true });
    expect(fleet.pid('eu-west-1')).toBe(pid);
    expect((await getJson(target.port)).body).toMatchObject({ version: '1.0.0' });
    expect(await fleet.currentVersion('eu-west-1')).toBe('1.0.0');
  });

  it('crash-after-start: the deployment succeeds, then probes find the process gone', async () => {
    const target = await localTarget({ faults: [{ kind: 'crash-after-start', on: 'deploy', ms: 300 }] });
    expect(await deploy(request(target, '1.0.0'))).toEqual({ status: 'Succeeded' });
    const prober = new HttpHealthProber();
    const before = await prober.probe({ region: 'eu-west-1', target, expectedVersion: '1.0.0', gate, count: 1 });
    expect(before).toEqual([{ kind: 'ok', status: 200, version: '1.0.0' }]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await prober.probe({ region: 'eu-west-1', target, expectedVersion: '1.0.0', gate, count: 2 });
    expect(after).toHaveLength(2);
    for (const sample of after) expect(sample).toMatchObject({ kind: 'error', message: /connection refused/ });
    expect(fleet.pid('eu-west-1')).toBeNull();
  });

  it('slow-start still succeeds within the readiness timeout', async () => {
    const target = await localTarget({ faults: [{ kind: 'slow-start', on: 'always', ms: 400 }] });
    const started = Date.now();
    expect(await deploy(request(target, '1.0.0'))).toEqual({ status: 'Succeeded' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect((await getJson(target.port)).status).toBe(200);
  });

  it('slow-start beyond the readiness timeout fails', async () => {
    fleet = new LocalProcessFleet({ stateDir, readinessTimeoutMs: 300 });
    const target = await localTarget({ faults: [{ kind: 'slow-start', on: 'deploy', ms: 2_000 }] });
    const status = await deploy(request(target, '1.0.0'));
    expect(status).toMatchObject({ status: 'Failed', message: /not ready within 300 ms/ });
  });

  it('a process that exits at start fails the deployment, naming the exit and its last words', async () => {
    const build = path.join(stateDir, 'crashing-build');
    await mkdir(build);
    await writeFile(
      path.join(build, 'server.js'),
      "console.log('booting');\nconsole.error('config error: DATABASE_URL is not set');\nprocess.exit(3);\n",
    );
    const target = await localTarget();
    const status = await deploy(request(target, '2.0.0', build));
    expect(status.status).toBe('Failed');
    expect(status).toMatchObject({
      message: expect.stringMatching(
        /^eu-west-1: process exited with code 3 before it was ready: config error: DATABASE_URL is not set/,
      ),
    });
    expect(fleet.pid('eu-west-1')).toBeNull();
  });

  it('an exception at start is summarized by its error line', async () => {
    const build = path.join(stateDir, 'throwing-build');
    await mkdir(build);
    await writeFile(path.join(build, 'server.js'), "throw new TypeError('bad config');\n");
    const status = await deploy(request(await localTarget(), '2.0.0', build));
    expect(status).toMatchObject({
      status: 'Failed',
      message: expect.stringContaining('process exited with code 1 before it was ready: TypeError: bad config'),
    });
  });

  it('a missing build directory fails clearly', async () => {
    const status = await deploy(request(await localTarget(), '1.0.0', '/nonexistent/build'));
    expect(status).toEqual({
      status: 'Failed',
      message: 'eu-west-1: build directory /nonexistent/build does not exist',
      untouched: true,
    });
  });

  it('a log that cannot be opened fails the deploy clearly, while the old process keeps serving', async () => {
    const target = await localTarget();
    expect(await deploy(request(target, '1.0.0'))).toEqual({ status: 'Succeeded' });
    const pid = fleet.pid('eu-west-1');
    // The logs directory replaced by a file: the new version's log cannot be made.
    const logs = path.join(stateDir, 'regions', 'eu-west-1', 'logs');
    await rm(logs, { recursive: true, force: true });
    await writeFile(logs, 'not a directory');
    const status = await deploy(request(target, '1.1.0'));
    expect(status).toEqual({
      status: 'Failed',
      message: expect.stringMatching(/^eu-west-1: cannot open the log .*\/logs\/1\.1\.0\.log: EEXIST/),
      untouched: true,
    });
    // The old process was not stopped for a start that could not happen.
    expect(fleet.pid('eu-west-1')).toBe(pid);
    expect((await getJson(target.port)).body).toMatchObject({ version: '1.0.0' });
  });

  it('a port taken by a foreign server fails clearly instead of starting', async () => {
    const foreign = http.createServer((_req, res) => res.end('not ours'));
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    try {
      const address = foreign.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const target = { ...(await localTarget()), port: address.port };
      const status = await deploy(request(target, '1.0.0'));
      expect(status).toEqual({
        status: 'Failed',
        message: `eu-west-1: port ${address.port} already in use by another process`,
      });
      expect(fleet.pid('eu-west-1')).toBeNull();
    } finally {
      await new Promise((resolve) => foreign.close(resolve));
    }
  });

  it('the broken build fails its health check for EUR only', async () => {
    const eur = await localTarget({ env: { CURRENCY: 'EUR', LOCALE: 'de-DE' } });
    const usd = await localTarget({ env: { CURRENCY: 'USD', LOCALE: 'en-US' } });
    const [a, b] = await Promise.all([
      deploy({ ...request(eur, '1.1.0', broken), region: 'eu-central-1' }),
      deploy({ ...request(usd, '1.1.0', broken), region: 'us-east-1' }),
    ]);
    expect(a).toEqual({ status: 'Succeeded' });
    expect(b).toEqual({ status: 'Succeeded' });
    const eurHealth = await getJson(eur.port);
    expect(eurHealth.status).toBe(500);
    expect(eurHealth.body).toMatchObject({ status: 'error', version: '1.1.0', region: 'eu-central-1' });
    expect(JSON.stringify(eurHealth.body)).toContain('TypeError');
    expect(await getJson(usd.port)).toEqual({
      status: 200,
      body: { status: 'ok', version: '1.1.0', region: 'us-east-1' },
    });
  });

  it('the good build is healthy in EUR and prints euro prices', async () => {
    const eur = await localTarget({ env: { CURRENCY: 'EUR', LOCALE: 'de-DE' } });
    expect(await deploy(request(eur, '1.0.0'))).toEqual({ status: 'Succeeded' });
    expect((await getJson(eur.port)).status).toBe(200);
    const page = await (await fetch(`http://127.0.0.1:${eur.port}/`)).text();
    expect(page).toContain('24,50\u00a0€');
  });

  it('ensureRunning restarts the current release after the orchestrator restarted', async () => {
    const target = await localTarget();
    expect(await deploy(request(target, '1.0.0'))).toEqual({ status: 'Succeeded' });
    await fleet.stopAll();
    await expect(fetch(`http://127.0.0.1:${target.port}/health`)).rejects.toThrow();

    const restarted = new LocalProcessFleet({ stateDir, readinessTimeoutMs: 5_000 });
    try {
      expect(await restarted.currentVersion('eu-west-1')).toBe('1.0.0');
      await restarted.ensureRunning('shop', 'eu-west-1', target, '1.0.0');
      const pid = restarted.pid('eu-west-1');
      expect((await getJson(target.port)).body).toMatchObject({ version: '1.0.0' });
      await restarted.ensureRunning('shop', 'eu-west-1', target, '1.0.0');
      expect(restarted.pid('eu-west-1')).toBe(pid);
      await expect(restarted.ensureRunning('shop', 'us-east-1', target, '1.0.0')).rejects.toThrow(
        /us-east-1: no current release/,
      );
    } finally {
      await restarted.stopAll();
    }
  });

  it('stopAll leaves no process behind', async () => {
    const a = await localTarget();
    const b = await localTarget();
    await Promise.all([
      deploy({ ...request(a, '1.0.0'), region: 'a' }),
      deploy({ ...request(b, '1.0.0'), region: 'b' }),
    ]);
    const pids = [fleet.pid('a'), fleet.pid('b')];
    expect(pids.every((pid) => pid !== null && isAlive(pid))).toBe(true);
    await fleet.stopAll();
    expect(pids.some((pid) => pid !== null && isAlive(pid))).toBe(false);
  });
});
