/**
 * Local HealthProber: HTTP GETs against a region's process on 127.0.0.1, one after the other.
 */
import http from 'node:http';
import type { HealthProber, ProbeRequest, ProbeSample } from '../../ports/health-prober.ts';

const MAX_BODY_BYTES = 64 * 1024;

/** No keep-alive: every probe opens its own connection, so a dead or replaced process is seen at once. */
const agent = new http.Agent({ keepAlive: false });

export class HttpHealthProber implements HealthProber {
  async probe(request: ProbeRequest): Promise<ProbeSample[]> {
    const { gate, target, expectedVersion } = request;
    const samples: ProbeSample[] = [];
    for (let i = 0; i < request.count; i++) {
      if (i > 0) await sleep(gate.probeSpacingMs);
      samples.push(await probeOnce(target.port, gate.healthPath, gate.probeTimeoutMs, expectedVersion));
    }
    return samples;
  }
}

type RawAnswer =
  | { kind: 'response'; status: number; body: string }
  | { kind: 'timeout' }
  | { kind: 'failed'; code: string | undefined; message: string };

async function probeOnce(
  port: number,
  healthPath: string,
  timeoutMs: number,
  expectedVersion: string | null,
): Promise<ProbeSample> {
  const answer = await get(port, healthPath, timeoutMs);
  if (answer.kind === 'timeout') return { kind: 'missing', message: `no answer within ${timeoutMs} ms` };
  if (answer.kind === 'failed') return { kind: 'error', message: describeFailure(answer, port) };

  const { status, body } = answer;
  const parsed = parseBody(body);
  const version = parsed?.version;
  if (status < 200 || status > 299) {
    const detail = parsed?.error ?? (parsed ? undefined : snippet(body));
    return {
      kind: 'error',
      status,
      ...(version !== undefined ? { version } : {}),
      message: `HTTP ${status}${detail ? `: ${detail}` : ''}`,
    };
  }
  if (!parsed) return { kind: 'error', status, message: `HTTP ${status} but the body is not JSON: ${snippet(body)}` };
  if (version === undefined) return { kind: 'error', status, message: `HTTP ${status} but the body has no version` };
  if (expectedVersion !== null && version !== expectedVersion) {
    return { kind: 'error', status, version, message: `reports version ${version}, expected ${expectedVersion}` };
  }
  return { kind: 'ok', status, version };
}

function get(port: number, healthPath: string, timeoutMs: number): Promise<RawAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (answer: RawAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const req = http.get({ host: '127.0.0.1', port, path: healthPath, agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      });
      res.on('end', () =>
        settle({ kind: 'response', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (err: NodeJS.ErrnoException) => settle({ kind: 'failed', code: err.code, message: err.message }));
    });
    // A hard deadline for the whole exchange (connect, headers and body), not just socket idleness.
    const timer = setTimeout(() => {
      settle({ kind: 'timeout' });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => settle({ kind: 'failed', code: err.code, message: err.message }));
  });
}

function describeFailure(answer: { code: string | undefined; message: string }, port: number): string {
  switch (answer.code) {
    case 'ECONNREFUSED':
      return `connection refused on 127.0.0.1:${port} (nothing listening)`;
    case 'ECONNRESET':
      return `connection reset on 127.0.0.1:${port}`;
    default:
      return `request to 127.0.0.1:${port} failed: ${answer.message}`;
  }
}

interface HealthBody {
  version?: string;
  error?: string;
}

function parseBody(body: string): HealthBody | null {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  const out: HealthBody = {};
  if (typeof record.version === 'string') out.version = record.version;
  if (typeof record.error === 'string') out.error = record.error;
  return out;
}

function snippet(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(empty body)';
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
