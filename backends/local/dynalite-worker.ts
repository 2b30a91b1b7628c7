/**
 * Runs dynalite on a worker thread. The ledger's server side (request parsing, LevelDB) then uses
 * the second core instead of competing with the engine and the handlers on the main thread; with a
 * 32-region wave that was a third of the orchestrator's CPU. It also keeps a dynalite crash (it can
 * throw from inside callbacks) from taking the whole orchestrator down.
 *
 * It serves HTTP on 127.0.0.1 (any DynamoDB client, the SDK's included) and, for the orchestrator's
 * own requests, the worker's message channel: a `request` message (an HTTP request's headers and
 * body) goes to the same dynalite request handler as an HTTP request would, and its `answer` (the
 * status, headers and body dynalite wrote) comes back as the HTTP response would. That spares both
 * threads loopback TCP and HTTP framing on every ledger request, which then takes about half as long
 * (bench/ledger-requests.ts).
 */
import { EventEmitter } from 'node:events';
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
/** dynalite's handler of one HTTP request (index.js `httpHandler`, bound to its store). */
const handleRequest = server.listeners('request')[0] as (req: EventEmitter, res: WireResponse) => void;

/** A request over the message channel (dynalite-server.ts `messageWire`). */
interface WireRequest {
  kind: 'request';
  id: number;
  headers: Record<string, string>;
  payload: string;
}

/** What dynalite's handler uses of an HTTP response: a status, headers and one end with the body. */
interface WireResponse {
  statusCode: number;
  contentType?: string;
  setHeader(name: string, value: string | number): void;
  end(body?: string): void;
}

/**
 * Hands one request to dynalite's handler as an HTTP request of the same headers and body (what
 * the handler reads of it: method, url, headers, the body's 'data' and 'end'), and posts the answer
 * back once the handler ends the response.
 */
function serveMessage(request: WireRequest): void {
  const req = Object.assign(new EventEmitter(), { method: 'POST', url: '/', headers: request.headers });
  const headers: Record<string, string | number> = {};
  const res: WireResponse = {
    statusCode: 200,
    setHeader(name, value) {
      headers[name.toLowerCase()] = value;
    },
    end(body) {
      parentPort?.postMessage({ kind: 'answer', id: request.id, status: res.statusCode, headers, body: body ?? '' });
    },
  };
  handleRequest(req, res);
  req.emit('data', Buffer.from(request.payload, 'utf8'));
  req.emit('end');
}

const isRequest = (message: unknown): message is WireRequest =>
  typeof message === 'object' && message !== null && (message as { kind?: unknown }).kind === 'request';

parentPort?.on('message', (message: unknown) => {
  if (isRequest(message)) return serveMessage(message);
  if (message !== 'close') return;
  server.closeAllConnections();
  // dynalite's close(): stops HTTP, waits for pending LevelDB operations, closes LevelDB.
  server.close((error) => {
    parentPort?.postMessage({ kind: 'closed', ...(error ? { message: String(error) } : {}) });
    parentPort?.close();
  });
});
