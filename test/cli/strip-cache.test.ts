/**
 * The `flotilla` launcher (cli/flotilla.js) and its cache of stripped TypeScript (cli/strip-cache.js):
 * a real CLI process, a real temp dir as the cache's home. What it keeps for a file is exactly what
 * Node's own strip-only transform makes of that file's text, under a name that changes with the text.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/local.ts';

const LAUNCHER = resolve(import.meta.dirname, '../../cli/flotilla.js');
const PROGRAM = resolve(import.meta.dirname, '../../cli/program.ts');

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function launch(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [LAUNCHER, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

const cacheDir = (tmp: string) => join(tmp, `flotilla-strip-cache-${process.getuid?.() ?? 'user'}`);

describe('the flotilla launcher', () => {
  it("keeps each file as Node's own strip makes it, named by its text, and runs the same from the cache", async () => {
    const t = await tempDir('flotilla-strip-');
    cleanups.push(t.cleanup);
    const first = await launch(['--version'], { TMPDIR: t.dir });
    expect(first, first.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);

    const source = await readFile(PROGRAM, 'utf8');
    const key = createHash('sha256').update(process.version).update('\0').update(source).digest('hex');
    const kept = await readFile(join(cacheDir(t.dir), `${key}.js`), 'utf8');
    expect(kept).toBe(stripTypeScriptTypes(source, { mode: 'strip' }));
    const files = (await readdir(cacheDir(t.dir))).sort();
    expect(files.every((f) => /^[0-9a-f]{64}\.js$/.test(f))).toBe(true);

    // From the cache: the same answer, nothing new kept.
    const second = await launch(['--version'], { TMPDIR: t.dir });
    expect(second).toEqual(first);
    expect((await readdir(cacheDir(t.dir))).sort()).toEqual(files);
  });

  it('leaves alone a cache directory someone else may write to, and FLOTILLA_STRIP_CACHE=0 keeps nothing', async () => {
    const t = await tempDir('flotilla-strip-');
    cleanups.push(t.cleanup);
    await mkdir(cacheDir(t.dir));
    await chmod(cacheDir(t.dir), 0o777);
    const run = await launch(['--version'], { TMPDIR: t.dir });
    expect(run.code, run.stderr).toBe(0);
    expect(await readdir(cacheDir(t.dir))).toEqual([]);

    const off = await tempDir('flotilla-strip-');
    cleanups.push(off.cleanup);
    const plain = await launch(['--version'], { TMPDIR: off.dir, FLOTILLA_STRIP_CACHE: '0' });
    expect(plain).toEqual(run);
    await expect(readdir(cacheDir(off.dir))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
