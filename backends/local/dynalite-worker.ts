/**
 * Runs dynalite on a worker thread. The ledger's server side (request parsing, LevelDB) then uses
 * the second core instead of competing with the engine and the handlers on the main thread; with a
 * 32-region wave that was a third of the orchestrator's CPU. It also keeps a dynalite crash (it can
 * throw from inside callbacks) from taking the whole orchestrator down.
 */
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import dynalite from 'dynalite';
import { enforceDynamoLimits } from './dynamo-limits.ts';

const { dir } = workerData as { dir: string | undefined };
// DynamoDB's 4 KB expression limit, which dynalite does not check by itself (dynamo-limits.ts).
enforceDynamoLimits();
// Table creation/deletion/update instant: nothing to wait for locally (default is 500 ms each).
const server = dynalite({ path: dir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.once('error', (error) => parentPort?.postMessage({ kind: 'error', message: String(error) }));
// Port 0: the OS picks a free port; we read it back.
server.listen(0, '127.0.0.1', () => {
  parentPort?.postMessage({ kind: 'listening', port: (server.address() as AddressInfo).port });
});
parentPort?.on('message', (message: unknown) => {
  if (message !== 'close') return;
  server.closeAllConnections();
  // dynalite's close(): stops HTTP, waits for pending LevelDB operations, closes LevelDB.
  server.close((error) => {
    parentPort?.postMessage({ kind: 'closed', ...(error ? { message: String(error) } : {}) });
    parentPort?.close();
  });
});
