/**
 * An embedded DynamoDB-compatible server (dynalite) for the local backend: the ledger runs the same
 * DynamoDB code as on AWS, against 127.0.0.1. Persisted in LevelDB under a state dir, or in memory.
 * The server runs on a worker thread (dynalite-worker.ts); this module guards the dir and makes the clients.
 *
 * Before dynalite touches the dir, the dir is taken (ledger-files.ts: the guard LevelDB, held for the
 * server's lifetime, and the damage checks), then the data dir is opened once and closed again, which
 * catches a non-flotilla holder (a bare dynalite). The guard closes the race between two flotilla
 * processes; only a foreign holder starting between that probe and dynalite's own open could slip through.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { checkLedgerFiles, GUARD_DIR, type LevelDb, loadLevel, openFailure, openOrLocked } from './ledger-files.ts';

export { LedgerDamaged, StateDirLocked } from './ledger-files.ts';

/** Dummy identity for the embedded server: it checks no signature, but the SDK must sign something. */
export const LOCAL_REGION = 'local';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export interface EmbeddedDynamo {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  /** Stops the server and closes LevelDB and the clients; the dir can be reopened afterwards. Idempotent. */
  close(): Promise<void>;
}

export async function startEmbeddedDynamo(options: { dir?: string } = {}): Promise<EmbeddedDynamo> {
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
