import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpHealthProber } from '../../adapters/local/http-prober.ts';
import { LocalProcessFleet } from '../../adapters/local/process-fleet.ts';
import type { FaultSpec, GateSettings, LocalTarget } from '../../config/types.ts';
import { freePorts } from '../helpers/local.ts';

const good = path.resolve(import.meta.dirname, '../../examples/shop/builds/good');

/** The fleet finds a deployment by id; the target only matters to adapters that call a platform. */
const anyTarget: LocalTarget = { kind: 'local-process', port: 1, command: ['true'], env: {}, faults: [] };

const gate: GateSettings = {
  healthPath: '/health',
  probes: 4,
  intervalSeconds: 1,
  maxErrorRate: 0,
  minSamples: 1,
  // Generous for the healthy processes, which share two cores with the rest of the suite; the
  // silent one is probed with a short timeout of its own.
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

async function localTarget(faults: FaultSpec[] = []): Promise<LocalTarget> {
  return {
    kind: 'local-process',
    port: await freePort(),
    command: [process.execPath, 'server.js'],
    env: { CURRENCY: 'USD' },
    faults,
  };
}

let stateDir: string;
let fleet: LocalProcessFleet;
const prober = new HttpHealthProber();
/** One shop process per health mode, deployed once for the whole file. */
const targets: Record<string, LocalTarget> = {};

function target(name: string): LocalTarget {
  const found = targets[name];
  if (!found) throw new Error(`no target ${name}`);
  return found;
}

async function deployShop(region: string, faults: FaultSpec[]): Promise<void> {
  const t = await localTarget(faults);
  const { deploymentId } = await fleet.startDeployment({
    service: 'shop',
    releaseId: 'r-1',
    region,
    target: t,
    purpose: 'deploy',
    revision: { version: '1.0.0', artifact: good },
  });
  for (;;) {
    const status = await fleet.getDeployment({ region: region, target: anyTarget, deploymentId });
    if (status.status === 'Failed') throw new Error(status.message);
    if (status.status === 'Succeeded') break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  targets[region] = t;
}

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-prober-'));
  fleet = new LocalProcessFleet({ stateDir, readinessTimeoutMs: 5_000 });
  await Promise.all([
    deployShop('healthy', []),
    deployShop('unhealthy', [{ kind: 'unhealthy', on: 'deploy', ms: 0 }]),
    deployShop('flapping', [{ kind: 'flapping', on: 'deploy', ms: 0 }]),
    deployShop('silent', [{ kind: 'silent', on: 'always', version: '1.0.0', ms: 0 }]),
  ]);
});

afterAll(async () => {
  await fleet?.stopAll();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('HttpHealthProber', () => {
  it('reports ok samples from a healthy process', async () => {
    const samples = await prober.probe({
      region: 'healthy',
      target: target('healthy'),
      expectedVersion: '1.0.0',
      gate,
      count: 3,
    });
    expect(samples).toEqual(Array(3).fill({ kind: 'ok', status: 200, version: '1.0.0' }));
  });

  it('accepts any version when none is expected', async () => {
    const samples = await prober.probe({
      region: 'healthy',
      target: target('healthy'),
      expectedVersion: null,
      gate,
      count: 1,
    });
    expect(samples).toEqual([{ kind: 'ok', status: 200, version: '1.0.0' }]);
  });

  it('reports a wrong version as an error', async () => {
    const samples = await prober.probe({
      region: 'healthy',
      target: target('healthy'),
      expectedVersion: '1.1.0',
      gate,
      count: 1,
    });
    expect(samples).toEqual([
      { kind: 'error', status: 200, version: '1.0.0', message: 'reports version 1.0.0, expected 1.1.0' },
    ]);
  });

  it('reports HTTP 500 as an error with the status', async () => {
    const samples = await prober.probe({
      region: 'unhealthy',
      target: target('unhealthy'),
      expectedVersion: '1.0.0',
      gate,
      count: 2,
    });
    expect(samples).toEqual(
      Array(2).fill({ kind: 'error', status: 500, version: '1.0.0', message: 'HTTP 500: unhealthy' }),
    );
  });

  it('reports a refused connection as an error', async () => {
    const t = { ...target('healthy'), port: await freePort() };
    const samples = await prober.probe({ region: 'nowhere', target: t, expectedVersion: '1.0.0', gate, count: 1 });
    expect(samples).toEqual([
      { kind: 'error', message: `connection refused on 127.0.0.1:${t.port} (nothing listening)` },
    ]);
  });

  it('reports no answer within the timeout as missing', async () => {
    const started = Date.now();
    const samples = await prober.probe({
      region: 'silent',
      target: target('silent'),
      expectedVersion: '1.0.0',
      gate: { ...gate, probeTimeoutMs: 200 },
      count: 2,
    });
    expect(samples).toEqual(Array(2).fill({ kind: 'missing', message: 'no answer within 200 ms' }));
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('sees a flapping process alternate between ok and error', async () => {
    const samples = await prober.probe({
      region: 'flapping',
      target: target('flapping'),
      expectedVersion: '1.0.0',
      gate,
      count: 4,
    });
    const kinds = samples.map((s) => s.kind);
    expect(['ok,error,ok,error', 'error,ok,error,ok']).toContain(kinds.join(','));
  });

  it('spaces the probes out', async () => {
    const started = Date.now();
    await prober.probe({
      region: 'healthy',
      target: target('healthy'),
      expectedVersion: '1.0.0',
      gate: { ...gate, probeSpacingMs: 100 },
      count: 3,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });

  it('reports an unparseable or versionless body as an error', async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.url === '/health' ? 'OK' : '{"status":"ok"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const t = { ...target('healthy'), port: address.port };
      expect(await prober.probe({ region: 'x', target: t, expectedVersion: null, gate, count: 1 })).toEqual([
        { kind: 'error', status: 200, message: 'HTTP 200 but the body is not JSON: OK' },
      ]);
      const other = { ...gate, healthPath: '/other' };
      expect(await prober.probe({ region: 'x', target: t, expectedVersion: null, gate: other, count: 1 })).toEqual([
        { kind: 'error', status: 200, message: 'HTTP 200 but the body has no version' },
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
