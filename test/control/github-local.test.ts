/**
 * POST /github served locally (what `flotilla up` serves): REAL push payloads from
 * @octokit/webhooks-examples, signed by the test's own HMAC (test/github/deliveries.ts), sent over
 * real HTTP to a real control server on a real local backend (dynalite ledger, a real region
 * process) in a temp state dir. A commit's build is a temp directory per sha holding a copy of
 * examples/shop/builds/good, found through FLOTILLA_ARTIFACT_TEMPLATE=<dir>/{commit}.
 */
import { chmod, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type LocalBackend, openLocalBackend, type StartedRelease } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { GITHUB_MAX_BODY_BYTES, GITHUB_SECRET_FILE } from '../../control/github-bridge.ts';
import { MAX_BODY_BYTES } from '../../control/http.ts';
import { controlHandlerFor, githubReleasesFor } from '../../control/local-handler.ts';
import { type ControlServer, type ControlServerOptions, startControlServer } from '../../control/server.ts';
import { delivery, laterPushToMain, pingExample, pushToMain, pushToMaster, SECRET } from '../github/deliveries.ts';
import { type Background, startCli } from '../helpers/cli.ts';
import { asLocal } from '../helpers/fixtures.ts';
import { e2eConfig, GOOD_BUILD, servedVersion, tempDir } from '../helpers/local.ts';

/** The commit the real push example names in `after`. */
const COMMIT = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';
const RELEASE_ID = 'shop-6113728f27ae';

let dir: string;
let builds: string;
let cleanup: () => Promise<void>;
let config: FlotillaConfig;
let backend: LocalBackend;
const started: StartedRelease[] = [];
const logs: Record<string, unknown>[] = [];
/** Every answer POST /github gave, to check none of them carries the secret. */
const answers: string[] = [];
const servers: ControlServer[] = [];
const cleanups: (() => Promise<void>)[] = [];
const running: Background[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('flotilla-github-'));
  config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
  backend = await openLocalBackend({ stateDir: join(dir, 'state'), config });
  builds = join(dir, 'builds');
  await mkdir(builds);
  // CI built this commit: its build directory is there. No other commit's is.
  await cp(GOOD_BUILD, join(builds, COMMIT), { recursive: true });
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const b of running.splice(0)) await b.stop();
  for (const c of cleanups.splice(0)) await c();
});
afterAll(async () => {
  await backend.close();
  await cleanup();
  expect(answers.join('\n')).not.toContain(SECRET);
  expect(JSON.stringify(logs)).not.toContain(SECRET);
});

const configured = () => ({
  FLOTILLA_GITHUB_SECRET: SECRET,
  FLOTILLA_ARTIFACT_TEMPLATE: join(builds, '{commit}'),
});

async function serve(
  env: Record<string, string | undefined> = configured(),
  stateDir = join(dir, 'state'),
  over: Partial<ControlServerOptions> = {},
): Promise<ControlServer> {
  const hooks = { onStarted: (s: StartedRelease) => void started.push(s) };
  const server = await startControlServer({
    stateDir,
    handler: controlHandlerFor(backend, config, hooks),
    github: { releases: githubReleasesFor(backend, config, hooks), env, log: (e) => void logs.push(e) },
    ...over,
  });
  servers.push(server);
  return server;
}

