/**
 * functions/github-webhook.ts with real GitHub payloads (@octokit/webhooks-examples), signed here.
 * Most tests use a fake `start` that stands in for Step Functions: it remembers the release ids it
 * was given and answers `exists` for one it has seen, as StartExecution does for a name it knows.
 * The last block runs the AWS wiring itself with SSM and Step Functions mocked at the SDK boundary.
 */
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import {
  artifactFromTemplate,
  createGithubWebhook,
  type GithubWebhookDeps,
  type StartRequest,
  type WebhookResponse,
  githubWebhookFromEnv as webhookFromEnv,
} from '../../functions/github-webhook.ts';
import { configWith, memoryBranchHeads } from '../helpers/fixtures.ts';
import {
  delivery,
  laterPushToMain,
  mainDeleted,
  pingExample,
  pushToMain,
  pushToMaster,
  SECRET,
  sign,
  tagPush,
} from './deliveries.ts';

const COMMIT = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';
const config = configWith([['us-east-1'], ['eu-west-1', 'ap-southeast-2']]);

/** Step Functions, as far as the webhook can tell: one execution per name, ever. */
function fakeStepFunctions() {
  const started = new Map<string, StartRequest>();
  const calls: StartRequest[] = [];
  const start = async (request: StartRequest) => {
    calls.push(request);
    if (started.has(request.releaseId)) return 'exists' as const;
    started.set(request.releaseId, request);
    return 'started' as const;
  };
  return { start, started, calls };
}

function webhook(over: Partial<GithubWebhookDeps> = {}) {
  const sfn = fakeStepFunctions();
  const logs: Record<string, unknown>[] = [];
  const handle = createGithubWebhook({
    secret: async () => SECRET,
    start: sfn.start,
    heads: memoryBranchHeads(),
    config: async () => config,
    branch: 'main',
    artifactFor: (commit) => `s3://builds/shop/${commit}.zip`,
    log: (entry) => void logs.push(entry),
    ...over,
  });
  return { handle, sfn, logs };
}

const json = (response: WebhookResponse) => JSON.parse(response.body) as Record<string, unknown>;

describe('a merge to main', () => {
  it('starts exactly one release, named after the service and the commit, and answers at once', async () => {
    const { handle, sfn } = webhook();
    const response = await handle(delivery(pushToMain()));
    expect(response.statusCode).toBe(202);
    expect(response.headers['content-type']).toBe('application/json');
    expect(json(response)).toEqual({
      releaseId: 'shop-6113728f27ae',
      status: 'started',
      version: '6113728f27ae',
      commit: COMMIT,
    });
    expect(sfn.calls).toEqual([
      {
        releaseId: 'shop-6113728f27ae',
        version: '6113728f27ae',
        commit: COMMIT,
        artifact: `s3://builds/shop/${COMMIT}.zip`,
      },
    ]);
  });

  it('takes the unchanged real payload when the branch is master', async () => {
    const { handle, sfn } = webhook({ branch: 'master' });
    expect((await handle(delivery(pushToMaster()))).statusCode).toBe(202);
    expect(sfn.started.size).toBe(1);
  });

  it('starts one release when the same delivery arrives twice (a redelivery: same X-GitHub-Delivery)', async () => {
    const { handle, sfn } = webhook();
    const once = delivery(pushToMain(), { id: '72d3162e-cc78-11e3-81ab-4c9367dc0958' });
    const first = await handle(once);
    const again = await handle(structuredClone(once));
    expect(json(first)).toMatchObject({ releaseId: 'shop-6113728f27ae', status: 'started' });
    expect(again.statusCode).toBe(202);
    expect(json(again)).toMatchObject({ releaseId: 'shop-6113728f27ae', status: 'already started' });
    expect(sfn.started.size).toBe(1);
    // Both asked for the very same release: the idempotency lives in the id, not in the handler.
    expect(sfn.calls).toHaveLength(2);
    expect(sfn.calls[1]).toEqual(sfn.calls[0]);
  });

  it('starts one release for two different deliveries of the same commit', async () => {
    const { handle, sfn } = webhook();
    await handle(delivery(pushToMain()));
    const second = await handle(delivery({ ...pushToMain(), forced: true }));
    expect(json(second)).toMatchObject({ status: 'already started' });
    expect(sfn.started.size).toBe(1);
  });

  it('starts a second release for the next commit', async () => {
    const { handle, sfn } = webhook();
    await handle(delivery(pushToMain()));
    const next = `${'a'.repeat(12)}${COMMIT.slice(12)}`;
    const response = await handle(delivery(laterPushToMain(next, 60, COMMIT)));
    expect(json(response)).toMatchObject({ releaseId: 'shop-aaaaaaaaaaaa', status: 'started' });
    expect([...sfn.started.keys()]).toEqual(['shop-6113728f27ae', 'shop-aaaaaaaaaaaa']);
  });

  it('reads a base64-encoded body (HTTP API does so for non-text content types)', async () => {
    const { handle, sfn } = webhook();
    const response = await handle(delivery(pushToMain(), { base64: true }));
    expect(response.statusCode).toBe(202);
    expect(sfn.calls.map((c) => c.releaseId)).toEqual(['shop-6113728f27ae']);
  });

  it("reads GitHub's default form encoding (payload=<json>), signed as sent", async () => {
    const { handle, sfn } = webhook();
    const form = new URLSearchParams({ payload: JSON.stringify(pushToMain()) }).toString();
    const response = await handle(delivery(form, { contentType: 'application/x-www-form-urlencoded' }));
    expect(response.statusCode).toBe(202);
    expect(sfn.started.size).toBe(1);
  });

  it('accepts header names in any case', async () => {
    const { handle, sfn } = webhook();
    const event = delivery(pushToMain());
    event.headers = Object.fromEntries(
      Object.entries(event.headers).map(([k, v]) => [k.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase()), v]),
    );
    expect(event.headers['X-Hub-Signature-256']).toBeDefined();
    expect((await handle(event)).statusCode).toBe(202);
    expect(sfn.started.size).toBe(1);
  });
});

