/**
 * The Lambda bundles, measured: for each function, the size of its minified JS and how long a
 * fresh Node process takes to import it (its cold-start share that is ours: loading the bundle,
 * SDK clients included; Lambda's own init comes on top).
 *
 * Two sources, same figures:
 *   bundleFigures(dir)   the function zips osls packaged into `dir` (e.g. `.serverless`): the real
 *                        artifacts, read with a small zip reader below.
 *   bundleFigures()      esbuild run directly with serverless.yml's `custom.esbuild` options on each
 *                        function's handler: no osls, about 2 s instead of about 10.
 *
 *   node bench/bundles.ts [dir]     prints the table (Node 22: run it through npx or npm)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { type BuildOptions, build } from 'esbuild';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface BundleFigure {
  /** The function's key in serverless.yml (its zip's name). */
  name: string;
  /** Bytes of the minified JS bundle (unzipped). */
  bytes: number;
  /** Median of 3: a fresh `node` process that imports the bundle and exits, wall time. */
  coldImportMs: number;
}

export interface Bundle {
  name: string;
  /** Path of the bundle's entry inside its zip (or build), e.g. `functions/plan-release.mjs`. */
  entry: string;
  code: Buffer;
}

/** The entries of a zip archive (stored or deflated, as osls and serverless-esbuild write them). */
export function readZip(file: string): Map<string, Buffer> {
  const zip = readFileSync(file);
  // End of central directory: signature 0x06054b50, within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file}: not a zip archive`);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries = new Map<string, Buffer>();
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: bad central directory`);
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue;
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + compressed);
    if (method === 0) entries.set(name, Buffer.from(data));
    else if (method === 8) entries.set(name, inflateRawSync(data));
    else throw new Error(`${file}: ${name} uses compression method ${method}`);
  }
  return entries;
}

/** The JS entry of each function zip in `dir` (osls's package output). */
export function packagedBundles(dir: string): Bundle[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.zip'))
    .sort()
    .map((zipName) => {
      const entries = [...readZip(join(dir, zipName))].filter(([path]) => /\.(m|c)?js$/.test(path));
      const [entry, code] = entries[0] ?? [];
      if (entries.length !== 1 || entry === undefined || code === undefined) {
        throw new Error(`${zipName}: expected exactly one JS file, found ${entries.map(([p]) => p).join(', ')}`);
      }
      return { name: basename(zipName, '.zip'), entry, code };
    });
}

interface ServerlessConfig {
  functions: Record<string, { handler: string }>;
  custom: { esbuild: Record<string, unknown> };
}

/** serverless-esbuild's options as esbuild's own (its extra keys dropped, `exclude` made external). */
export function esbuildOptions(config: ServerlessConfig): BuildOptions {
  const { exclude, external, outputFileExtension, ...rest } = config.custom.esbuild as {
    exclude?: string[];
    external?: string[];
    outputFileExtension?: string;
  } & BuildOptions;
  const pluginOnly = ['concurrency', 'zipConcurrency', 'packager', 'packagerOptions', 'installExtraArgs', 'watch'];
  const options = Object.fromEntries(Object.entries(rest).filter(([k]) => !pluginOnly.includes(k))) as BuildOptions;
  return {
    ...options,
    external: [...(external ?? []), ...(exclude ?? [])],
    ...(outputFileExtension ? { outExtension: { '.js': outputFileExtension } } : {}),
  };
}

/** Every function in serverless.yml built with esbuild directly, as serverless-esbuild would. */
export async function builtBundles(root = ROOT): Promise<Bundle[]> {
  const config = parse(readFileSync(join(root, 'serverless.yml'), 'utf8')) as ServerlessConfig;
  const options = esbuildOptions(config);
  const out = mkdtempSync(join(tmpdir(), 'flotilla-bundles-'));
  try {
    return await Promise.all(
      Object.entries(config.functions).map(async ([name, fn]) => {
        const source = `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.ts`;
        const result = await build({
          ...options,
          entryPoints: [join(root, source)],
          outdir: join(out, name),
          write: false,
          logLevel: 'silent',
        });
        const [file] = result.outputFiles;
        if (result.outputFiles.length !== 1 || file === undefined) throw new Error(`${name}: expected one output file`);
        return { name, entry: `${dirname(source)}/${basename(file.path)}`, code: Buffer.from(file.contents) };
      }),
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Wall time of a fresh `node` (this process's binary) importing `file` and exiting; median of `runs`. */
export function coldImportMs(file: string, runs = 3): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const child = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(file).href)});`],
      { cwd: dirname(file), stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
    );
    times.push(performance.now() - started);
    if (child.status !== 0) throw new Error(`importing ${file} failed: ${child.stderr.toString()}`);
  }
  return median(times);
}

/** Size and cold import time of each function bundle: from the zips in `dir`, or built with esbuild. */
export async function bundleFigures(dir?: string): Promise<BundleFigure[]> {
  const bundles = dir === undefined ? await builtBundles() : packagedBundles(dir);
  const scratch = mkdtempSync(join(tmpdir(), 'flotilla-import-'));
  try {
    return bundles.map(({ name, entry, code }) => {
      const file = join(scratch, name, entry);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, code);
      return { name, bytes: code.length, coldImportMs: Math.round(coldImportMs(file) * 10) / 10 };
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** For scale: wall time of a fresh `node` that imports nothing and exits (median of `runs`). */
export function nodeStartupMs(runs = 3): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
    times.push(performance.now() - started);
  }
  return Math.round(median(times) * 10) / 10;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  const figures = await bundleFigures(dir);
  console.log(
    `bundles ${dir ? `packaged in ${dir}` : 'built with esbuild from serverless.yml'} (node ${process.version}):`,
  );
  for (const f of figures) {
    console.log(
      `${f.name.padEnd(20)} ${(f.bytes / 1024).toFixed(1).padStart(7)} KiB ${String(f.coldImportMs).padStart(7)} ms`,
    );
  }
  console.log(`${'(node alone)'.padEnd(20)} ${''.padStart(11)} ${String(nodeStartupMs()).padStart(7)} ms`);
}
