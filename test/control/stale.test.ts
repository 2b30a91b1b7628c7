/**
 * The CLI reaches its own control server only, as real `flotilla` processes do it: a control.json
 * naming a port where something else listens (a plain HTTP server here, answering everything as a
 * control server would) gets no token and no Authorization header, and is removed; one left by an
 * `up` killed with SIGKILL is detected and replaced; every `up` writes a new token.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Background, runCli, startCli } from '../helpers/cli.ts';
import { e2eConfig, tempDir } from '../helpers/local.ts';

const cleanups: (() => Promise<void>)[] = [];
const running: Background[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop();
  for (const c of cleanups.splice(0)) await c();
});

async function workspace(): Promise<{ dir: string; stateDir: string }> {
  const t = await tempDir('flotilla-stale-');
  cleanups.push(t.cleanup);
  await writeFile(join(t.dir, 'flotilla.yml'), stringify(await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]])));
  return { dir: t.dir, stateDir: join(t.dir, '.flotilla') };
}

async function up(dir: string): Promise<Background> {
  const b = startCli(['up'], dir);
  running.push(b);
  await b.waitForOutput(/control API on http:\/\/127\.0\.0\.1:\d+/);
  return b;
}

const tokenOf = async (stateDir: string) => (await readFile(join(stateDir, 'control-token'), 'utf8')).trim();
const controlOf = async (stateDir: string) =>
  JSON.parse(await readFile(join(stateDir, 'control.json'), 'utf8')) as { port: number; pid: number };

/** A plain HTTP server on a free port that answers 200 `{ok, pid}` to anything, and keeps every byte it is sent. */
async function impostor(): Promise<{ port: number; heard: () => string }> {
  const chunks: Buffer[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, pid: process.pid, proof: '0'.repeat(64), releases: [], intents: [] }));
  });
  server.on('connection', (socket) => socket.on('data', (c: Buffer) => chunks.push(c)));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  cleanups.push(
    () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  );
  return { port: (server.address() as AddressInfo).port, heard: () => Buffer.concat(chunks).toString('latin1') };
}

describe('a control.json naming another program', () => {
  it('gets no token from status or pause; the file is removed and the commands work on the state dir', async () => {
    const { dir, stateDir } = await workspace();
    // A real `up` leaves a token behind; then its control.json names a port another program holds.
    const first = await up(dir);
    const token = await tokenOf(stateDir);
    expect(await first.stop('SIGINT')).toBe(0);
    const fake = await impostor();
    const stale = JSON.stringify({ port: fake.port, pid: process.pid });
    await writeFile(join(stateDir, 'control.json'), stale);

    const status = await runCli(['status'], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stderr).toMatch(/no releases yet/);
    expect(fake.heard()).toMatch(/^GET \/v1\/challenge\?nonce=[0-9a-f]{64} HTTP\/1\.1/);
    expect(existsSync(join(stateDir, 'control.json'))).toBe(false);

    await writeFile(join(stateDir, 'control.json'), stale);
    const pause = await runCli(['pause', '--reason', 'checking', '--actor', 'alice@test'], dir);
    expect(pause.code).toBe(4); // the state dir itself says: no release runs
    expect(pause.stderr).toMatch(/no release running/);
    expect(existsSync(join(stateDir, 'control.json'))).toBe(false);

    const heard = fake.heard();
    expect(heard).not.toMatch(/authorization/i);
    expect(heard).not.toContain(token);
    // Only challenges: not one request for a route.
    expect(heard.match(/^(GET|POST) \S+/gm)?.every((line) => line.startsWith('GET /v1/challenge?'))).toBe(true);
  });
});

describe('an `up` killed with SIGKILL', () => {
  it('leaves a control.json the next command detects as stale and replaces; every `up` has a new token', async () => {
    const { dir, stateDir } = await workspace();
    const killed = await up(dir);
    const first = await tokenOf(stateDir);
    const left = await controlOf(stateDir);
    expect(await killed.stop('SIGKILL')).toBe(128);
    expect(existsSync(join(stateDir, 'control.json'))).toBe(true);

    const status = await runCli(['status'], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stderr).toMatch(/no releases yet/);
    expect(existsSync(join(stateDir, 'control.json'))).toBe(false);

    // The next `up` starts (not "already served") with a new token; the old one is refused.
    const second = await up(dir);
    const next = await tokenOf(stateDir);
    expect(next).not.toBe(first);
    const now = await controlOf(stateDir);
    expect(now.pid).not.toBe(left.pid);
    const at = `http://127.0.0.1:${now.port}/v1/where`;
    expect((await fetch(at, { headers: { authorization: `Bearer ${first}` } })).status).toBe(401);
    expect((await fetch(at, { headers: { authorization: `Bearer ${next}` } })).status).toBe(200);
    // Commands go through it.
    const where = await runCli(['where', '--json'], dir);
    expect(where.code, where.stderr).toBe(0);
    expect(JSON.parse(where.stdout).regions).toMatchObject([{ region: 'us-east-1', version: null, since: null }]);

    // And an `up` after a clean stop gets a new one too.
    expect(await second.stop('SIGINT')).toBe(0);
    await up(dir);
    const third = await tokenOf(stateDir);
    expect(third).not.toBe(next);
    expect(third).not.toBe(first);
  });
});