describe('deliveries that start nothing', () => {
  const rejected: [string, () => ReturnType<typeof delivery>, number, Record<string, unknown>][] = [
    ['no signature', () => delivery(pushToMain(), { secret: null }), 401, { error: 'signature missing or wrong' }],
    [
      'a wrong signature',
      () => delivery(pushToMain(), { secret: 'guessed' }),
      401,
      { error: 'signature missing or wrong' },
    ],
    [
      'a signature of another body',
      () => delivery(pushToMain(), { signature: sign(SECRET, JSON.stringify(pushToMaster())) }),
      401,
      { error: 'signature missing or wrong' },
    ],
    [
      'a push to another branch',
      () => delivery(pushToMaster()),
      202,
      { ignored: 'push to refs/heads/master, not refs/heads/main' },
    ],
    ['a tag push', () => delivery(tagPush()), 202, { ignored: 'push to refs/tags/simple-tag, not refs/heads/main' }],
    ['the deletion of main', () => delivery(mainDeleted()), 202, { ignored: 'refs/heads/main was deleted' }],
    [
      'a signed body that is not JSON',
      () => delivery('{"ref": "refs/heads/main", '),
      400,
      { error: 'the body is not a JSON document' },
    ],
    ['a signed empty body', () => delivery(''), 400, { error: 'the body is not a JSON document' }],
    [
      'a signed form without payload',
      () => delivery('other=1', { contentType: 'application/x-www-form-urlencoded' }),
      400,
      { error: 'the body is not a JSON document' },
    ],
    ['a ping', () => delivery(pingExample(), { event: 'ping' }), 200, { pong: true }],
    [
      'another event',
      () => delivery(pushToMain(), { event: 'pull_request' }),
      202,
      { ignored: 'event pull_request is not a push' },
    ],
    [
      'no event header',
      () => delivery(pushToMain(), { headers: { 'x-github-event': '' } }),
      202,
      { ignored: 'event (none) is not a push' },
    ],
    [
      'a ping with no signature',
      () => delivery(pingExample(), { event: 'ping', secret: null }),
      401,
      { error: 'signature missing or wrong' },
    ],
  ];

  it.each(rejected)('%s: answered, nothing started', async (_what, make, status, body) => {
    const { handle, sfn } = webhook();
    const response = await handle(make());
    expect(response.statusCode).toBe(status);
    expect(json(response)).toEqual(body);
    expect(sfn.calls).toEqual([]);
  });

  it('refuses a body over the limit (413) by its Content-Length, before looking at it', async () => {
    const secret = vi.fn(async () => SECRET);
    const { handle, sfn } = webhook({ secret, maxBodyBytes: 1024 });
    const event = delivery(pushToMain());
    expect(Number(event.headers['content-length'])).toBeGreaterThan(1024);
    const response = await handle(event);
    expect(response.statusCode).toBe(413);
    expect(json(response)).toEqual({ error: 'body over 1024 bytes' });
    expect(secret).not.toHaveBeenCalled();
    expect(sfn.calls).toEqual([]);
  });

  it('refuses a body over the limit (413) by its actual size when Content-Length is missing or lies', async () => {
    const { handle, sfn } = webhook({ maxBodyBytes: 1024 });
    const lying: Record<string, string>[] = [{ 'content-length': '10' }, {}];
    for (const headers of lying) {
      for (const base64 of [false, true]) {
        const event = delivery(pushToMain(), { base64, headers });
        if (!('content-length' in headers)) delete event.headers['content-length'];
        expect((await handle(event)).statusCode, JSON.stringify({ headers, base64 })).toBe(413);
      }
    }
    expect(sfn.calls).toEqual([]);
  });

  it('refuses a body over the default limit of 1 MiB, even correctly signed', async () => {
    const { handle, sfn } = webhook();
    const huge = { ...pushToMain(), padding: 'x'.repeat(1024 * 1024) };
    expect((await handle(delivery(huge))).statusCode).toBe(413);
    expect(sfn.calls).toEqual([]);
  });

  it('lets a body of exactly the limit through', async () => {
    const body = JSON.stringify(pushToMain());
    const { handle, sfn } = webhook({ maxBodyBytes: Buffer.byteLength(body) });
    expect((await handle(delivery(body))).statusCode).toBe(202);
    expect(sfn.calls).toHaveLength(1);
  });

  it('answers 500 and starts nothing when the secret cannot be had', async () => {
    const { handle, sfn } = webhook({ secret: () => Promise.reject(new Error('AccessDenied')) });
    const response = await handle(delivery(pushToMain()));
    expect(response.statusCode).toBe(500);
    expect(sfn.calls).toEqual([]);
  });

  it('answers 500 with the release id when the start fails, so GitHub shows a failed delivery to redeliver', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const { handle } = webhook({ start: () => Promise.reject(throttled) });
    const response = await handle(delivery(pushToMain()));
    expect(response.statusCode).toBe(500);
    expect(json(response)).toEqual({
      releaseId: 'shop-6113728f27ae',
      error: 'the release could not be started (ThrottlingException)',
    });
  });

  it('answers 500 when the function is misconfigured, with the reason in the log only', async () => {
    const { handle, logs } = webhook({
      config: () => Promise.reject(new Error('FLOTILLA_CONFIG_PARAM is not set')),
    });
    const response = await handle(delivery(pushToMain()));
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('FLOTILLA_CONFIG_PARAM');
    expect(logs.at(-1)).toMatchObject({ outcome: 'misconfigured', message: 'FLOTILLA_CONFIG_PARAM is not set' });
  });

  it('never logs or echoes the secret', async () => {
    const { handle, logs } = webhook();
    const responses = [
      await handle(delivery(pushToMain())),
      await handle(delivery(pushToMain(), { secret: 'guessed' })),
      await handle(delivery(pingExample(), { event: 'ping' })),
      await handle(delivery('not json')),
    ];
    const seen = JSON.stringify({ logs, responses });
    expect(logs.length).toBe(4);
    expect(seen).not.toContain(SECRET);
    expect(logs[0]).toMatchObject({
      outcome: 'started',
      releaseId: 'shop-6113728f27ae',
      repository: 'Codertocat/Hello-World',
    });
  });
});