async function otherDir(): Promise<string> {
  const t = await tempDir('flotilla-github-secret-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** Sends a delivery (built by test/github/deliveries.ts) as GitHub does: its headers, its raw body. */
async function deliver(
  url: string,
  event: APIGatewayProxyEventV2,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers = Object.fromEntries(
    Object.entries(event.headers).flatMap(([k, v]) => (k === 'content-length' || v === undefined ? [] : [[k, v]])),
  );
  const res = await fetch(`${url}/github`, {
    method: 'POST',
    headers: { ...headers, ...extraHeaders },
    body: event.body ?? '',
  });
  const text = await res.text();
  answers.push(text);
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
}

const releases = () => backend.ledger.listReleases('shop', 50);

describe('a signed push to main', () => {
  it('starts exactly one release of the commit, which runs to SUCCEEDED; redeliveries start nothing', async () => {
    const server = await serve();
    expect(server.github).toEqual({
      enabled: true,
      url: `${server.url}/github`,
      branch: 'main',
      artifactTemplate: join(builds, '{commit}'),
      secretFrom: 'FLOTILLA_GITHUB_SECRET',
    });
    expect(JSON.stringify(server.github)).not.toContain(SECRET);

    // The same delivery twice at once (GitHub retried, or a duplicate): one starts, one finds it.
    const once = delivery(pushToMain(), { id: '72d3162e-cc78-11e3-81ab-4c9367dc0958' });
    const both = await Promise.all([deliver(server.url, once), deliver(server.url, structuredClone(once))]);
    expect(both.map((a) => a.status)).toEqual([202, 202]);
    expect(both.map((a) => a.body.status).sort()).toEqual(['already started', 'started']);
    for (const answer of both) {
      expect(answer.body).toMatchObject({ releaseId: RELEASE_ID, version: '6113728f27ae', commit: COMMIT });
    }

    // The id the webhook answered is the id that runs.
    expect(started.map((s) => s.releaseId)).toEqual([RELEASE_ID]);
    const outcome = await (started[0] as StartedRelease).done;
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    expect(await servedVersion(asLocal(config.regions[0]?.target).port)).toBe('6113728f27ae');
    expect(await releases()).toEqual([
      expect.objectContaining({
        releaseId: RELEASE_ID,
        version: '6113728f27ae',
        artifact: join(builds, COMMIT),
        status: 'SUCCEEDED',
      }),
    ]);

    // Redelivered after it ended: still that one release.
    const again = await deliver(server.url, structuredClone(once));
    expect(again).toMatchObject({ status: 202, body: { releaseId: RELEASE_ID, status: 'already started' } });
    expect(started).toHaveLength(1);
    expect(await releases()).toHaveLength(1);
    expect(logs.map((l) => l.outcome)).toEqual(['started', 'exists', 'exists']);
  });
});

describe('deliveries that start nothing', () => {
  it('a wrong or missing signature: 401, whatever else it carries (a bearer token is no signature)', async () => {
    const server = await serve();
    const before = await releases();
    const token = (await readFile(join(dir, 'state', 'control-token'), 'utf8')).trim();
    const next = { ...pushToMain(), after: `${'b'.repeat(12)}${COMMIT.slice(12)}` };
    await cp(GOOD_BUILD, join(builds, next.after), { recursive: true });
    for (const event of [
      delivery(next, { secret: 'not-the-secret' }),
      delivery(next, { secret: null }),
      delivery(next, { signature: `sha256=${'0'.repeat(64)}` }),
      // Signed, then the body changed.
      { ...delivery(next), body: JSON.stringify({ ...next, ref: 'refs/heads/main ' }) },
    ]) {
      expect((await deliver(server.url, event)).status).toBe(401);
      expect((await deliver(server.url, event, { authorization: `Bearer ${token}` })).status).toBe(401);
    }
    expect(await releases()).toEqual(before);
    expect(started).toHaveLength(1);
  });

  it('a push to another branch: 202 ignored; a ping: 200', async () => {
    const server = await serve();
    const before = await releases();
    const other = await deliver(server.url, delivery(pushToMaster()));
    expect(other).toEqual({ status: 202, body: { ignored: 'push to refs/heads/master, not refs/heads/main' } });
    const ping = await deliver(server.url, delivery(pingExample(), { event: 'ping' }));
    expect(ping).toEqual({ status: 200, body: { pong: true } });
    expect(await releases()).toEqual(before);
    expect(started).toHaveLength(1);
  });

  it('takes a body over the API’s 64 KiB up to 1 MiB; over that, 413', async () => {
    const server = await serve();
    const before = await releases();
    const big = { ...pushToMaster(), padding: 'x'.repeat(4 * MAX_BODY_BYTES) };
    expect((await deliver(server.url, delivery(big))).status).toBe(202);
    const huge = { ...pushToMain(), padding: 'x'.repeat(GITHUB_MAX_BODY_BYTES) };
    expect((await deliver(server.url, delivery(huge))).status).toBe(413);
    // Sent chunked, with no Content-Length to refuse it by: cut at 1 MiB + 1 byte, then 413.
    const event = delivery(huge);
    const bytes = new TextEncoder().encode(event.body ?? '');
    // Node's fetch streams a request body only with `duplex: 'half'`, which lib.dom's RequestInit lacks.
    const init: RequestInit & { duplex: 'half' } = {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': 'x' },
      body: new ReadableStream({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 64 * 1024) controller.enqueue(bytes.subarray(at, at + 64 * 1024));
          controller.close();
        },
      }),
      duplex: 'half',
    };
    const chunked = await fetch(`${server.url}/github`, init);
    expect(chunked.status).toBe(413);
    expect(await releases()).toEqual(before);
  });

  it('a commit with no build directory: 500, nothing recorded (a redelivery can try again)', async () => {
    const server = await serve();
    const before = await releases();
    // A later push than the first test's (pushes are ordered by repository.pushed_at).
    const unbuilt = laterPushToMain(`${'c'.repeat(12)}${COMMIT.slice(12)}`, 60);
    const answer = await deliver(server.url, delivery(unbuilt));
    expect(answer).toMatchObject({ status: 500, body: { releaseId: 'shop-cccccccccccc' } });
    expect(answer.body.error).toMatch(/BuildMissing/);
    expect(await releases()).toEqual(before);
    // Redelivered: the newest push seen is that same commit, so it tries again (not stale).
    const again = await deliver(server.url, delivery(unbuilt));
    expect(again).toMatchObject({ status: 500, body: { releaseId: 'shop-cccccccccccc' } });
    expect(started).toHaveLength(1);
  });
});

