/**
 * What the control server's routes and its GitHub bridge share about node:http: an error that is
 * an answer (HttpError), writing a JSON answer, and reading a body with a size limit.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body the API accepts, in bytes (POST /github has its own, larger, limit). */
export const MAX_BODY_BYTES = 64 * 1024;

/** An error that is the answer: its status, its name and its message go to the client as they are. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, name: string, message: string) {
    super(message);
    this.status = status;
    this.name = name;
  }
}

export const badRequest = (message: string) => new HttpError(400, 'BadRequest', message);

export function send(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  res.end(payload);
}

/** An error answer: `{error, name}`. */
export function fail(res: ServerResponse, status: number, name: string, message: string): void {
  send(res, status, { error: message, name });
}

/** An error answer after which the connection closes: the rest of the request body is drained, unread. */
export function refuse(req: IncomingMessage, res: ServerResponse, status: number, name: string, message: string): void {
  res.setHeader('connection', 'close');
  fail(res, status, name, message);
  req.resume();
}

/** The body as JSON (`{}` when empty); 413 over MAX_BODY_BYTES, 400 when it is not JSON. */
export function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const tooLarge = () => new HttpError(413, 'PayloadTooLarge', `request body over ${MAX_BODY_BYTES} bytes`);
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return Promise.reject(tooLarge());
  return new Promise((ok, bad) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Stop keeping it; the rest drains (and the connection closes after the 413).
        req.off('data', onData);
        req.resume();
        bad(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('error', bad);
    req.once('end', () => {
      if (size > MAX_BODY_BYTES) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return ok({});
      try {
        ok(JSON.parse(text) as unknown);
      } catch {
        bad(badRequest('the request body is not valid JSON'));
      }
    });
  });
}

/**
 * The raw body, or `undefined` when it is over `limit` bytes: one declared larger (Content-Length)
 * is not read at all, one that turns out larger is cut there and the rest drained.
 */
export function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length']) > limit) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((ok, bad) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop keeping it; the rest drains (and the connection closes after the 413).
        req.off('data', onData);
        req.resume();
        ok(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('error', bad);
    req.once('end', () => {
      if (size <= limit) ok(Buffer.concat(chunks));
    });
  });
}
