/**
 * HTTP HealthProber: GETs of a region's health URL, one after the other. Locally the URL is the
 * region process on 127.0.0.1; a CodeDeploy region may name its own `healthUrl` (http or https).
 */
import http from 'node:http';
import https from 'node:https';
import type { GateSettings, RegionTarget } from '../../config/types.ts';
import type { HealthProber, ProbeRequest, ProbeSample } from '../../ports/health-prober.ts';

const MAX_BODY_BYTES = 64 * 1024;

/** No keep-alive: every probe opens its own connection, so a dead or replaced process is seen at once. */
const agents = { 'http:': new http.Agent({ keepAlive: false }), 'https:': new https.Agent({ keepAlive: false }) };

/** The URL the gate probes for a target, or null when it has none. */
export function healthUrlOf(target: RegionTarget, gate: GateSettings): URL | null {
  if (target.kind === 'local-process') return new URL(`http://127.0.0.1:${target.port}${gate.healthPath}`);
  return target.healthUrl ? new URL(target.healthUrl) : null;
}

/** `count` probes of one URL, `gate.probeSpacingMs` apart. */
export async function probeUrl(
  url: URL,
  count: number,
  gate: GateSettings,
  expectedVersion: string | null,
): Promise<ProbeSample[]> {
  const samples: ProbeSample[] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0) await sleep(gate.probeSpacingMs);
    samples.push(await probeOnce(url, gate.probeTimeoutMs, expectedVersion));
  }
  return samples;
}

export class HttpHealthProber implements HealthProber {
  async probe(request: ProbeRequest): Promise<ProbeSample[]> {
    const { gate, target, expectedVersion } = request;
    const url = healthUrlOf(target, gate);
    if (!url) return [{ kind: 'missing', message: `${request.region}: no health URL configured` }];
    return probeUrl(url, request.count, gate, expectedVersion);
  }
}

type RawAnswer =
  | { kind: 'response'; status: number; body: string }
  | { kind: 'timeout' }
  | { kind: 'failed'; code: string | undefined; message: string };

async function probeOnce(url: URL, timeoutMs: number, expectedVersion: string | null): Promise<ProbeSample> {
  const answer = await get(url, timeoutMs);
  if (answer.kind === 'timeout') return { kind: 'missing', message: `no answer within ${timeoutMs} ms` };
  if (answer.kind === 'failed') return { kind: 'error', message: describeFailure(answer, url.host) };

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

function get(url: URL, timeoutMs: number): Promise<RawAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (answer: RawAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const client = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:'];
    const req = client.get(url, { agent }, (res) => {
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

function describeFailure(answer: { code: string | undefined; message: string }, host: string): string {
  switch (answer.code) {
    case 'ECONNREFUSED':
      return `connection refused on ${host} (nothing listening)`;
    case 'ECONNRESET':
      return `connection reset on ${host}`;
    default:
      return `request to ${host} failed: ${answer.message}`;
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
