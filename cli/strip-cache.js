/**
 * A cache of Flotilla's own TypeScript files with their types stripped, for the CLI's start-up
 * (cli/flotilla.js installs it). Plain JavaScript, so that nothing is stripped before it runs.
 * Node strips the types of every `.ts` module it loads, every time (its compile cache keeps V8's
 * code, not the stripped text): for `flotilla where` that was about a quarter of its CPU. This load
 * hook (Node's `module.registerHooks`, in-thread) strips each of the repository's own `.ts` files
 * with Node's own `stripTypeScriptTypes` (the same strip-only transform, positions unchanged, so
 * stack traces point where they did) and keeps the result under the OS temp dir, named by the hash
 * of the Node version and the file's text: an edited file is a new name, so nothing stale is ever
 * run. Anything going wrong here falls back to Node's own loading. `FLOTILLA_STRIP_CACHE=0` (or
 * `NODE_DISABLE_COMPILE_CACHE`) turns it off.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { registerHooks, stripTypeScriptTypes } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root, as a file URL prefix: only its own files are cached, never node_modules'. */
const ROOT = new URL('../', import.meta.url).href;

/** Registers the hook (once per process, before the first of the repository's `.ts` files loads). */
export function cacheStrippedTypes(env = process.env) {
  if (env.NODE_DISABLE_COMPILE_CACHE) return;
  const dir = userCacheDir(env);
  if (!dir) return;
  registerHooks({
    load(url, context, nextLoad) {
      if (!url.startsWith(ROOT) || !url.endsWith('.ts') || url.includes('/node_modules/')) {
        return nextLoad(url, context);
      }
      try {
        const source = readFileSync(fileURLToPath(url), 'utf8');
        const key = createHash('sha256').update(process.version).update('\0').update(source).digest('hex');
        const file = join(dir, `${key}.js`);
        let stripped;
        try {
          stripped = readFileSync(file, 'utf8');
        } catch {
          stripped = strip(source);
          const tmp = `${file}.${process.pid}.tmp`;
          writeFileSync(tmp, stripped, { mode: 0o600 });
          renameSync(tmp, file);
        }
        return { format: 'module', source: stripped, shortCircuit: true };
      } catch {
        return nextLoad(url, context);
      }
    },
  });
}

/**
 * The CLI's cache directory under the OS temp dir (this file's cache and the config cache,
 * config/cache.ts), or undefined when it is off (`FLOTILLA_STRIP_CACHE=0`) or not safe: only a
 * directory of this user's that nobody else may write to, since what is kept there is run as code.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {string | undefined}
 */
export function userCacheDir(env = process.env) {
  if (env.FLOTILLA_STRIP_CACHE === '0') return undefined;
  const uid = process.getuid?.();
  const dir = join(tmpdir(), `flotilla-strip-cache-${uid ?? 'user'}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const info = statSync(dir);
    if ((uid !== undefined && info.uid !== uid) || (info.mode & 0o022) !== 0) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

/**
 * Node's strip-only transform, without the experimental-API warning it prints on first use.
 * @param {string} source
 * @returns {string}
 */
function strip(source) {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    return stripTypeScriptTypes(source, { mode: 'strip' });
  } finally {
    process.emitWarning = emitWarning;
  }
}
