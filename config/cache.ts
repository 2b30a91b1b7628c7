/**
 * A cache of valid configs for the CLI's start-up. Parsing `flotilla.yml` (YAML, then the zod
 * schema) was a fifth of `flotilla where`'s time, every time, for the same file. The result is a pure
 * function of the file's text and of the code that checks it, so it is kept under the OS temp dir,
 * named by the hash of the file's path and text, the Node version, and the text of every module
 * under config/ and core/ (what validation runs): an edited config or an edited rule is a new name,
 * so nothing stale is ever read. Only valid configs are kept (a problem is always reported afresh).
 * The directory is the CLI's (cli/strip-cache.js `userCacheDir`: this user's only, since a config
 * names the commands the regions run; none with `FLOTILLA_STRIP_CACHE=0`, and then this parses).
 * Anything going wrong here falls back to parsing.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigResult } from './validate.ts';

const ROOT = new URL('../', import.meta.url);
/** The code a config's validity depends on. */
const CODE_DIRS = ['config', 'core'];

let codeHash: string | undefined;

function codeKey(): string {
  if (codeHash !== undefined) return codeHash;
  const hash = createHash('sha256').update(process.version);
  for (const dir of CODE_DIRS) {
    const path = new URL(`${dir}/`, ROOT);
    for (const name of readdirSync(path)
      .filter((f) => f.endsWith('.ts'))
      .sort()) {
      hash
        .update('\0')
        .update(name)
        .update('\0')
        .update(readFileSync(new URL(name, path)));
    }
  }
  codeHash = hash.digest('hex');
  return codeHash;
}

/** `loadConfigFile(path)`, answered from the cache when this very text was found valid by this very code. */
export async function loadConfigCached(path: string, dir: string | undefined): Promise<ConfigResult> {
  const parse = async () => (await import('./load.ts')).loadConfigFile(path);
  if (!dir) return parse();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return parse(); // its own words for a file that cannot be read
  }
  let file: string;
  try {
    const key = createHash('sha256').update(codeKey()).update('\0').update(path).update('\0').update(text);
    file = join(dir, `config-${key.digest('hex')}.json`);
  } catch {
    return parse();
  }
  try {
    return { ok: true, config: JSON.parse(readFileSync(file, 'utf8')) };
  } catch {
    // not cached yet (or unreadable): parse, and keep a valid result
  }
  const { parseConfig } = await import('./load.ts');
  const result = parseConfig(text, path);
  if (result.ok) {
    try {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(result.config), { mode: 0o600 });
      renameSync(tmp, file);
    } catch {
      // a cache that cannot be written changes nothing
    }
  }
  return result;
}
