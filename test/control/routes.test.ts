/**
 * The control API's routing and request schemas over real HTTP on 127.0.0.1, in front of a handler
 * that only records what reached it: a request the schemas refuse is a 400 naming what is wrong,
 * and never reaches the handler.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ControlHandler } from '../../control/routes.ts';
import { INTENT_VERBS } from '../../control/schemas.ts';
import { type ControlServer, startControlServer } from '../../control/server.ts';
import type { Intent } from '../../core/control.ts';
import { VERBS } from '../../core/verbs.ts';
import { tempDir } from '../helpers/local.ts';

const calls: [string, unknown][] = [];

const handler: ControlHandler = {
  intent: async (request) => {
    calls.push(['intent', request]);
    return { ...request, id: 'i-1', service: 'shop', at: '2026-12-01T00:00:00Z' } as unknown as Intent;
  },
  start: async (request) => {
    calls.push(['start', request]);
    return { releaseId: 'shop-1' };
  },
  rollback: async (releaseId, who) => {
    calls.push(['rollback', { releaseId, ...who }]);
    return { releaseId: `${releaseId}-rollback` };
  },
  getRelease: async (releaseId) => {
    calls.push(['getRelease', releaseId]);
    return undefined;
  },
  listReleases: async (limit) => {
    calls.push(['listReleases', limit]);
    return [];
  },
  listIntents: async () => [],
  where: async () => ({ service: 'shop', regions: [] }),
};

let server: ControlServer;
let token: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const t = await tempDir('flotilla-routes-');
  cleanup = t.cleanup;
  server = await startControlServer({ stateDir: t.dir, handler });
  token = (await readFile(join(t.dir, 'control-token'), 'utf8')).trim();
});
afterAll(async () => {
  await server.close();
  await cleanup();
});
beforeEach(() => {
  calls.length = 0;
});

async function api(path: string, method = 'GET', body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as { error?: string; name?: string } };
}

const intent = { verb: 'pause', releaseId: 'shop-1', reason: 'a graph', actor: 'alice' };

describe('request bodies are strict', () => {
  it.each([
    ['/v1/intents', intent],
    ['/v1/releases', { artifact: '/builds/1', version: '1.0.0' }],
    ['/v1/rollbacks', { releaseId: 'shop-1', actor: 'alice', reason: 'bad' }],
  ])('POST %s: an unknown field is a 400 naming it, and the handler is never called', async (path, body) => {
    const answer = await api(path, 'POST', { ...body, colour: 'red', reaosn: 'typo' });
    expect(answer).toEqual({ status: 400, body: { name: 'BadRequest', error: 'unknown field(s): colour, reaosn' } });
    expect(calls).toEqual([]);
    // The same body without them goes through.
    expect((await api(path, 'POST', body)).status).toBeLessThan(300);
    expect(calls).toHaveLength(1);
  });

  it('names every problem with its field', async () => {
    const answer = await api('/v1/intents', 'POST', { verb: 'pause', reason: 7, extra: true });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('unknown field(s): extra; reason must be a string; actor must be a string');
    const empty = await api('/v1/releases', 'POST', { artifact: '', version: '1' });
    expect(empty).toMatchObject({ status: 400, body: { error: 'artifact must not be empty' } });
    const array = await api('/v1/rollbacks', 'POST', ['shop-1']);
    expect(array).toMatchObject({ status: 400, body: { error: 'the request body must be a JSON object' } });
    expect(calls).toEqual([]);
  });

  it('takes the verbs of core/verbs.ts but rollback, which it points to its own route', async () => {
    expect(INTENT_VERBS).toEqual(VERBS.filter((v) => v !== 'rollback'));
    for (const verb of INTENT_VERBS) expect((await api('/v1/intents', 'POST', { ...intent, verb })).status).toBe(201);
    expect(calls.map(([, request]) => (request as { verb: string }).verb)).toEqual(INTENT_VERBS);
    calls.length = 0;
    const rollback = await api('/v1/intents', 'POST', { ...intent, verb: 'rollback' });
    expect(rollback).toMatchObject({ status: 400, body: { error: expect.stringContaining('POST /v1/rollbacks') } });
    const unknown = await api('/v1/intents', 'POST', { ...intent, verb: 'explode' });
    expect(unknown.body.error).toBe(`verb must be one of ${INTENT_VERBS.join(', ')}`);
    expect(calls).toEqual([]);
  });

  it('takes a build per region (POST /v1/releases artifacts), with or without a default build', async () => {
    const artifacts = { 'us-east-1': '/builds/use1', 'eu-west-1': '/builds/euw1' };
    expect((await api('/v1/releases', 'POST', { artifact: '', artifacts, version: '1.0.0' })).status).toBe(202);
    expect(calls).toEqual([['start', { artifact: '', artifacts, version: '1.0.0' }]]);
    const bad = await api('/v1/releases', 'POST', { artifact: '/b', artifacts: { 'us-east-1': '' }, version: '1' });
    expect(bad).toMatchObject({ status: 400, body: { error: 'artifacts.us-east-1 must not be empty' } });
  });

  it('passes a null releaseId or region on as left out', async () => {
    expect(
      (await api('/v1/intents', 'POST', { ...intent, verb: 'freeze', releaseId: null, region: null })).status,
    ).toBe(201);
    expect(calls).toEqual([['intent', { verb: 'freeze', reason: 'a graph', actor: 'alice' }]]);
  });
});

describe('paths and queries', () => {
  it('answers 400, not 500, to a release id that is not valid percent-encoding', async () => {
    const answer = await api('/v1/releases/%E0%A4%A');
    expect(answer).toEqual({
      status: 400,
      body: { name: 'BadRequest', error: expect.stringMatching(/not valid percent-encoding/) },
    });
    expect(calls).toEqual([]);
  });

  it('decodes a well-formed one and hands it to the handler', async () => {
    expect((await api(`/v1/releases/${encodeURIComponent('shop-1.0/x')}`)).status).toBe(404);
    expect(calls).toEqual([['getRelease', 'shop-1.0/x']]);
  });

  it('checks limit: a whole number from 1 to 200, 20 when left out', async () => {
    for (const bad of ['0', '201', '1.5', 'ten', '']) {
      const answer = await api(`/v1/releases?limit=${bad}`);
      expect(answer, bad).toMatchObject({
        status: 400,
        body: { error: 'limit must be a whole number from 1 to 200' },
      });
    }
    expect((await api('/v1/releases?limit=200')).status).toBe(200);
    expect((await api('/v1/releases')).status).toBe(200);
    expect(calls).toEqual([
      ['listReleases', 200],
      ['listReleases', 20],
    ]);
  });

  it('answers 405 naming the methods a known path takes, 404 to an unknown one', async () => {
    expect(await api('/v1/intents', 'DELETE')).toEqual({
      status: 405,
      body: { name: 'MethodNotAllowed', error: 'DELETE /v1/intents: use GET,POST' },
    });
    expect((await api('/v1/rollbacks')).body.error).toBe('GET /v1/rollbacks: use POST');
    expect(await api('/v1/releases/a/b')).toEqual({
      status: 404,
      body: { name: 'NotFound', error: 'no route GET /v1/releases/a/b' },
    });
    expect((await api('/v1/where/')).status).toBe(200);
  });
});

describe('GET /v1/releases/:id/events', () => {
  it('checks its query, and is 404 from a server that keeps no events', async () => {
    const bad = await api('/v1/releases/shop-1/events?after=-1&waitMs=99999');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/after must be a whole number >= 0/);
    expect(bad.body.error).toMatch(/waitMs must be a whole number of milliseconds from 0 to 25000/);
    const none = await api('/v1/releases/shop-1/events?after=0');
    expect(none).toEqual({ status: 404, body: { name: 'NotFound', error: 'this server keeps no release events' } });
  });
});
