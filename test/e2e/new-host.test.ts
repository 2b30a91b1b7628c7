/**
 * The new-host gate on the real ASL, the local engine and real processes: after each wave deploys,
 * one fresh process of the new build starts from the staged release on a spare port and is gated
 * on with the regions. The `fresh-start` fault (the build dies only on a fresh host) fails that
 * gate and rolls back every touched region while every region's own steady-state probes are
 * green; without the check the same release ships. A healthy new host passes and is torn down.
 */
import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { createCheckGate } from '../../functions/check-gate.ts';
import { createStartBake } from '../../functions/start-bake.ts';
import type { Stamped } from '../../ports/events.ts';
import type { NewHostLaunch, NewHostLauncher } from '../../ports/new-host.ts';
import { e2eConfig, GOOD_BUILD, recordedPids, servedVersion, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function backendFor(config: FlotillaConfig, launcher?: NewHostLauncher) {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const events: Stamped[] = [];
  const backend = await openLocalBackend({
    stateDir: dir,
    config,
    events: { emit: (e) => void events.push(e) },
    // Another platform's launcher in the gate's two handlers (as an AWS backend would wire its own).
    ...(launcher
      ? {
          functionOverrides: {
            'start-bake': (deps) => createStartBake({ ...deps, newHosts: launcher }),
            'check-gate': (deps) => createCheckGate({ ...deps, newHosts: launcher }),
          },
        }
      : {}),
  });
  open.push(backend);
  return { backend, events, stateDir: dir };
}

/** Two waves; `fresh-start` for 1.1.0 in wave 2's eu-west-1 when asked. */
async function twoWaves(faulty: boolean) {
  return e2eConfig([
    [{ name: 'us-east-1', currency: 'USD' }],
    [
      {
        name: 'eu-west-1',
        currency: 'USD',
        faults: faulty ? [{ kind: 'fresh-start', on: 'deploy', version: '1.1.0' }] : [],
      },
      { name: 'us-west-2', currency: 'USD' },
    ],
  ]);
}

const portOf = (config: FlotillaConfig, region: string) => {
  const target = config.regions.find((r) => r.name === region)?.target;
  if (target?.kind !== 'local-process') throw new Error(region);
  return target.port;
};

/** Every process whose working directory is under the state dir (region processes and anything else). */
async function processesUnder(stateDir: string): Promise<number[]> {
  const base = await realpath(stateDir);
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => '');
    if (cwd.startsWith(`${base}/`)) pids.push(Number(entry));
  }
  return pids.sort();
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The ports the new hosts were started on, from their log headers. */
async function newHostPorts(stateDir: string): Promise<number[]> {
  const ports: number[] = [];
  for (const region of await readdir(join(stateDir, 'regions'))) {
    const logs = await readdir(join(stateDir, 'regions', region, 'logs')).catch(() => [] as string[]);
    for (const log of logs.filter((l) => l.endsWith('.new-host.log'))) {
      const text = await readFile(join(stateDir, 'regions', region, 'logs', log), 'utf8');
      for (const m of text.matchAll(/^--- .* on port (\d+)/gm)) ports.push(Number(m[1]));
    }
  }
  return ports;
}

const gates = (events: Stamped[]) => events.flatMap((e) => (e.kind === 'gate' ? [e] : []));

