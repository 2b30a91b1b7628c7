/**
 * The local ledger's files, before anything opens them for real: the guard that keeps one process
 * at a time on a state dir, the checks that refuse a damaged ledger (LevelDB would start afresh
 * without its CURRENT file, silently deleting the old tables), and whether there is a ledger at all.
 * Shared by the embedded DynamoDB server (dynalite-server.ts), the read-only ledger
 * (ledger-reader.ts) and the copy (ledger-copy.ts); it loads neither dynalite nor the AWS SDK.
 *
 * One process at a time per state dir. LevelDB itself refuses a second opener (its LOCK file), but
 * dynalite opens its store lazily and *throws from inside a callback* when the store failed to open,
 * which kills the whole process with an unhelpful "Database is closed". So before dynalite touches the
 * dir we take the dir ourselves: a small guard LevelDB at <dir>/flotilla.lock, held open for as long
 * as the ledger is. LevelDB's lock is an fcntl lock (plus an in-process table), so the OS frees it
 * when the process dies: no stale lock files to clean up. Failing to take it means another flotilla
 * (or another ledger in this process) uses the dir: StateDirLocked.
 *
 * LevelDB comes from dynalite's own dependency (`level`, resolved from dynalite's location), so it is
 * exactly the copy dynalite uses and no extra dependency.
 */
import { access, open, readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { logFileDamage } from './leveldb-log.ts';

/** The state dir is in use by another flotilla process (or another embedded server in this one). */
export const StateDirLocked = 'StateDirLocked';

/** The ledger's files are damaged or partly missing: refused, never replaced by an empty ledger. */
export const LedgerDamaged = 'LedgerDamaged';

export const damaged = (dir: string, what: string, cause?: unknown): Error => {
  const error = new Error(
    `the ledger at ${dir} is damaged: ${what}. Flotilla will not open an empty ledger in its place ` +
      '(that would forget every release, freeze and lock). `flotilla repair` rebuilds it from its copy ' +
      '(ledger-copy.json) and from what each region runs; `flotilla doctor` shows how it stands.',
    cause === undefined ? undefined : { cause },
  );
  error.name = LedgerDamaged;
  return error;
};

/**
 * Refuses a LevelDB directory that holds data but cannot be opened as it was: LevelDB would
 * otherwise start afresh without its CURRENT file, silently deleting the old tables.
 */
export async function checkLedgerFiles(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => e.name);
  const data = files.filter((f) => /^(MANIFEST-\d+|\d+\.(ldb|log|sst))$/.test(f));
  if (data.length === 0 && !files.includes('CURRENT')) return; // a new ledger
  if (!files.includes('CURRENT')) return Promise.reject(damaged(dir, 'its CURRENT file is missing'));
  const current = await readFile(join(dir, 'CURRENT'), 'utf8');
  const manifest = /^(MANIFEST-\d+)\n$/.exec(current)?.[1];
  if (!manifest) return Promise.reject(damaged(dir, "its CURRENT file is truncated or not LevelDB's"));
  if (!files.includes(manifest)) return Promise.reject(damaged(dir, `${manifest}, which CURRENT names, is missing`));
  // LevelDB opens its tables lazily and, without paranoid checks, a truncated one reads as no data at
  // all: the history in it would be gone without a word. Every table ends in a fixed footer.
  for (const table of files.filter((f) => /^\d+\.(ldb|sst)$/.test(f))) {
    if (!(await hasTableFooter(join(dir, table)))) {
      return Promise.reject(damaged(dir, `its table file ${join(dir, table)} is truncated (no LevelDB footer)`));
    }
  }
  // LevelDB replays its write-ahead log at open and drops, silently, whatever it cannot read in it.
  for (const log of files.filter((f) => /^\d+\.log$/.test(f))) {
    const problem = await logFileDamage(join(dir, log));
    if (problem) return Promise.reject(damaged(dir, `its write-ahead log ${join(dir, log)} is damaged: ${problem}`));
  }
}

/** LevelDB's table magic number, the last 8 bytes of every table file (little-endian 0xdb4775248b80fb57). */
const TABLE_MAGIC = Buffer.from([0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb]);
/** A table's footer: two block handles padded to 40 bytes, then the magic number. */
const TABLE_FOOTER_BYTES = 48;

