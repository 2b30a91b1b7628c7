/**
 * An embedded DynamoDB-compatible server (dynalite) for the local backend: the ledger runs the same
 * DynamoDB code as on AWS, against 127.0.0.1. Persisted in LevelDB under a state dir, or in memory.
 * The server runs on a worker thread (dynalite-worker.ts); this module guards the dir and makes the clients:
 * the local backend speaks DynamoDB's JSON protocol to it directly (adapters/dynamodb/json-protocol.ts,
 * `startDynalite`), so a local release never loads the AWS SDK; tests and tools that drive it as the AWS
 * code does get the SDK's clients too (`startEmbeddedDynamo`).
 *
 * Before dynalite touches the dir, the dir is taken (ledger-files.ts: the guard LevelDB, held for the
 * server's lifetime, and the damage checks), then the data dir is opened once and closed again, which
 * catches a non-flotilla holder (a bare dynalite). The guard closes the race between two flotilla
 * processes; only a foreign holder starting between that probe and dynalite's own open could slip through.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  type DynamoAnswer,
  type DynamoJson,
  type DynamoWire,
  openDynamoJson,
} from '../../adapters/dynamodb/json-protocol.ts';
import { checkLedgerFiles, GUARD_DIR, type LevelDb, loadLevel, openFailure, openOrLocked } from './ledger-files.ts';

export { LedgerDamaged, StateDirLocked } from './ledger-files.ts';

/** Dummy identity for the embedded server: it checks no signature, but the SDK must sign something. */
export const LOCAL_REGION = 'local';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export interface Dynalite {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  /** DynamoDB's JSON protocol to the server, over the worker's message channel: no AWS SDK, no loopback TCP. */
  json: DynamoJson;
  /** Stops the server and closes LevelDB and the clients; the dir can be reopened afterwards. Idempotent. */
  close(): Promise<void>;
}

/** The server with the AWS SDK's clients on it as well, for code that takes an SDK client. */
export interface EmbeddedDynamo extends Dynalite {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
}

/** Starts the embedded server with the SDK's clients on it (loaded here, on demand). */
export async function startEmbeddedDynamo(options: { dir?: string } = {}): Promise<EmbeddedDynamo> {
  const [{ DynamoDBClient }, { DynamoDBDocumentClient }] = await Promise.all([
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/lib-dynamodb'),
  ]);
  const server = await startDynalite(options);
  const client = new DynamoDBClient({
    endpoint: server.endpoint,
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
  return {
    ...server,
    client,
    doc,
    close() {
      // Drop the SDK's keep-alive sockets first so the HTTP server has nothing to wait for.
      client.destroy();
      return server.close();
    },
  };
}

/** Starts the embedded server (in memory, or persisted under `dir`), with no SDK client on it. */
export async function startDynalite(options: { dir?: string } = {}): Promise<Dynalite> {
  const dir = options.dir === undefined ? undefined : resolve(options.dir);

  let guard: LevelDb | undefined;
  if (dir !== undefined) {
    await mkdir(dir, { recursive: true });
    guard = await openOrLocked(join(dir, GUARD_DIR), dir);
    try {
      await checkLedgerFiles(dir);
      const probe = new (loadLevel())(dir);
      await probe.open().catch((error: unknown) => {
        throw openFailure(error, dir);
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
  // The start's own listeners, taken off once it is over. Not removeAllListeners(): that also takes
  // the Worker's own listeners that keep its message port running, and no answer would come back.
  const start: { fail?: (error: Error) => void; exited?: (code: number) => void; told?: (m: WorkerMessage) => void } =
    {};
  try {
    port = await new Promise<number>((done, fail) => {
      start.fail = fail;
      start.exited = (code) => fail(new Error(`the embedded DynamoDB server exited (code ${code})`));
      start.told = (message) => {
        if (message.kind === 'listening') done(message.port);
        if (message.kind === 'error') fail(new Error(`the embedded DynamoDB server failed: ${message.message}`));
      };
      worker.once('error', start.fail);
      worker.once('exit', start.exited);
      worker.on('message', start.told);
    });
  } catch (error) {
    await worker.terminate();
    await guard?.close();
    throw error;
  } finally {
    if (start.fail) worker.off('error', start.fail);
    if (start.exited) worker.off('exit', start.exited);
    if (start.told) worker.off('message', start.told);
  }
  // A crash of the server after start surfaces as failed requests; it must not crash this process.
  worker.on('error', () => {});

  const endpoint = `http://127.0.0.1:${port}`;
  const wire = messageWire(worker);
  const json = openDynamoJson({ wire });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await new Promise<void>((done) => {
        worker.once('exit', () => done());
        worker.on('message', (message: WorkerMessage) => {
          if (message.kind === 'closed') done();
        });
        worker.postMessage('close');
      });
      // dynalite answered what it could before it said `closed`: whatever still waits gets no answer.
      wire.end('the embedded DynamoDB server is closed');
      await worker.terminate();
      await guard?.close();
    })();
    return closing;
  };

  return { endpoint, port, json, close };
}

type WorkerMessage =
  | { kind: 'listening'; port: number }
  | { kind: 'error'; message: string }
  | { kind: 'closed'; message?: string }
  | ({ kind: 'answer'; id: number } & DynamoAnswer);

/**
 * The orchestrator's requests over the worker's message channel (dynalite-worker.ts
 * `serveMessage`): each one a `request` message, answered by an `answer` with the same id. A
 * request the server can no longer answer (it exited, or it was closed) fails at once, naming why,
 * instead of waiting for ever.
 */
function messageWire(worker: Worker): DynamoWire & { end(why: string): void } {
  const waiting = new Map<number, { resolve: (answer: DynamoAnswer) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let gone: string | undefined;
  const failAll = (why: string) => {
    gone ??= why;
    for (const { reject } of waiting.values()) reject(new Error(gone));
    waiting.clear();
  };
  worker.on('message', (message: WorkerMessage) => {
    if (message.kind !== 'answer') return;
    const request = waiting.get(message.id);
    waiting.delete(message.id);
    request?.resolve({ status: message.status, headers: message.headers, body: message.body });
  });
  worker.on('exit', (code) => failAll(`the embedded DynamoDB server stopped (exit code ${code}) before it answered`));
  worker.on('error', (error) => failAll(`the embedded DynamoDB server failed: ${error.message}`));
  return {
    post(headers, payload) {
      if (gone !== undefined) return Promise.reject(new Error(gone));
      return new Promise((resolve, reject) => {
        nextId += 1;
        waiting.set(nextId, { resolve, reject });
        worker.postMessage({ kind: 'request', id: nextId, headers, payload });
      });
    },
    // Nothing is kept open per request: only the server's end (below) stops the wire.
    close() {},
    end: failAll,
  };
}