describe('the new-host gate', () => {
  it('fails on a build that breaks only on a fresh host, and rolls back every touched region, while the regions are green', async () => {
    const config = await twoWaves(true);
    const { backend, events, stateDir } = await backendFor(config);
    expect(await backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    events.length = 0;

    const outcome = await backend.release({ version: '1.1.0', artifact: GOOD_BUILD });
    expect(outcome.status).toBe('ROLLED_BACK');
    expect(outcome.reason).toContain('new host (eu-west-1)');

    // Every region deployed 1.1.0 and passed its own verification; the only failing signal is the new host's.
    const deployed = events.flatMap((e) => (e.kind === 'region' && e.state === 'deployed' ? [e.region] : []));
    expect(deployed.sort()).toEqual(['eu-west-1', 'us-east-1', 'us-west-2']);
    const failed = gates(events).find((g) => g.evaluation.kind === 'Failed');
    expect(failed?.wave).toBe(1);
    expect(failed?.evaluation).toEqual({
      kind: 'Failed',
      signals: [
        expect.stringMatching(
          /^new host \(eu-west-1\): deployment failed: a fresh start of the new build failed: .*fresh-start fault/,
        ),
      ],
    });
    expect(failed?.regions).toEqual(['us-east-1', 'eu-west-1', 'us-west-2']);
    // Wave 1's own new host (us-east-1, no fault) passed.
    expect(gates(events).find((g) => g.wave === 0 && g.evaluation.kind === 'Passed')?.newHosts).toEqual([
      'new host (us-east-1)',
    ]);
    const rollback = events.find((e) => e.kind === 'rollback-started');
    expect(rollback?.kind === 'rollback-started' && [...rollback.regions].sort()).toEqual([
      'eu-west-1',
      'us-east-1',
      'us-west-2',
    ]);
    for (const region of ['us-east-1', 'eu-west-1', 'us-west-2']) {
      expect(await servedVersion(portOf(config, region)), region).toBe('1.0.0');
    }
    // Nothing is left of the new hosts: no record, no process but the regions' own.
    expect(await readdir(join(stateDir, 'new-hosts')).catch(() => [])).toEqual([]);
    expect(await processesUnder(stateDir)).toEqual([...(await recordedPids(stateDir)).values()].sort());
  });

  it('lets the same build through without the check: the steady-state probes alone miss it', async () => {
    const config = await twoWaves(true);
    config.waves = config.waves.map((w) => ({ ...w, newHost: false }));
    const { backend } = await backendFor(config);
    expect(await backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    expect(await backend.release({ version: '1.1.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    expect(await servedVersion(portOf(config, 'eu-west-1'))).toBe('1.1.0');
  });

  it('passes a healthy build with a new host per wave, torn down after each gate: no process left, its port free', async () => {
    const config = await twoWaves(false);
    const { backend, events, stateDir } = await backendFor(config);
    const outcome = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    const passed = gates(events).filter((g) => g.evaluation.kind === 'Passed');
    expect(passed.map((g) => [g.wave, g.newHosts])).toEqual([
      [0, ['new host (us-east-1)']],
      [1, ['new host (eu-west-1)']],
    ]);
    const ports = await newHostPorts(stateDir);
    expect(ports).toHaveLength(2);
    for (const port of ports) expect(await portFree(port), `port ${port}`).toBe(true);
    expect(await readdir(join(stateDir, 'new-hosts')).catch(() => [])).toEqual([]);
    expect(await processesUnder(stateDir)).toEqual([...(await recordedPids(stateDir)).values()].sort());
  });

  it('judges a new host with nothing to probe (a cold invocation) by its launch alone: passed, or failed', async () => {
    // A Lambda-like launcher: one answer at launch, no host to probe after (1 sample < minSamples 3).
    const stopped: string[] = [];
    const launcherThat = (launch: NewHostLaunch): NewHostLauncher => ({
      launch: async () => launch,
      stop: async (host) => void stopped.push(host.name),
    });
    const host = (name: string) => ({ name, region: 'us-east-1', wave: 0, handle: { function: 'f', version: '7' } });
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    const ok = await backendFor(
      config,
      launcherThat({ kind: 'started', host: host('new host (us-east-1)'), samples: [{ kind: 'ok' }] }),
    );
    expect(await ok.backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    expect(gates(ok.events).find((g) => g.evaluation.kind === 'Passed')?.newHosts).toEqual(['new host (us-east-1)']);
    expect(stopped).toEqual(['new host (us-east-1)']);

    const bad = await backendFor(
      await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]),
      launcherThat({ kind: 'failed', message: 'a cold invocation of f:7 failed (Unhandled): boom' }),
    );
    const outcome = await bad.backend.release({ version: '1.0.0', artifact: GOOD_BUILD });
    expect(outcome.status).toBe('ROLLED_BACK');
    expect(outcome.reason).toContain(
      'new host (us-east-1): deployment failed: a fresh start of the new build failed: a cold invocation',
    );
  });
});
