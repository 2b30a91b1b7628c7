/**
 * The CLI's cache of valid configs (config/cache.ts): read back only for the same text checked by the
 * same code, never for a problem, never from a directory others may write to.
 */
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { userCacheDir } from '../../cli/strip-cache.js';
import { loadConfigCached } from '../../config/cache.ts';
import { loadConfigFile } from '../../config/load.ts';

const EXAMPLE = resolve(import.meta.dirname, '../../flotilla.yml');
let root: string;
let dir: string | undefined;
const saved = process.env.TMPDIR;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flotilla-config-cache-'));
  // os.tmpdir() follows TMPDIR, so the cache lands where this test can look.
  process.env.TMPDIR = join(root, 'tmp');
  dir = userCacheDir({});
  expect(dir).toBeDefined();
});
afterEach(async () => {
  if (saved === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = saved;
  await rm(root, { recursive: true, force: true });
});

const cacheFiles = async () => {
  const dirs = await readdir(join(root, 'tmp')).catch(() => [] as string[]);
  const files: string[] = [];
  for (const d of dirs) {
    for (const f of await readdir(join(root, 'tmp', d)))
      if (f.startsWith('config-')) files.push(join(root, 'tmp', d, f));
  }
  return files;
};

describe('the config cache', () => {
  it('gives what parsing gives, and then reads it back for the same text', async () => {
    const path = join(root, 'flotilla.yml');
    await writeFile(path, await readFile(EXAMPLE, 'utf8'));
    const parsed = await loadConfigFile(path);
    expect(await loadConfigCached(path, dir)).toEqual(parsed);
    const [file, ...more] = await cacheFiles();
    expect(more).toEqual([]);
    // The second load is the cache's: a change made there shows, so it was read and not parsed again.
    const kept = JSON.parse(await readFile(file as string, 'utf8'));
    await writeFile(file as string, JSON.stringify({ ...kept, service: 'from-the-cache' }));
    const again = await loadConfigCached(path, dir);
    expect(again.ok && again.config.service).toBe('from-the-cache');
    // An edited config is another key: parsed afresh.
    await writeFile(path, (await readFile(EXAMPLE, 'utf8')).replace(/^service: .*$/m, 'service: edited'));
    const edited = await loadConfigCached(path, dir);
    expect(edited.ok && edited.config.service).toBe('edited');
  });

  it('never keeps a config with problems', async () => {
    const path = join(root, 'flotilla.yml');
    await writeFile(path, 'service: shop\nregions: []\nwaves: []\nbogus: 1\n');
    const first = await loadConfigCached(path, dir);
    expect(first.ok).toBe(false);
    expect(await loadConfigCached(path, dir)).toEqual(first);
    expect(await cacheFiles()).toEqual([]);
  });

  it('ignores a cache directory others may write to, and is off with FLOTILLA_STRIP_CACHE=0', async () => {
    const path = join(root, 'flotilla.yml');
    await writeFile(path, await readFile(EXAMPLE, 'utf8'));
    await loadConfigCached(path, dir);
    const [file] = await cacheFiles();
    const kept = JSON.parse(await readFile(file as string, 'utf8'));
    await writeFile(file as string, JSON.stringify({ ...kept, service: 'planted' }));
    await chmod(join(file as string, '..'), 0o777);
    expect(userCacheDir({})).toBeUndefined();
    const open = await loadConfigCached(path, userCacheDir({}));
    expect(open.ok && open.config.service).not.toBe('planted');
    await chmod(join(file as string, '..'), 0o700);
    expect(userCacheDir({ FLOTILLA_STRIP_CACHE: '0' })).toBeUndefined();
    const off = await loadConfigCached(path, userCacheDir({ FLOTILLA_STRIP_CACHE: '0' }));
    expect(off.ok && off.config.service).not.toBe('planted');
    // The same directory again once it is this user's alone.
    const back = await loadConfigCached(path, userCacheDir({}));
    expect(back.ok && back.config.service).toBe('planted');
  });
});
