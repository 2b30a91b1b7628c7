/**
 * The control API over real HTTP on 127.0.0.1, served from a real local backend (dynalite ledger
 * in a temp state dir): the token guards everything, the server proves it holds the token before a
 * client sends it, bad requests change nothing, intents land in the ledger with who and why.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { challengeProof, proofMatches } from '../../control/auth.ts';
import { controlClient, findControlServer } from '../../control/client.ts';
import { MAX_BODY_BYTES } from '../../control/http.ts';
import { controlHandlerFor } from '../../control/local-handler.ts';
import { type ControlServer, startControlServer } from '../../control/server.ts';
import { recordWith } from '../helpers/fixtures.ts';
import { e2eConfig, tempDir } from '../helpers/local.ts';

let dir: string;
let cleanup: () => Promise<void>;
let config: FlotillaConfig;
let backend: LocalBackend;
const servers: ControlServer[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('flotilla-control-'));
  config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }], [{ name: 'eu-west-1', currency: 'EUR' }]]);
  backend = await openLocalBackend({ stateDir: dir, config });
  // A release in flight, as PlanRelease records it: intents about it are accepted.
  await backend.ledger.createRelease(
    recordWith([
      { region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' },
      { region: 'eu-west-1', wave: 1, phase: 'pending', before: '1.0.0' },
    ]),
  );
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const c of cleanups.splice(0)) await c();
});
afterAll(async () => {
  await backend.close();
  await cleanup();
});

async function serve(stateDir = dir): Promise<{ server: ControlServer; token: string }> {
  const server = await startControlServer({ stateDir, handler: controlHandlerFor(backend, config) });
  servers.push(server);
  const token = (await readFile(join(stateDir, 'control-token'), 'utf8')).trim();
  return { server, token };
}

async function otherDir(): Promise<string> {
  const t = await tempDir('flotilla-control-token-');
  cleanups.push(t.cleanup);
  return t.dir;
}

async function api(
  server: ControlServer,
  path: string,
  init: { method?: string; body?: string; token?: string | null } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(`${server.url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const pause = (over: object = {}) =>
  JSON.stringify({
    verb: 'pause',
    releaseId: 'shop-2.0.0',
    reason: 'checking a graph',
    actor: 'alice@laptop',
    ...over,
  });

async function everyIntent() {
  return [
    ...(await backend.ledger.listIntents('shop', 'shop-2.0.0')),
    ...(await backend.ledger.listIntents('shop', null)),
  ];
}

describe('the token', () => {
  it('is refused when missing or wrong, and the handler is never reached: nothing is recorded', async () => {
    const { server, token } = await serve();
    const before = await everyIntent();
    const wrongSameLength = randomBytes(32).toString('hex');
    expect(wrongSameLength).toHaveLength(token.length);
    const attempts: (string | null)[] = [null, wrongSameLength, 'short', `${token}0`, token.slice(0, -1)];
    for (const attempt of attempts) {
      for (const body of [pause(), JSON.stringify({ verb: 'freeze', reason: 'r', actor: 'mallory' })]) {
        const res = await api(server, '/v1/intents', { method: 'POST', body, token: attempt });
        expect(res.status).toBe(401);
        expect(res.body.error).toEqual(expect.any(String));
      }
    }
    // Another scheme carrying the right token is no bearer token.
    const basic = await fetch(`${server.url}/v1/where`, { headers: { authorization: `Basic ${token}` } });
    expect(basic.status).toBe(401);
    // Reads and unknown routes too: nothing answers without it.
    expect((await api(server, '/v1/releases/shop-2.0.0', { token: wrongSameLength })).status).toBe(401);
    expect((await api(server, '/v1/nope')).status).toBe(401);
    expect(await everyIntent()).toEqual(before);
  });

  it('guards the dashboard login route too: without it 401; with it, 404 where no dashboard is mounted', async () => {
    const { server, token } = await serve();
    const bare = await fetch(`${server.url}/v1/dashboard/login`, { method: 'POST' });
    expect(bare.status).toBe(401);
    const none = await fetch(`${server.url}/v1/dashboard/login`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(none.status).toBe(404);
    // Nor is the dashboard's page served by a server that mounts none.
    expect((await fetch(`${server.url}/`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
  });

  it('is written with mode 0600, a new one at every start: the previous one is refused', async () => {
    const stateDir = await otherDir();
    const { server, token } = await serve(stateDir);
    expect((await stat(join(stateDir, 'control-token'))).mode & 0o777).toBe(0o600);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    await server.close();
    const again = await serve(stateDir);
    expect(again.token).toMatch(/^[0-9a-f]{64}$/);
    expect(again.token).not.toBe(token);
    expect((await stat(join(stateDir, 'control-token'))).mode & 0o777).toBe(0o600);
    expect((await api(again.server, '/v1/where', { token })).status).toBe(401);
    expect((await api(again.server, '/v1/where', { token: again.token })).status).toBe(200);
  });

  it('a token file readable by others is replaced by a private one at start, and no client uses it', async () => {
    const stateDir = await otherDir();
    const path = join(stateDir, 'control-token');
    const leaked = randomBytes(32).toString('hex');
    await writeFile(path, `${leaked}\n`);
    await chmod(path, 0o644);
    const { server, token } = await serve(stateDir);
    expect(token).not.toBe(leaked);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await api(server, '/v1/where', { token: leaked })).status).toBe(401);
    // Someone widens it while the server runs: the client refuses to read it, saying so.
    await chmod(path, 0o644);
    await expect(findControlServer(stateDir)).rejects.toMatchObject({
      name: 'InsecureToken',
      message: expect.stringMatching(/0644.*wider than 0600/),
    });
  });
});

describe('the challenge', () => {
  it('is answered without the token by HMAC(token, port and nonce), which only the token holder can give', async () => {
    const { server, token } = await serve();
    const nonce = randomBytes(32).toString('hex');
    const res = await api(server, `/v1/challenge?nonce=${nonce}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ proof: challengeProof(token, server.port, nonce) });
    expect(proofMatches(res.body.proof, token, server.port, nonce)).toBe(true);
    // Bound to the nonce, the port and the token: a relayed answer or another server's is no proof.
    expect(proofMatches(res.body.proof, token, server.port + 1, nonce)).toBe(false);
    expect(proofMatches(res.body.proof, token, server.port, randomBytes(32).toString('hex'))).toBe(false);
    expect(proofMatches(res.body.proof, randomBytes(32).toString('hex'), server.port, nonce)).toBe(false);
    expect(JSON.stringify(res.body)).not.toContain(token);
    for (const bad of ['', 'short', nonce.toUpperCase(), `${nonce}0`]) {
      expect((await api(server, `/v1/challenge?nonce=${bad}`)).status).toBe(400);
    }
  });
});

describe('requests', () => {
  it('answers 413 to a body over 64 KiB, 400 to bad JSON or fields, 404 to an unknown route', async () => {
    const { server, token } = await serve();
    const before = await everyIntent();
    const huge = pause({ reason: 'x'.repeat(MAX_BODY_BYTES) });
    expect((await api(server, '/v1/intents', { method: 'POST', body: huge, token })).status).toBe(413);
    const bad = await api(server, '/v1/intents', { method: 'POST', body: '{"verb": "pause",', token });
    expect(bad).toMatchObject({ status: 400, body: { error: expect.stringMatching(/JSON/) } });
    const unknownVerb = await api(server, '/v1/intents', { method: 'POST', body: pause({ verb: 'explode' }), token });
    expect(unknownVerb.status).toBe(400);
    const extra = await api(server, '/v1/intents', { method: 'POST', body: pause({ colour: 'red' }), token });
    expect(extra).toMatchObject({ status: 400, body: { error: expect.stringMatching(/colour/) } });
    expect((await api(server, '/v1/nope', { token })).status).toBe(404);
    expect((await api(server, '/v1/releases/shop-9.9.9', { token })).status).toBe(404);
    expect(await everyIntent()).toEqual(before);
  });

  it('records a valid intent (201) with its actor and reason, and lists it under the release', async () => {
    const { server, token } = await serve();
    const res = await api(server, '/v1/intents', { method: 'POST', body: pause(), token });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ verb: 'pause', releaseId: 'shop-2.0.0', actor: 'alice@laptop' });
    const recorded = await backend.ledger.listIntents('shop', 'shop-2.0.0');
    expect(recorded.at(-1)).toMatchObject({
      id: res.body.id,
      verb: 'pause',
      actor: 'alice@laptop',
      reason: 'checking a graph',
    });
    const release = await api(server, '/v1/releases/shop-2.0.0', { token });
    expect(release.status).toBe(200);
    expect(release.body).toMatchObject({ status: 'RUNNING', intents: expect.arrayContaining([res.body]) });
    const history = await api(server, '/v1/releases?limit=5', { token });
    expect(history.body.releases).toEqual([expect.objectContaining({ releaseId: 'shop-2.0.0' })]);
    const where = await api(server, '/v1/where', { token });
    expect(where.body).toEqual({
      service: 'shop',
      regions: [
        {
          region: 'us-east-1',
          version: null,
          since: null,
          releaseId: null,
          process: { state: 'down', portTaken: false },
        },
        {
          region: 'eu-west-1',
          version: null,
          since: null,
          releaseId: null,
          process: { state: 'down', portTaken: false },
        },
      ],
    });
  });

  it('answers 404 for a release that does not exist and 409 with the name when the intent does not apply', async () => {
    const { server, token } = await serve();
    const res = await api(server, '/v1/intents', {
      method: 'POST',
      body: pause({ releaseId: 'shop-9.9.9' }),
      token,
    });
    expect(res).toMatchObject({
      status: 404,
      body: { name: 'NotFound', error: expect.stringMatching(/9\.9\.9/) },
    });
    const skip = await api(server, '/v1/intents', {
      method: 'POST',
      body: pause({ verb: 'skip-region', region: 'us-east-1' }),
      token,
    });
    expect(skip).toMatchObject({
      status: 409,
      body: { name: 'NotApplicable', error: expect.stringMatching(/too late/) },
    });
  });
});

describe('the client', () => {
  it('finds the server, records and reads through it, and turns errors into named Errors', async () => {
    const { server, token } = await serve();
    const endpoint = await findControlServer(dir);
    expect(endpoint).toEqual({ url: server.url, token });
    if (!endpoint) throw new Error('unreachable');
    const client = controlClient(endpoint);
    const freeze = await client.intent({ verb: 'freeze', reason: 'quarter end', actor: 'bob@ci' });
    expect(freeze).toMatchObject({ releaseId: null, verb: 'freeze', actor: 'bob@ci' });
    expect(await client.globalIntents()).toContainEqual(freeze);
    await expect(
      client.intent({ verb: 'abort', releaseId: 'shop-0', reason: 'r', actor: 'bob@ci' }),
    ).rejects.toMatchObject({ name: 'NotFound' });
    // A client holding another token finds the server unproven, and sends it nothing.
    const stranger = controlClient({ url: server.url, token: randomBytes(32).toString('hex') });
    await expect(stranger.where()).rejects.toMatchObject({
      name: 'ControlUnproven',
      message: expect.stringMatching(/does not hold the token/),
    });
    expect(await client.findRelease('shop-9.9.9')).toBeUndefined();
  });
});

describe('control.json', () => {
  it('a program relaying to the real server cannot pass its proof off as its own: the token never crosses it', async () => {
    const { server, token } = await serve();
    const heard: Buffer[] = [];
    const relay = createNetServer((inbound) => {
      const outbound = connect(server.port, '127.0.0.1');
      inbound.on('data', (chunk: Buffer) => heard.push(chunk));
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('error', () => outbound.destroy());
      outbound.on('error', () => inbound.destroy());
    });
    await new Promise<void>((ok) => relay.listen(0, '127.0.0.1', ok));
    cleanups.push(() => new Promise((ok) => relay.close(() => ok())));
    const { port } = relay.address() as AddressInfo;
    await expect(controlClient({ url: `http://127.0.0.1:${port}`, token }).where()).rejects.toMatchObject({
      name: 'ControlUnproven',
      message: expect.stringMatching(/does not hold the token/),
    });
    const said = Buffer.concat(heard).toString('latin1');
    expect(said).toMatch(/^GET \/v1\/challenge\?nonce=/);
    expect(said).not.toContain(token);
    expect(said).not.toMatch(/authorization/i);
  });

  it('says where the server is, and goes when it closes', async () => {
    const stateDir = await otherDir();
    const { server } = await serve(stateDir);
    const path = join(stateDir, 'control.json');
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ port: server.port, pid: process.pid });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    await server.close();
    expect(existsSync(path)).toBe(false);
    expect(await findControlServer(stateDir)).toBeUndefined();
    await expect(fetch(`${server.url}/v1/where`)).rejects.toThrow();
  });

  it('is left alone on close when another server has written its own since', async () => {
    const stateDir = await otherDir();
    const { server } = await serve(stateDir);
    const path = join(stateDir, 'control.json');
    await writeFile(path, JSON.stringify({ port: server.port + 1, pid: process.pid }));
    await server.close();
    expect(existsSync(path)).toBe(true);
  });

  it('names no server when the process it names is gone, and is removed as stale', async () => {
    const stateDir = await otherDir();
    await writeFile(join(stateDir, 'control.json'), JSON.stringify({ port: 1, pid: 2 ** 22 + 12345 }));
    await writeFile(join(stateDir, 'control-token'), 'x'.repeat(64), { mode: 0o600 });
    expect(await findControlServer(stateDir)).toBeUndefined();
    expect(existsSync(join(stateDir, 'control.json'))).toBe(false);
  });

  it('names no server, and is removed, when whatever listens on its port fails the challenge: it gets no token', async () => {
    const stateDir = await otherDir();
    const token = randomBytes(32).toString('hex');
    await writeFile(join(stateDir, 'control-token'), `${token}\n`, { mode: 0o600 });
    const heard: Buffer[] = [];
    // Answers everything as a control server would, pid and all; it just cannot prove the token.
    const fake = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, pid: process.pid, proof: randomBytes(32).toString('hex') }));
    });
    fake.on('connection', (socket) => socket.on('data', (chunk: Buffer) => heard.push(chunk)));
    await new Promise<void>((ok) => fake.listen(0, '127.0.0.1', ok));
    cleanups.push(() => new Promise((ok) => fake.close(() => ok())));
    const { port } = fake.address() as AddressInfo;
    await writeFile(join(stateDir, 'control.json'), JSON.stringify({ port, pid: process.pid }));
    expect(await findControlServer(stateDir)).toBeUndefined();
    expect(existsSync(join(stateDir, 'control.json'))).toBe(false);
    const said = Buffer.concat(heard).toString('latin1');
    expect(said).toMatch(/^GET \/v1\/challenge\?nonce=[0-9a-f]{64} /);
    expect(said).not.toMatch(/authorization/i);
    expect(said).not.toContain(token);
    // A client told to use it anyway sends nothing after the challenge either.
    await expect(controlClient({ url: `http://127.0.0.1:${port}`, token }).where()).rejects.toMatchObject({
      name: 'ControlUnproven',
    });
    expect(Buffer.concat(heard).toString('latin1')).not.toContain(token);
    expect(Buffer.concat(heard).toString('latin1')).not.toMatch(/authorization|\/v1\/where/i);
  });
});
