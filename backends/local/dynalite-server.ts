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
import { type DynamoJson, openDynamoJson } from '../../adapters/dynamodb/json-protocol.ts';
import { checkLedgerFiles, GUARD_DIR, type LevelDb, loadLevel, openFailure, openOrLocked } from './ledger-files.ts';

export { LedgerDamaged, StateDirLocked } from './ledger-files.ts';

/** Dummy identity for the embedded server: it checks no signature, but the SDK must sign something. */
export const LOCAL_REGION = 'local';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export interface Dynalite {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  /** DynamoDB's JSON protocol to the server, over one keep-alive agent: no AWS SDK. */
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
  const json = openDynamoJson({ endpoint });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Drop the keep-alive sockets first so the HTTP server has nothing to wait for.
      json.close();
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

  return { endpoint, port, json, close };
}

type WorkerMessage =
  | { kind: 'listening'; port: number }
  | { kind: 'error'; message: string }
  | { kind: 'closed'; message?: string };
