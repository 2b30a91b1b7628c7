/**
 * `flotilla where` as a user runs it: a fresh CLI process against a state dir whose 6 regions
 * keep serving after the release that started them. It reads the ledger and checks each region's
 * process; it must start nothing (the same pids before and after) and answer fast. `status` and
 * `history` (the other read verbs) are timed the same way, in turn with it.
 * `node bench/where.ts [runs]` prints these figures alone.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { FlotillaConfig } from '../config/types.ts';
import { freePorts } from '../test/helpers/local.ts';
import { benchGate, realRegions } from './fleet.ts';

const CLI = resolve(import.meta.dirname, '../cli/flotilla.js');
const GOOD = resolve(import.meta.dirname, '../examples/shop/builds/good');

function cli(args: string[], cwd: string): Promise<{ code: number; ms: number; out: string }> {
  const started = performance.now();
  return new Promise((ok) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      out += c;
    });
    child.on('close', (code) => ok({ code: code ?? -1, ms: performance.now() - started, out }));
  });
}

async function pids(stateDir: string): Promise<string> {
  const regions = await readdir(join(stateDir, 'regions')).catch(() => [] as string[]);
  const found = await Promise.all(
    regions.map(
      async (r) =>
        `${r}=${(await readFile(join(stateDir, 'regions', r, 'process.pid'), 'utf8').catch(() => '-')).trim()}`,
    ),
  );
  return found.sort().join(' ');
}

/** `runs` timings of each read verb, and whether they started nothing. */
export async function whereFigures(
  runs: number,
): Promise<{ ms: number[]; statusMs: number[]; historyMs: number[]; startedNothing: boolean }> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-where-'));
  try {
    const names = ['us-east-1', 'eu-west-1', 'eu-central-1', 'ap-southeast-2', 'us-west-2', 'ap-northeast-1'];
    const config: FlotillaConfig = {
      service: 'shop',
      regions: realRegions(names, await freePorts(names.length)),
      waves: [{ name: 'all', regions: names, bakeSeconds: 0, approval: false }],
      gate: benchGate(0),
      deploy: { readinessTimeoutSeconds: 30, pollSeconds: 1, maxPollSeconds: 5 },
      policy: { allowMultiRegionCanary: true },
    };
    await writeFile(join(dir, 'flotilla.yml'), stringify(config));
    const release = await cli(['release', GOOD], dir);
    if (release.code !== 0) throw new Error(`where bench: the release failed:\n${release.out}`);
    try {
      const before = await pids(join(dir, '.flotilla'));
      // Warm-up: the file system cache.
      for (const verb of ['where', 'status', 'history']) await cli([verb], dir);
      const ms: number[] = [];
      const statusMs: number[] = [];
      const historyMs: number[] = [];
      for (let i = 0; i < runs; i++) {
        const where = await cli(['where'], dir);
        if (where.code !== 0 || !/up \(pid/.test(where.out)) throw new Error(`where bench: ${where.out}`);
        ms.push(where.ms);
        const status = await cli(['status'], dir);
        if (status.code !== 0 || !/SUCCEEDED/.test(status.out)) throw new Error(`status bench: ${status.out}`);
        statusMs.push(status.ms);
        const history = await cli(['history'], dir);
        if (history.code !== 0 || !/shop-1\.0\.0/.test(history.out)) throw new Error(`history bench: ${history.out}`);
        historyMs.push(history.ms);
      }
      return { ms, statusMs, historyMs, startedNothing: (await pids(join(dir, '.flotilla'))) === before };
    } finally {
      await cli(['down'], dir);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Math.max(1, Number(process.argv[2] ?? 7));
  const figures = await whereFigures(runs);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
  const line = (name: string, xs: number[]) =>
    `${name}: median ${Math.round(median(xs))} ms (${xs.map((x) => Math.round(x)).join(', ')})`;
  console.log(line('where', figures.ms));
  console.log(line('status', figures.statusMs));
  console.log(line('history', figures.historyMs));
  console.log(`started nothing: ${figures.startedNothing}`);
}
