/**
 * An embedded DynamoDB-compatible server (dynalite) for the local backend: the ledger runs the same
 * DynamoDB code as on AWS, against 127.0.0.1. Persisted in LevelDB under a state dir, or in memory.
 * The server runs on a worker thread (dynalite-worker.ts); this module guards the dir and makes the clients.
 *
 * One process at a time per state dir. LevelDB itself refuses a second opener (its LOCK file), but
 * dynalite opens its store lazily and *throws from inside a callback* when the store failed to open,
 * which kills the whole process with an unhelpful "Database is closed". So before dynalite touches the
 * dir we take the dir ourselves:
 *   1. a small guard LevelDB at <dir>/flotilla.lock, held open for the server's lifetime. LevelDB's lock
 *      is an fcntl lock (plus an in-process table), so the OS frees it when the process dies: no stale
 *      lock files to clean up. Failing to take it means another flotilla (or another server in this
 *      process) uses the dir: StateDirLocked.
 *   2. a probe open/close of the data dir itself, which catches a non-flotilla holder (a bare dynalite).
 * The guard closes the race between two flotilla processes; only a foreign holder starting between the
 * probe and dynalite's own open could still slip through.
 *
 * LevelDB comes from dynalite's own dependency (`level`, resolved from dynalite's location), so it is
 * exactly the copy dynalite uses and no extra dependency.
 */
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { logFileDamage } from './leveldb-log.ts';

/** The state dir is in use by another flotilla process (or another embedded server in this one). */
export const StateDirLocked = 'StateDirLocked';

/** The ledger's files are damaged or partly missing: refused, never replaced by an empty ledger. */
export const LedgerDamaged = 'LedgerDamaged';

const damaged = (dir: string, what: string, cause?: unknown): Error => {
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
async function checkLedgerFiles(dir: string): Promise<void> {
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

/** Dummy identity for the embedded server: it checks no signature, but the SDK must sign something. */
export const LOCAL_REGION = 'local';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** Sub-directory of the state dir holding the guard LevelDB (LevelDB ignores foreign entries in its dir). */
const GUARD_DIR = 'flotilla.lock';

export interface EmbeddedDynamo {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  /** Stops the server and closes LevelDB and the clients; the dir can be reopened afterwards. Idempotent. */
  close(): Promise<void>;
}

/** The bit of abstract-level's API we use. */
interface LevelDb {
  open(): Promise<void>;
  close(): Promise<void>;
}
type LevelConstructor = new (location: string) => LevelDb;

export async function startEmbeddedDynamo(options: { dir?: string } = {}): Promise<EmbeddedDynamo> {
  const dir = options.dir === undefined ? undefined : resolve(options.dir);

  let guard: LevelDb | undefined;
  if (dir !== undefined) {
    await mkdir(dir, { recursive: true });
    guard = await openOrLocked(join(dir, GUARD_DIR), dir);
    try {
      await checkLedgerFiles(dir);
      const probe = await openOrLocked(dir, dir).catch((error: unknown) => {
        if ((error as Error).name === StateDirLocked) throw error;
        throw damaged(dir, `LevelDB could not open it (${messageOf(error)})`, error);
      });
      await probe.close();
    } catch (error) {
      await guard.close();
      throw error;
    }
  }

  const worker = new Worker(new URL('./dynalite-worker.ts', import.meta.url), {
    workerData: { dir },
    // The worker is a file: flags that only fit the main entry (`node --input-type=module -e …`) must not follow it.
    execArgv: process.execArgv.filter((arg) => !arg.startsWith('--input-type')),
  });
  let port: number;
  try {
    port = await new Promise<number>((done, fail) => {
      worker.once('error', fail);
      worker.once('exit', (code) => fail(new Error(`the embedded DynamoDB server exited (code ${code})`)));
      worker.on('message', (message: WorkerMessage) => {
        if (message.kind === 'listening') done(message.port);
        if (message.kind === 'error') fail(new Error(`the embedded DynamoDB server failed: ${message.message}`));
      });
    });
  } catch (error) {
    await worker.terminate();
    await guard?.close();
    throw error;
  }
  worker.removeAllListeners();
  // A crash of the server after start surfaces as failed requests; it must not crash this process.
  worker.on('error', () => {});

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    // Explicit credentials: the SDK's default chain (env vars, ~/.aws, SSO, IMDS) never runs.
    credentials: LOCAL_CREDENTIALS,
    // Everything else the SDK would look up in env vars or ~/.aws/config, pinned so the user's AWS
    // setup cannot change how the local backend behaves.
    maxAttempts: 3,
    retryMode: 'standard',
    defaultsMode: 'standard',
    useFipsEndpoint: false,
    useDualstackEndpoint: false,
    accountIdEndpointMode: 'disabled',
    endpointDiscoveryEnabled: false,
    authSchemePreference: [],
    userAgentAppId: 'flotilla-local',
  });
  const doc = DynamoDBDocumentClient.from(client);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Drop the SDK's keep-alive sockets first so the HTTP server has nothing to wait for.
      client.destroy();
      await new Promise<void>((done) => {
        worker.once('exit', () => done());
        worker.on('message', (message: WorkerMessage) => {
          if (message.kind === 'closed') done();
        });
        worker.postMessage('close');
      });
      await worker.terminate();
      await guard?.close();
    })();
    return closing;
  };

  return { endpoint, port, client, doc, close };
}

type WorkerMessage =
  | { kind: 'listening'; port: number }
  | { kind: 'error'; message: string }
  | { kind: 'closed'; message?: string };

/** Opens a LevelDB, turning "someone holds its LOCK" into StateDirLocked. */
async function openOrLocked(location: string, stateDir: string): Promise<LevelDb> {
  const db = new (loadLevel())(location);
  try {
    await db.open();
    return db;
  } catch (error) {
    if (levelCode(error) === 'LEVEL_LOCKED' || levelCode(errorCause(error)) === 'LEVEL_LOCKED') {
      const locked = new Error(`another flotilla process is using ${stateDir}`, { cause: error });
      locked.name = StateDirLocked;
      throw locked;
    }
    throw error;
  }
}

/** The innermost message of an error and its causes (LevelDB wraps the real reason). */
function messageOf(error: unknown): string {
  let e: unknown = error;
  let text = String((e as Error | undefined)?.message ?? e);
  while (e instanceof Error && e.cause !== undefined) {
    e = e.cause;
    if (e instanceof Error && e.message) text = e.message;
  }
  return text;
}

let levelConstructor: LevelConstructor | undefined;

function loadLevel(): LevelConstructor {
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
