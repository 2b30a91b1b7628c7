/**
 * services/start-from-push.ts: a verified push starts one release of its commit, named after the
 * service and the commit, through whichever starter it is given. Then the two paths that use it,
 * the Lambda handler (functions/github-webhook.ts) and `flotilla up`'s POST /github
 * (control/github-bridge.ts over real HTTP), given one starter that runs one release per id as
 * Step Functions and the local backend do: the same push through both starts one release.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlHandler } from '../../control/routes.ts';
import { type ControlServer, startControlServer } from '../../control/server.ts';
import { artifactOfCommit, releaseFromPush } from '../../core/github.ts';
import { createGithubWebhook } from '../../functions/github-webhook.ts';
import { type StartRequest, startFromPush, type VerifiedPush } from '../../services/start-from-push.ts';
import { delivery, pushToMain, SECRET } from '../github/deliveries.ts';
import { configWith, memoryBranchHeads } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/local.ts';

const COMMIT = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';
const NEXT = `${'a'.repeat(12)}${COMMIT.slice(12)}`;
const config = configWith([['us-east-1']]);

/** The real push of `commit`, pushed `later` seconds after the example's own push. */
function verified(commit = COMMIT, later = 0): VerifiedPush {
  const example = pushToMain();
  example.repository.pushed_at = Number(example.repository.pushed_at) + later;
  const push = releaseFromPush({ ...example, after: commit }, { branch: 'main' });
  if (push.kind !== 'release') throw new Error(`not a release: ${push.why}`);
  return push;
}

/** A release engine as the webhook sees one: it runs a release id once, ever, and says `exists` after. */
function engine() {
  const started = new Map<string, StartRequest>();
  const calls: StartRequest[] = [];
  const start = async (request: StartRequest) => {
    calls.push(request);
    // A turn of the event loop, so that two deliveries at once really overlap.
    await new Promise((ok) => setImmediate(ok));
    if (started.has(request.releaseId)) return 'exists' as const;
    started.set(request.releaseId, request);
    return 'started' as const;
  };
  return { start, started, calls };
}

const artifactFor = (commit: string) => `s3://builds/shop/${commit}.zip`;

describe('startFromPush', () => {
  it("asks the starter once for the commit's release, named after the service and the commit", async () => {
    const e = engine();
    const result = await startFromPush(verified(), {
      config: async () => config,
      artifactFor,
      start: e.start,
      heads: memoryBranchHeads(),
    });
    const request = {
      releaseId: 'shop-6113728f27ae',
      version: '6113728f27ae',
      commit: COMMIT,
      artifact: `s3://builds/shop/${COMMIT}.zip`,
    };
    expect(result).toEqual({ kind: 'started', request });
    expect(e.calls).toEqual([request]);
  });

  it('asks for the very same release again for the same commit, which the starter finds: one release', async () => {
    const e = engine();
    const deps = { config: async () => config, artifactFor, start: e.start, heads: memoryBranchHeads() };
    const results = await Promise.all([startFromPush(verified(), deps), startFromPush(verified(), deps)]);
    expect(results.map((r) => r.kind).sort()).toEqual(['exists', 'started']);
    expect(e.calls[1]).toEqual(e.calls[0]);
    expect([...e.started.keys()]).toEqual(['shop-6113728f27ae']);
    expect((await startFromPush(verified(NEXT, 1), deps)).kind).toBe('started');
    expect([...e.started.keys()]).toEqual(['shop-6113728f27ae', 'shop-aaaaaaaaaaaa']);
  });

  it('starts nothing when no release can be named, and says the start failed when the starter throws', async () => {
    const e = engine();
    const noConfig = await startFromPush(verified(), {
      config: () => Promise.reject(new Error('FLOTILLA_CONFIG_PARAM is not set')),
      artifactFor,
      start: e.start,
      heads: memoryBranchHeads(),
    });
    expect(noConfig).toMatchObject({ kind: 'misconfigured', error: { message: 'FLOTILLA_CONFIG_PARAM is not set' } });
    const noTemplate = await startFromPush(verified(), {
      config: async () => config,
      artifactFor: () => {
        throw new Error('FLOTILLA_ARTIFACT_TEMPLATE is not set');
      },
      start: e.start,
      heads: memoryBranchHeads(),
    });
    expect(noTemplate.kind).toBe('misconfigured');
    expect(e.calls).toEqual([]);
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const failed = await startFromPush(verified(), {
      config: async () => config,
      artifactFor,
      start: () => Promise.reject(throttled),
      heads: memoryBranchHeads(),
    });
    expect(failed).toMatchObject({ kind: 'failed', request: { releaseId: 'shop-6113728f27ae' }, error: throttled });
  });
});

describe('the Lambda and flotilla up share it', () => {
  const shared = engine();
  const heads = memoryBranchHeads();
  let server: ControlServer;
  let template: string;
  let cleanup: () => Promise<void>;
  const unused = () => Promise.reject(new Error('the API is not part of this test'));
  const api: ControlHandler = {
    intent: unused,
    start: unused,
    rollback: unused,
    getRelease: unused,
    listReleases: unused,
    listIntents: unused,
    where: unused,
  };

  beforeAll(async () => {
    const t = await tempDir('flotilla-push-');
    cleanup = t.cleanup;
    template = join(t.dir, 'builds', '{commit}');
    server = await startControlServer({
      stateDir: join(t.dir, 'state'),
      handler: api,
      github: {
        releases: { config, start: shared.start, heads },
        env: { FLOTILLA_GITHUB_SECRET: SECRET, FLOTILLA_ARTIFACT_TEMPLATE: template },
      },
    });
  });
  afterAll(async () => {
    await server.close();
    await cleanup();
  });

  it('the same push through both at once asks for one identical release and starts it once', async () => {
    const lambda = createGithubWebhook({
      secret: async () => SECRET,
      start: shared.start,
      heads,
      config: async () => config,
      branch: 'main',
      artifactFor: (commit) => artifactOfCommit(template, commit),
      log: () => {},
    });
    const event = delivery(pushToMain());
    const [viaLambda, viaBridge] = await Promise.all([
      lambda(structuredClone(event)).then((r) => ({ status: r.statusCode, body: JSON.parse(r.body) as unknown })),
      fetch(`${server.url}/github`, {
        method: 'POST',
        headers: Object.fromEntries(
          Object.entries(event.headers).flatMap(([k, v]) => (k === 'content-length' || !v ? [] : [[k, v]])),
        ),
        body: event.body ?? '',
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as unknown })),
    ]);
    expect([viaLambda.status, viaBridge.status]).toEqual([202, 202]);
    const statuses = [viaLambda, viaBridge].map((a) => (a.body as { status: string }).status);
    expect(statuses.sort()).toEqual(['already started', 'started']);
    expect(shared.calls).toHaveLength(2);
    expect(shared.calls[0]).toEqual({
      releaseId: 'shop-6113728f27ae',
      version: '6113728f27ae',
      commit: COMMIT,
      artifact: template.replace('{commit}', COMMIT),
    });
    expect(shared.calls[1]).toEqual(shared.calls[0]);
    expect([...shared.started.keys()]).toEqual(['shop-6113728f27ae']);
  });
});