describe('artifactFromTemplate', () => {
  it('puts the commit (or its version) into the template', () => {
    expect(artifactFromTemplate('s3://builds/shop/{commit}.zip')(COMMIT)).toBe(`s3://builds/shop/${COMMIT}.zip`);
    expect(artifactFromTemplate('s3://builds/shop/{version}/app.zip')(COMMIT)).toBe(
      's3://builds/shop/6113728f27ae/app.zip',
    );
  });

  it('refuses a template that names the same artifact for every commit', () => {
    expect(() => artifactFromTemplate('s3://builds/shop/latest.zip')).toThrow(/must contain \{commit\} or \{version\}/);
  });
});

describe('on AWS: SSM and Step Functions at the SDK boundary', () => {
  const sfn = mockClient(SFNClient);
  const ssm = mockClient(SSMClient);
  // The ledger is real: the DynamoDB ledger on dynalite, as FLOTILLA_TABLE would name it on AWS.
  let dynamo: EmbeddedDynamo;
  let ledger: DynamoDbLedger;
  beforeAll(async () => {
    dynamo = await startEmbeddedDynamo({});
    await createLedgerTable(dynamo.client, 'flotilla-ledger');
    ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: 'flotilla-ledger' });
  });
  afterAll(async () => {
    await dynamo?.close();
  });
  const githubWebhookFromEnv = () => webhookFromEnv({ ledger });
  const stateMachineArn = 'arn:aws:states:us-east-1:123456789012:stateMachine:flotilla-prod-release';
  const awsConfig: FlotillaConfig = configWith([['us-east-1']]);
  const CONFIG_PARAM = '/flotilla/release-config';
  /** The release config parameter's value, as SSM answers it. */
  const configIs = (config: unknown) =>
    ssm.on(GetParameterCommand, { Name: CONFIG_PARAM }).resolves({
      Parameter: { Name: CONFIG_PARAM, Value: typeof config === 'string' ? config : JSON.stringify(config) },
    });

  beforeEach(() => {
    sfn.reset();
    ssm.reset();
    vi.stubEnv('FLOTILLA_GITHUB_SECRET_PARAM', '/flotilla/github-webhook-secret');
    vi.stubEnv('FLOTILLA_RELEASE_STATE_MACHINE_ARN', stateMachineArn);
    vi.stubEnv('FLOTILLA_ARTIFACT_TEMPLATE', 's3://builds/shop/{commit}.zip');
    vi.stubEnv('FLOTILLA_CONFIG_PARAM', CONFIG_PARAM);
    vi.stubEnv('FLOTILLA_BRANCH', '');
    ssm.on(GetParameterCommand).resolves({ Parameter: { Name: '/flotilla/github-webhook-secret', Value: SECRET } });
    configIs(awsConfig);
    vi.spyOn(console, 'log').mockImplementation(() => {});
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:shop-6113728f27ae`;

  it('starts the execution named after the commit, with the same input for a redelivery', async () => {
    const handle = githubWebhookFromEnv();
    // The first call starts it; the second (same name, same input, still running) gets the same
    // execution back, with the startDate of the first.
    const startDate = new Date();
    sfn.on(StartExecutionCommand).resolves({ executionArn, startDate });
    const once = delivery(pushToMain());
    const first = await handle(once);
    expect(json(first)).toMatchObject({ releaseId: 'shop-6113728f27ae', status: 'started' });

    vi.useFakeTimers({ now: startDate.getTime() + 60_000, toFake: ['Date'] });
    try {
      const again = await handle(once);
      expect(json(again)).toMatchObject({ releaseId: 'shop-6113728f27ae', status: 'already started' });
    } finally {
      vi.useRealTimers();
    }

    const calls = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.stateMachineArn).toBe(stateMachineArn);
    expect(calls[0]?.name).toBe('shop-6113728f27ae');
    expect(calls[1]?.name).toBe(calls[0]?.name);
    expect(calls[1]?.input).toBe(calls[0]?.input);
    expect(JSON.parse(calls[0]?.input ?? '{}')).toEqual({
      releaseId: 'shop-6113728f27ae',
      version: '6113728f27ae',
      artifact: `s3://builds/shop/${COMMIT}.zip`,
      config: awsConfig,
      owner: 'github',
    });
    // The secret is read once per container and the config once a minute at most, both decrypted.
    const reads = ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input);
    expect(reads).toEqual([
      { Name: '/flotilla/github-webhook-secret', WithDecryption: true },
      { Name: CONFIG_PARAM, WithDecryption: true },
    ]);
  });

  it('answers 202 already started when Step Functions says ExecutionAlreadyExists (the release has ended)', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    const response = await githubWebhookFromEnv()(delivery(pushToMain()));
    expect(response.statusCode).toBe(202);
    expect(json(response)).toMatchObject({ releaseId: 'shop-6113728f27ae', status: 'already started' });
  });

  it('calls neither SSM twice nor Step Functions for a rejected delivery', async () => {
    const handle = githubWebhookFromEnv();
    expect((await handle(delivery(pushToMain(), { secret: 'guessed' }))).statusCode).toBe(401);
    expect((await handle(delivery(pushToMaster()))).statusCode).toBe(202);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
  });

  it('tries SSM again on the next delivery when reading the secret failed', async () => {
    ssm
      .on(GetParameterCommand, { Name: '/flotilla/github-webhook-secret' })
      .rejectsOnce(new ParameterNotFound({ message: 'not found', $metadata: {} }))
      .resolves({ Parameter: { Value: SECRET } });
    sfn.on(StartExecutionCommand).resolves({ executionArn, startDate: new Date() });
    const handle = githubWebhookFromEnv();
    expect((await handle(delivery(pushToMain()))).statusCode).toBe(500);
    expect((await handle(delivery(pushToMain()))).statusCode).toBe(202);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('refuses to start with a config that does not validate, saying why in the log', async () => {
    configIs({ ...awsConfig, service: 'Not A Service' });
    const response = await githubWebhookFromEnv()(delivery(pushToMain()));
    expect(response.statusCode).toBe(500);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    const logged = vi
      .mocked(console.log)
      .mock.calls.map((c) => String(c[0]))
      .join('\n');
    expect(logged).toContain(`SSM parameter ${CONFIG_PARAM} is not a valid config`);
    expect(logged).toContain('service');
  });

  it('answers pings before a deployer has set the artifact template and the config, and starts nothing', async () => {
    vi.stubEnv('FLOTILLA_ARTIFACT_TEMPLATE', '');
    vi.stubEnv('FLOTILLA_CONFIG_PARAM', '');
    const handle = githubWebhookFromEnv();
    expect((await handle(delivery(pingExample(), { event: 'ping' }))).statusCode).toBe(200);
    expect((await handle(delivery(pushToMain()))).statusCode).toBe(500);
    vi.stubEnv('FLOTILLA_CONFIG_PARAM', CONFIG_PARAM);
    expect((await githubWebhookFromEnv()(delivery(pushToMain()))).statusCode).toBe(500);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    const logged = vi
      .mocked(console.log)
      .mock.calls.map((c) => String(c[0]))
      .join('\n');
    expect(logged).toContain('FLOTILLA_CONFIG_PARAM is not set');
    expect(logged).toContain('FLOTILLA_ARTIFACT_TEMPLATE is not set');
  });

  it('refuses a redelivered older push as stale: A (its start failed), B, then A again starts no execution for A', async () => {
    const a = laterPushToMain(`${'d'.repeat(12)}${COMMIT.slice(12)}`, 1_000);
    const b = laterPushToMain(`${'e'.repeat(12)}${COMMIT.slice(12)}`, 2_000, a.after);
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    sfn.on(StartExecutionCommand).rejectsOnce(throttled).resolves({ executionArn, startDate: new Date() });
    const handle = githubWebhookFromEnv();
    const deliveryOfA = delivery(a);
    expect((await handle(deliveryOfA)).statusCode).toBe(500);
    expect(json(await handle(delivery(b)))).toMatchObject({ releaseId: 'shop-eeeeeeeeeeee', status: 'started' });

    const again = await handle(structuredClone(deliveryOfA));
    expect(again.statusCode).toBe(202);
    expect(json(again)).toEqual({
      status: 'stale',
      ignored: `stale: ${a.after} is older than ${b.after} already seen for main`,
      commit: a.after,
      newest: b.after,
    });
    expect(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name)).toEqual([
      'shop-dddddddddddd',
      'shop-eeeeeeeeeeee',
    ]);
    // What the ledger keeps: B, the newest push of main.
    expect(await ledger.getBranchHead('shop', 'main')).toMatchObject({ branch: 'main', commit: b.after });
  });

  it('lets exactly one of two deliveries racing from the same head win it: the older one is then stale', async () => {
    const c = laterPushToMain(`${'c'.repeat(12)}${COMMIT.slice(12)}`, 3_000);
    const f = laterPushToMain(`${'f'.repeat(12)}${COMMIT.slice(12)}`, 4_000);
    sfn.on(StartExecutionCommand).resolves({ executionArn, startDate: new Date() });
    const handle = githubWebhookFromEnv();
    // f (the newer) first or both at once: c never starts after f has been seen.
    const [older, newer] = await Promise.all([handle(delivery(c)), handle(delivery(f))]);
    expect(json(newer)).toMatchObject({ releaseId: 'shop-ffffffffffff', status: 'started' });
    const names = sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input.name);
    if (json(older).status === 'stale') expect(names).toEqual(['shop-ffffffffffff']);
    else expect(names.indexOf('shop-cccccccccccc')).toBeLessThan(names.indexOf('shop-ffffffffffff'));
    expect(await ledger.getBranchHead('shop', 'main')).toMatchObject({ commit: f.after });
    // Resent afterwards, c is stale whatever the race did.
    expect(json(await handle(delivery(c)))).toMatchObject({ status: 'stale' });
  });

  it('says which variable is missing', () => {
    vi.stubEnv('FLOTILLA_RELEASE_STATE_MACHINE_ARN', '');
    expect(() => githubWebhookFromEnv()).toThrow(/FLOTILLA_RELEASE_STATE_MACHINE_ARN is not set/);
  });
});
