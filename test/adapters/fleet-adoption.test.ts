/**
 * A fleet with keepServing leaves its region processes serving when it closes; the next fleet
 * adopts them, and stops (with `down`) only processes it verified as that region's own. A pid
 * file naming any other process (a reused pid) is never adopted nor signalled.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalProcessFleet } from '../../adapters/local/process-fleet.ts';
import type { LocalTarget } from '../../config/types.ts';
import { freePorts, GOOD_BUILD, running, servedVersion, tempDir } from '../helpers/local.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp(): Promise<{ stateDir: string; target: LocalTarget; fleet: () => LocalProcessFleet }> {
  const t = await tempDir('flotilla-adopt-');
  cleanups.push(t.cleanup);
  const [port] = await freePorts(1);
  const target: LocalTarget = {
    kind: 'local-process',
    port: port as number,
    command: [process.execPath, 'server.js'],
    env: { CURRENCY: 'USD' },
    faults: [],
  };
  const stateDir = path.join(t.dir, 'state');
  const fleet = () =>
    new LocalProcessFleet({ stateDir, readinessTimeoutMs: 10_000, keepServing: true, healthPath: '/health' });
  return { stateDir, target, fleet };
}

async function deployed(fleet: LocalProcessFleet, target: LocalTarget, version: string): Promise<void> {
  const { deploymentId } = await fleet.startDeployment({
    service: 'shop',
    releaseId: `shop-${version}`,
    region: 'eu-west-1',
    target,
    purpose: 'deploy',
    revision: { version, artifact: GOOD_BUILD },
  });
  const status = await fleet.awaitDeployment({ region: 'eu-west-1', target, deploymentId }, 30_000);
  expect(status).toEqual({ status: 'Succeeded' });
}

const pidFile = (stateDir: string) => path.join(stateDir, 'regions', 'eu-west-1', 'process.pid');

describe('a fleet that keeps its regions serving', () => {
  it('leaves them serving when it closes; the next fleet adopts them, and stopRecorded stops them', async () => {
    const { stateDir, target, fleet } = await setUp();
    const first = fleet();
    await deployed(first, target, '1.0.0');
    const pid = first.pid('eu-west-1') as number;
    await first.close();
    expect(await running(pid)).toBe(true);
    expect(await servedVersion(target.port)).toBe('1.0.0');

    const next = fleet();
    const report = await next.adoptRunning([{ region: 'eu-west-1', target }]);
    expect(report).toEqual({ adopted: [{ region: 'eu-west-1', pid, version: '1.0.0' }], stopped: [] });
    expect(next.pid('eu-west-1')).toBe(pid);
    expect(await next.liveness('eu-west-1', target)).toEqual({
      state: 'serving',
      pid,
      version: '1.0.0',
      healthy: true,
    });
    expect(await next.portConflicts([{ region: 'eu-west-1', target }])).toEqual([]);

    expect(await next.stopRecorded('test')).toEqual([{ region: 'eu-west-1', pid, version: '1.0.0', how: 'stopped' }]);
    expect(await running(pid)).toBe(false);
    expect(await readFile(pidFile(stateDir), 'utf8').catch(() => null)).toBeNull();
    expect(await next.liveness('eu-west-1', target)).toEqual({ state: 'down', portTaken: false });
    const log = await readFile(path.join(stateDir, 'regions', 'eu-west-1', 'logs', '1.0.0.log'), 'utf8');
    expect(log).toMatch(/stopped by flotilla down: test/);
  }, 60_000);

  it('never adopts nor signals a process that is not the region’s own, even one running from its releases', async () => {
    const { stateDir, target, fleet } = await setUp();
    const first = fleet();
    await deployed(first, target, '1.0.0');
    await first.stopRecorded();

    // Another program, started from the region's release directory, whose pid the file now names.
    const releaseDir = path.join(stateDir, 'regions', 'eu-west-1', 'releases', '1.0.0');
    const stranger: ChildProcess = spawn(
      process.execPath,
      [
        '-e',
        `require('http').createServer((q, s) => s.end('{"version":"1.0.0"}')).listen(${target.port}, '127.0.0.1')`,
      ],
      { cwd: releaseDir, env: { PATH: process.env.PATH ?? '' }, stdio: 'ignore' },
    );
    cleanups.push(async () => {
      stranger.kill('SIGKILL');
    });
    const strangerPid = stranger.pid as number;
    await writeFile(pidFile(stateDir), `${strangerPid}\n`);
    for (let i = 0; i < 200 && (await servedVersion(target.port)) === null; i++) {
      await new Promise((ok) => setTimeout(ok, 25));
    }

    const next = fleet();
    expect(await next.liveness('eu-west-1', target)).toEqual({ state: 'down', portTaken: true });
    expect(await next.adoptRunning([{ region: 'eu-west-1', target }])).toEqual({ adopted: [], stopped: [] });
    expect(next.pid('eu-west-1')).toBeNull();
    expect(await next.portConflicts([{ region: 'eu-west-1', target }])).toEqual([
      { region: 'eu-west-1', port: target.port },
    ]);
    await writeFile(pidFile(stateDir), `${strangerPid}\n`);
    expect(await next.stopRecorded()).toEqual([]);
    expect(await running(strangerPid)).toBe(true);
  }, 60_000);
});
