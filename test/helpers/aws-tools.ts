/**
 * AWS's own tools as test peers: `cfn-lint` (CloudFormation linter) and `moto_server` (an
 * AWS-protocol server), both from the machine image's Python. They are not npm packages, so a
 * developer's machine may lack them: there the suites that need them are skipped, and say so on
 * the console. CI (CI=true) must not skip them: there a missing tool is a failing test, and
 * .ci/run checks for both before anything runs.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { freePorts } from './local.ts';

export type AwsTool = 'cfn-lint' | 'moto_server';

/** True where a CI run demands every check (the CI runner sets CI=true). */
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/** Whether `tool` runs here (`<tool> --version` exits 0), asked once per process. */
const found = new Map<AwsTool, boolean>();
export function hasTool(tool: AwsTool): boolean {
  let known = found.get(tool);
  if (known === undefined) {
    // moto_server has no --version; -h prints its usage and exits 0.
    const probe = spawnSync(tool, [tool === 'moto_server' ? '-h' : '--version'], { stdio: 'ignore', timeout: 30_000 });
    known = probe.status === 0;
    found.set(tool, known);
  }
  return known;
}

/**
 * Whether the suite needing `tool` should be skipped: only off CI, only when the tool is missing.
 * Prints one plain line when it skips. On CI a missing tool is not skipped: the suite runs and
 * fails on its first use of the tool, with `missingToolMessage`.
 */
export function skipWithout(tool: AwsTool, what: string): boolean {
  if (hasTool(tool) || IN_CI) return false;
  console.warn(`SKIPPED: ${what}: ${tool} is not on PATH (${installHint(tool)}). CI=true makes this a failure.`);
  return true;
}

export function missingToolMessage(tool: AwsTool): string {
  return `${tool} is not on PATH, and CI requires it (${installHint(tool)})`;
}

function installHint(tool: AwsTool): string {
  return tool === 'cfn-lint' ? 'pip install cfn-lint' : "pip install 'moto[server]'";
}

export interface MotoServer {
  /** e.g. http://127.0.0.1:40123: pass as `endpoint` to SDK clients. */
  endpoint: string;
  /** Settings every SDK client pointed at moto needs (any credentials do; moto checks none). */
  client: (region: string) => {
    region: string;
    endpoint: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  /** POSTs to moto's own API, e.g. `/moto-api/config`. */
  motoApi: (path: string, body?: unknown) => Promise<unknown>;
  /** What the server printed so far (its request log and any traceback), for a failing test's message. */
  output: () => string;
  close: () => Promise<void>;
}

/**
 * A moto server on a free loopback port, started for this test file and stopped by its PID.
 * MOTO_PORT tells moto its own port: its Step Functions interpreter calls back into the server
 * (e.g. an SQS task) at localhost:MOTO_PORT.
 */
export async function startMoto(env: Record<string, string> = {}): Promise<MotoServer> {
  if (!hasTool('moto_server')) throw new Error(missingToolMessage('moto_server'));
  // A port taken between the probe and moto's bind makes moto exit: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [port] = await freePorts(1);
    try {
      return await startOn(port as number, env);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function startOn(port: number, env: Record<string, string>): Promise<MotoServer> {
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, ...env, MOTO_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const endpoint = `http://127.0.0.1:${port}`;
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
  };
  // Ready once it answers its own API; a loaded machine may take a while to import moto.
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}):\n${output}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`moto_server did not answer on ${endpoint} within 90 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const motoApi = async (path: string, body?: unknown) => {
    const response = await fetch(`${endpoint}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`moto ${path}: HTTP ${response.status}: ${text}`);
    try {
      return text === '' ? undefined : JSON.parse(text);
    } catch {
      return text; // some of moto's own endpoints answer plain text
    }
  };
  return {
    endpoint,
    client: (region) => ({ region, endpoint, credentials: { accessKeyId: 'moto', secretAccessKey: 'moto' } }),
    motoApi,
    output: () => output,
    close,
  };
}

/**
 * moto 5.2 writes CodeDeploy's createTime/startTime/completeTime as ISO-8601 strings, where AWS
 * sends epoch seconds (the SDK refuses the strings: "Expected real number"). This rewrites those
 * three fields of moto's raw answer to what AWS would have sent, before the SDK parses it; nothing
 * else is touched. For CodeDeploy clients pointed at moto only.
 */
export function withAwsTimes<C extends { middlewareStack: { add: (...args: never[]) => void } }>(client: C): C {
  const stack = client.middlewareStack as unknown as {
    add: (
      middleware: (next: (args: unknown) => Promise<{ response: RawResponse }>) => (args: unknown) => Promise<unknown>,
      // Below the SDK's deserializer (same step, lower priority): `next` answers the raw HTTP response.
      options: { step: 'deserialize'; priority: 'low'; name: string },
    ) => void;
  };
  stack.add(
    (next) => async (args) => {
      const result = await next(args);
      const { response } = result;
      const chunks: Buffer[] = [];
      for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
      const text = Buffer.concat(chunks)
        .toString('utf8')
        .replace(/"(createTime|startTime|completeTime)":\s*"([^"]+)"/g, (_, field: string, iso: string) => {
          const ms = Date.parse(iso);
          return Number.isNaN(ms) ? `"${field}": "${iso}"` : `"${field}": ${ms / 1000}`;
        });
      const body = Buffer.from(text, 'utf8');
      response.body = Readable.from([body]);
      response.headers['content-length'] = String(body.length);
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'motoCodeDeployEpochTimes' },
  );
  return client;
}

interface RawResponse {
  body: unknown;
  headers: Record<string, string>;
}
