/** Helpers for end-to-end tests: temp state dirs, free ports, real HTTP checks. */
import { mkdtemp, readdir, readFile, readlink, realpath, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ephemeralPorts, SPARE_PORTS_FROM, sparePorts } from '../../adapters/local/ports.ts';
import type { FaultSpec, FlotillaConfig } from '../../config/types.ts';
import type { Stamped } from '../../ports/events.ts';

export const GOOD_BUILD = resolve(import.meta.dirname, '../../examples/shop/builds/good');
export const BROKEN_BUILD = resolve(import.meta.dirname, '../../examples/shop/builds/broken');

/**
 * A temporary directory; `cleanup` first stops every region process recorded under it (region
 * processes started by the CLI keep serving after it exits), then deletes it.
 */
export async function tempDir(prefix = 'flotilla-e2e-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return {
    dir,
    cleanup: async () => {
      await stopRegionProcesses(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The pids recorded in every `regions/<region>/process.pid` under `root`, by file. */
export async function recordedPids(root: string): Promise<Map<string, number>> {
  const files = (await readdir(root, { recursive: true }).catch(() => [] as string[])).filter(
    (f) => f.endsWith('/process.pid') && f.split('/').at(-3) === 'regions',
  );
  const pids = new Map<string, number>();
  for (const file of files) {
    const pid = Number((await readFile(join(root, file), 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0) pids.set(file, pid);
  }
  return pids;
}

/** Whether the process runs (a zombie, exited but never reaped, does not). */
export async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/**
 * SIGKILLs (with its group) each region process recorded under `root` that still runs from under
 * `root` (a pid may have been reused since), and waits until each is gone. Tests must not leak them.
 */
export async function stopRegionProcesses(root: string): Promise<number[]> {
  const base = await realpath(root).catch(() => root);
  const stopped: number[] = [];
  // And any new host (core/new-host.ts) left recorded in `new-hosts/*.json`.
  const hostFiles = (await readdir(root, { recursive: true }).catch(() => [] as string[])).filter(
    (f) => f.endsWith('.json') && f.split('/').at(-2) === 'new-hosts',
  );
  const hostPids: number[] = [];
  for (const file of hostFiles) {
    const text = await readFile(join(root, file), 'utf8').catch(() => '');
    const pid = Number(/"pid":(\d+)/.exec(text)?.[1]);
    if (Number.isInteger(pid) && pid > 0) hostPids.push(pid);
  }
  for (const pid of [...(await recordedPids(root)).values(), ...hostPids]) {
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (!cwd.startsWith(`${base}/`) || !(await running(pid))) continue;
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // Not a group leader, or gone.
      }
    }
    for (let i = 0; i < 500 && (await running(pid)); i++) await new Promise((ok) => setTimeout(ok, 20));
    stopped.push(pid);
  }
  return stopped;
}

/**
 * Free ports for a test's regions, below the ephemeral range (adapters/local/ports.ts: no other
 * test's client socket or `listen(0)` can take them meanwhile) and, under vitest, in a slice of that
 * range of this worker's own, so two test files running at once never pick the same port.
 */
export async function freePorts(n: number): Promise<number[]> {
  const pool = Number(process.env.VITEST_POOL_ID);
  if (!Number.isInteger(pool) || pool < 1) return sparePorts(n);
  const slices = 8;
  const width = Math.floor((ephemeralPorts().low - SPARE_PORTS_FROM) / slices);
  const from = SPARE_PORTS_FROM + ((pool - 1) % slices) * width;
  return sparePorts(n, { from, to: from + width });
}

export interface RegionSpec {
  name: string;
  currency: string;
  faults?: Partial<FaultSpec>[];
}

/** A small, fast config: bakes of 1 s, probes every second, real processes on free ports. */
export async function e2eConfig(
  waves: RegionSpec[][],
  over: Partial<FlotillaConfig['gate']> = {},
): Promise<FlotillaConfig> {
  const regions = waves.flat();
  const ports = await freePorts(regions.length);
  return {
    service: 'shop',
    regions: regions.map((r, i) => ({
      name: r.name,
      target: {
        kind: 'local-process',
        port: ports[i] as number,
        command: ['node', 'server.js'],
        env: { CURRENCY: r.currency, LOCALE: 'en-US' },
        faults: (r.faults ?? []).map((f) => ({ kind: 'unhealthy', on: 'always', ms: 0, ...f })),
      },
    })),
    waves: waves.map((w, i) => ({
      name: `wave-${i + 1}`,
      regions: w.map((r) => r.name),
      bakeSeconds: 1,
      approval: false,
    })),
    gate: {
      healthPath: '/health',
      probes: 3,
      intervalSeconds: 1,
      maxErrorRate: 0.05,
      minSamples: 3,
      // The product's default. Shorter timeouts saved a few seconds in the silent-fault tests and
      // failed a healthy release now and then when the full suite starved a region's process of
      // CPU for a third of a second (a missing sample never passes).
      probeTimeoutMs: 1000,
      probeSpacingMs: 10,
      bakeSeconds: 1,
      onInconclusive: 'rollback',
      ...over,
    },
    deploy: { readinessTimeoutSeconds: 10, pollSeconds: 1, maxPollSeconds: 2 },
    policy: { allowMultiRegionCanary: false },
  };
}

/** What the region's process itself says it runs: the real answer, not the ledger's. */
export function servedVersion(port: number): Promise<string | null> {
  return new Promise((ok) => {
    const req = get({ host: '127.0.0.1', port, path: '/health', timeout: 1000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => {
        try {
          ok((JSON.parse(body) as { version?: string }).version ?? null);
        } catch {
          ok(null);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => ok(null));
  });
}

export function recorder(): { events: Stamped[]; emit: (e: Stamped) => void } {
  const events: Stamped[] = [];
  return { events, emit: (e) => events.push(e) };
}