describe('a redelivered older push', () => {
  it('A fails (no build), B ships, A is resent: A is stale, starts nothing, and every region stays on B', async () => {
    const server = await serve();
    const port = asLocal(config.regions[0]?.target).port;
    // Later than every push of the other tests in this file.
    const a = laterPushToMain(`${'d'.repeat(12)}${COMMIT.slice(12)}`, 1_000);
    const b = laterPushToMain(`${'e'.repeat(12)}${COMMIT.slice(12)}`, 2_000, a.after);
    const deliveryOfA = delivery(a);

    const first = await deliver(server.url, deliveryOfA);
    expect(first).toMatchObject({ status: 500, body: { releaseId: 'shop-dddddddddddd' } });

    await cp(GOOD_BUILD, join(builds, b.after), { recursive: true });
    const count = started.length;
    const second = await deliver(server.url, delivery(b));
    expect(second).toMatchObject({ status: 202, body: { releaseId: 'shop-eeeeeeeeeeee', status: 'started' } });
    expect(started).toHaveLength(count + 1);
    expect(await (started.at(-1) as StartedRelease).done).toMatchObject({ status: 'SUCCEEDED' });
    expect(await servedVersion(port)).toBe('eeeeeeeeeeee');

    // A's build is there now: only its age keeps the resent delivery from downgrading the region.
    await cp(GOOD_BUILD, join(builds, a.after), { recursive: true });
    const before = await releases();
    const third = await deliver(server.url, structuredClone(deliveryOfA));
    expect(third).toEqual({
      status: 202,
      body: {
        status: 'stale',
        ignored: `stale: ${a.after} is older than ${b.after} already seen for main`,
        commit: a.after,
        newest: b.after,
      },
    });
    expect(started).toHaveLength(count + 1);
    expect(await releases()).toEqual(before);
    expect(await servedVersion(port)).toBe('eeeeeeeeeeee');
    expect(logs.at(-1)).toMatchObject({ outcome: 'stale', commit: a.after, newest: b.after });

    // A person can still release that commit by hand: the webhook's order never blocks it.
    const byHand = await backend.start({ version: 'dddddddddddd', artifact: join(builds, a.after) });
    expect(await byHand.done).toMatchObject({ status: 'SUCCEEDED' });
    expect(await servedVersion(port)).toBe('dddddddddddd');
  });
});