async function hasTableFooter(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size < TABLE_FOOTER_BYTES) return false;
    const tail = Buffer.alloc(TABLE_MAGIC.length);
    await handle.read(tail, 0, tail.length, size - tail.length);
    return tail.equals(TABLE_MAGIC);
  } finally {
    await handle.close();
  }
}

/** Sub-directory of the state dir holding the guard LevelDB (LevelDB ignores foreign entries in its dir). */
export const GUARD_DIR = 'flotilla.lock';

/** The bit of abstract-level's API we use. */
export interface LevelDb {
  open(): Promise<void>;
  close(): Promise<void>;
}
type LevelConstructor = new (location: string) => LevelDb;

/**
 * How long an opener waits for a LOCK someone else holds before saying the state dir is in use. A
 * read verb (`where`, `status`) holds the ledger for a moment only: a command starting just then
 * must not fail for it (a `release` that lost that race once said "another flotilla process is using"
 * while nothing else ran). A long holder (an orchestrator, `flotilla up`) is still refused.
 */
export const LOCK_WAIT_MS = 3_000;

/** Opens a LevelDB, turning "someone holds its LOCK" (for longer than `waitMs`) into StateDirLocked. */
export async function openOrLocked(location: string, stateDir: string, waitMs = LOCK_WAIT_MS): Promise<LevelDb> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const db = new (loadLevel())(location);
    try {
      await db.open();
      return db;
    } catch (error) {
      const locked = lockedOr(error, stateDir);
      if (locked === error || Date.now() >= deadline) throw locked;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** StateDirLocked when a LevelDB open failed because another opener holds its LOCK; else the error itself. */
export function lockedOr(error: unknown, stateDir: string): unknown {
  if (levelCode(error) !== 'LEVEL_LOCKED' && levelCode(errorCause(error)) !== 'LEVEL_LOCKED') return error;
  const locked = new Error(`another flotilla process is using ${stateDir}`, { cause: error });
  locked.name = StateDirLocked;
  return locked;
}

/** Why the ledger's own LevelDB did not open: another process holds it (StateDirLocked), or it is damaged. */
export function openFailure(error: unknown, dir: string): Error {
  const locked = lockedOr(error, dir);
  if (locked !== error) return locked as Error;
  return damaged(dir, `LevelDB could not open it (${messageOf(error)})`, error);
}

/** The innermost message of an error and its causes (LevelDB wraps the real reason). */
export function messageOf(error: unknown): string {
  let e: unknown = error;
  let text = String((e as Error | undefined)?.message ?? e);
  while (e instanceof Error && e.cause !== undefined) {
    e = e.cause;
    if (e instanceof Error && e.message) text = e.message;
  }
  return text;
}

let levelConstructor: LevelConstructor | undefined;

export function loadLevel(): LevelConstructor {
  if (!levelConstructor) {
    // Resolve `level` from dynalite's location: the very copy dynalite opens its store with.
    const requireFromHere = createRequire(import.meta.url);
    const requireFromDynalite = createRequire(requireFromHere.resolve('dynalite'));
    levelConstructor = (requireFromDynalite('level') as { Level: LevelConstructor }).Level;
  }
  return levelConstructor;
}

function levelCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

function errorCause(error: unknown): unknown {
  return error instanceof Error ? error.cause : undefined;
}

/** The local ledger's table. */
export const TABLE_NAME = 'flotilla';

/** In the state directory, beside `ledger/`: the recoverable copy (ledger-copy.ts). */
export const LEDGER_COPY = 'ledger-copy.json';

/** Whether a LevelDB directory holds any of a ledger's files. */
export async function hasLedgerFiles(dir: string): Promise<boolean> {
  const files = await readdir(dir).catch(() => [] as string[]);
  return files.some((f) => f === 'CURRENT' || /^(MANIFEST-\d+|\d+\.(ldb|log|sst))$/.test(f));
}

/**
 * The ledger is gone (its directory deleted or emptied) while its copy is there: that is a lost
 * ledger, not a new one, and opening an empty one would forget every release, freeze and lock.
 */
export async function lostLedger(stateDir: string): Promise<string | undefined> {
  const dir = join(stateDir, 'ledger');
  if (await hasLedgerFiles(dir)) return undefined;
  const copy = join(stateDir, LEDGER_COPY);
  const there = await access(copy).then(
    () => true,
    () => false,
  );
  return there ? `the ledger at ${dir} is missing, but its copy ${copy} is there` : undefined;
}
