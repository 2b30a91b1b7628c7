/**
 * A local HTTP server standing in for Slack (no network in tests: it listens on 127.0.0.1 only).
 * It answers the Web API the way Slack does — HTTP 200 with `{ok: true, channel, ts}`, errors as
 * HTTP 200 `{ok: false, error}`, rate limits as HTTP 429 with Retry-After — and incoming webhooks
 * with a plain `ok`. Every request is recorded, with its arrival time.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface RecordedRequest {
  /** e.g. /api/chat.postMessage or /services/T000/B000/xyz */
  path: string;
  /** The Web API method (chat.postMessage, chat.update, …) or 'webhook'. */
  method: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: Record<string, unknown>;
  at: number;
}

export interface FakeAnswer {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

/** Overrides the answer to one request; return undefined to answer like Slack does. */
export type Responder = (request: RecordedRequest, index: number) => FakeAnswer | undefined;

export const FAKE_CHANNEL_ID = 'C0FAKECHAN';

export interface FakeSlack {
  url: string;
  apiUrl: string;
  requests: RecordedRequest[];
  respond(responder: Responder | undefined): void;
  close(): Promise<void>;
}

export async function startFakeSlack(): Promise<FakeSlack> {
  const requests: RecordedRequest[] = [];
  let responder: Responder | undefined;
  let messages = 0;

  const slackLike = (request: RecordedRequest): FakeAnswer => {
    if (request.method === 'webhook') return { status: 200, body: 'ok' };
    const json = (o: object): FakeAnswer => ({
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(o),
    });
    if (!request.authorization?.startsWith('Bearer ')) return json({ ok: false, error: 'not_authed' });
    switch (request.method) {
      case 'chat.postMessage': {
        messages += 1;
        const ts = `1700000000.${String(messages).padStart(6, '0')}`;
        return json({ ok: true, channel: FAKE_CHANNEL_ID, ts, message: { text: request.body.text, ts } });
      }
      case 'chat.update':
        if (request.body.channel !== FAKE_CHANNEL_ID) return json({ ok: false, error: 'channel_not_found' });
        return json({ ok: true, channel: request.body.channel, ts: request.body.ts, text: request.body.text });
      case 'chat.delete':
        return json({ ok: true, channel: request.body.channel, ts: request.body.ts });
      default:
        return json({ ok: false, error: 'unknown_method' });
    }
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      raw += chunk;
    });
    req.on('end', () => {
      const path = req.url ?? '/';
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        // recorded as empty
      }
      const request: RecordedRequest = {
        path,
        method: path.startsWith('/api/') ? path.slice('/api/'.length) : 'webhook',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
        at: Date.now(),
      };
      const index = requests.push(request) - 1;
      const answer = responder?.(request, index) ?? slackLike(request);
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    apiUrl: `${url}/api`,
    requests,
    respond(next) {
      responder = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Every string in a Block Kit message, joined: what a reader of the message would see. */
export function textOf(body: Record<string, unknown>): string {
  const out: string[] = [];
  const walk = (value: unknown) => {
    if (typeof value === 'string') out.push(value);
    else if (Array.isArray(value)) for (const v of value) walk(v);
    else if (value && typeof value === 'object') for (const v of Object.values(value)) walk(v);
  };
  walk(body.blocks);
  return out.join('\n');
}

/** A writer that keeps everything written to it. */
export function captureWriter(): { text: () => string; lines: string[]; write: (t: string) => void } {
  const lines: string[] = [];
  return { lines, text: () => lines.join(''), write: (t: string) => void lines.push(t) };
}