describe('settings', () => {
  it('no secret, or no artifact template, or not asked to serve it: POST /github is an unknown route (404)', async () => {
    const stateDir = await otherDir();
    const noSecret = await serve({ FLOTILLA_ARTIFACT_TEMPLATE: join(builds, '{commit}') }, stateDir);
    expect(noSecret.github).toEqual({ enabled: false, why: expect.stringMatching(/no webhook secret/) });
    const noTemplate = await serve({ FLOTILLA_GITHUB_SECRET: SECRET }, stateDir);
    expect(noTemplate.github).toEqual({
      enabled: false,
      why: expect.stringMatching(/FLOTILLA_ARTIFACT_TEMPLATE is not/),
    });
    expect(JSON.stringify(noTemplate.github)).not.toContain(SECRET);
    const notAsked = await serve(configured(), stateDir, { github: undefined });
    expect(notAsked.github.enabled).toBe(false);
    const before = await releases();
    for (const server of [noSecret, noTemplate, notAsked]) {
      const answer = await deliver(server.url, delivery(pushToMain()));
      expect(answer).toEqual({ status: 404, body: { name: 'NotFound', error: 'no route POST /github' } });
      // The rest of the API still wants its token.
      expect((await fetch(`${server.url}/v1/where`)).status).toBe(401);
    }
    expect(await releases()).toEqual(before);
  });

  it('refuses a secret file readable by others at startup, saying so without the secret; takes it at 0600', async () => {
    const stateDir = await otherDir();
    const path = join(stateDir, GITHUB_SECRET_FILE);
    const secret = 'file-secret-9b2e4d71';
    await writeFile(path, `${secret}\n`, { mode: 0o644 });
    const env = { FLOTILLA_ARTIFACT_TEMPLATE: join(builds, '{commit}') };
    const refused = serve(env, stateDir);
    await expect(refused).rejects.toMatchObject({
      name: 'InsecureSecret',
      message: expect.stringMatching(/0644, wider than 0600.*chmod 600/),
    });
    expect(((await refused.catch((e: unknown) => e)) as Error).message).not.toContain(secret);

    await chmod(path, 0o600);
    const server = await serve(env, stateDir);
    expect(server.github).toMatchObject({ enabled: true, secretFrom: path });
    expect(JSON.stringify(server.github)).not.toContain(secret);
    const ping = delivery(pingExample(), { event: 'ping', secret });
    expect((await deliver(server.url, ping)).status).toBe(200);
    expect((await deliver(server.url, delivery(pingExample(), { event: 'ping' }))).status).toBe(401);
  });

  it('refuses a template that names one build for every commit', async () => {
    await expect(serve({ ...configured(), FLOTILLA_ARTIFACT_TEMPLATE: GOOD_BUILD }, await otherDir())).rejects.toThrow(
      /must contain \{commit\} or \{version\}/,
    );
  });
});

describe('flotilla up', () => {
  async function workspace(): Promise<string> {
    const t = await tempDir('flotilla-github-up-');
    cleanups.push(t.cleanup);
    // Ports of its own: the region of the tests above may still run on theirs.
    await writeFile(
      join(t.dir, 'flotilla.yml'),
      stringify(await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]])),
    );
    return t.dir;
  }

  it('says where the webhook is, serves it there, and never prints the secret', async () => {
    const cwd = await workspace();
    const up = startCli(['up'], cwd, configured());
    running.push(up);
    await up.waitForOutput(/GitHub webhook on http:\/\/127\.0\.0\.1:\d+\/github \(pushes to main;/);
    const control = JSON.parse(await readFile(join(cwd, '.flotilla', 'control.json'), 'utf8')) as { port: number };
    expect(up.output().stdout).toContain(`GitHub webhook on http://127.0.0.1:${control.port}/github`);
    const ping = delivery(pingExample(), { event: 'ping', id: 'ping-from-the-test' });
    expect((await deliver(`http://127.0.0.1:${control.port}`, ping)).status).toBe(200);
    await up.waitForOutput(/GitHub ping ping-from-the-test: pong/);
    await up.stop();
    const { stdout, stderr } = up.output();
    expect(`${stdout}${stderr}`).not.toContain(SECRET);
  });

  it('says the webhook is off, and why, when no secret is set', async () => {
    const cwd = await workspace();
    const up = startCli(['up'], cwd, { FLOTILLA_GITHUB_SECRET: '', FLOTILLA_ARTIFACT_TEMPLATE: '' });
    running.push(up);
    await up.waitForOutput(/flotilla up: GitHub webhook off: no webhook secret/);
  });
});
