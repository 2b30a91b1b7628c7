/**
 * The JSON protocol transport (adapters/dynamodb/json-protocol.ts, json-documents.ts) against the
 * SDK's document client, which it stands in for on the local backend: the same requests sent both
 * ways must put the same bytes on the wire, read the same answers back, store the same items and
 * fail with the same errors. Two real peers: a recording HTTP server that answers what DynamoDB
 * could (binaries, sets, unprocessed items, errors, dropped connections), and dynalite.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AttributeValue, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isThrottling } from '../../adapters/aws/errors.ts';
import { StoreThrottled } from '../../adapters/dynamodb/errors.ts';
import { jsonDocumentRequests } from '../../adapters/dynamodb/json-documents.ts';
import { type DynamoJson, openDynamoJson } from '../../adapters/dynamodb/json-protocol.ts';
import {
  createLedgerTable,
  type DocumentOperation,
  type DocumentRequest,
  type DocumentRequests,
  DynamoDbLedger,
  documentClientRequests,
} from '../../adapters/dynamodb/ledger.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { planRelease } from '../../core/plan.ts';
import type { BakeWatch, DeployWait } from '../../core/types.ts';
import type { Ledger, ReleaseRecord } from '../../ports/ledger.ts';
import { configWith } from '../helpers/fixtures.ts';

// --- the two transports ---------------------------------------------------------------------------

/** An SDK client as the local backend used to build one (backends/local/dynalite-server.ts). */
function sdkClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
    retryMode: 'standard',
  });
}

interface Transports {
  sdk: DocumentRequests;
  json: DocumentRequests;
  close(): void;
}

/** The SDK over HTTP to `endpoint`, beside the JSON protocol over HTTP there too, or over `json` when given. */
function bothTransports(endpoint: string, options: { retryBaseMs?: number; json?: DynamoJson } = {}): Transports {
  const client = sdkClient(endpoint);
  const json = options.json ?? openDynamoJson({ endpoint, ...options });
  return {
    sdk: documentClientRequests(DynamoDBDocumentClient.from(client)),
    json: jsonDocumentRequests(json),
    close() {
      client.destroy();
      json.close();
    },
  };
}

/** What callers can see of an error: its name and message, and the SDK fields the code reads. */
function errorOf(error: unknown) {
  const e = error as Error & {
    code?: string;
    $fault?: string;
    $metadata?: { httpStatusCode?: number; attempts?: number };
  };
  return {
    isError: e instanceof Error,
    name: e.name,
    message: e.message,
    code: e.code,
    fault: e.$fault,
    status: e.$metadata?.httpStatusCode,
  };
}

function withoutMetadata(output: unknown): unknown {
  const { $metadata: _, ...rest } = output as Record<string, unknown>;
  return rest;
}

// --- a recording DynamoDB ---------------------------------------------------------------------------

interface Seen {
  target: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

type Answer = { status?: number; body?: unknown } | 'drop';

/** An HTTP server that records each request and answers as `answer` says (by hit number, from 1). */
async function recordingDynamo(answer: (seen: Seen, hit: number) => Answer) {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const one: Seen = {
        target: req.headers['x-amz-target'] as string | undefined,
        contentType: req.headers['content-type'],
        body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'),
      };
      seen.push(one);
      const reply = answer(one, seen.length);
      if (reply === 'drop') {
        req.socket.destroy();
        return;
      }
      const text = JSON.stringify(reply.body ?? {});
      res.writeHead(reply.status ?? 200, {
        'content-type': 'application/x-amz-json-1.0',
        'content-length': Buffer.byteLength(text),
        'x-amzn-requestid': `req-${seen.length}`,
      });
      res.end(text);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    seen,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** Sends one request both ways to a recording server: what each put on the wire, and what each got back. */
async function sendBoth(request: DocumentRequest, answer: (seen: Seen, hit: number) => Answer) {
  const results: Record<'sdk' | 'json', { wire: Seen[]; output?: unknown; error?: unknown }> = {
    sdk: { wire: [] },
    json: { wire: [] },
  };
  for (const via of ['sdk', 'json'] as const) {
    const dynamo = await recordingDynamo(answer);
    const transports = bothTransports(dynamo.endpoint, { retryBaseMs: 100 });
    try {
      results[via].output = withoutMetadata(await transports[via].send(request));
    } catch (error) {
      results[via].error = error;
    } finally {
      transports.close();
      await dynamo.close();
    }
    results[via].wire = dynamo.seen;
  }
  return results;
}

// --- values of every kind ---------------------------------------------------------------------------

const binary = Buffer.from([0, 1, 2, 250, 255]);
const bytes = new Uint8Array([9, 8, 7]);

/** A document with every kind of value the document client takes. */
const everyKind = () => ({
  pk: 'SERVICE#kinds',
  sk: 'ITEM#1',
  empty: '',
  text: 'héllo ✓ "quoted" \\ \n',
  zero: 0,
  negative: -12.5,
  tiny: 1e-7,
  large: 2 ** 53 - 1,
  bigint: 12345678901234567890n,
  exact: NumberValue.from('3.14159265358979323846'),
  yes: true,
  no: false,
  nothing: null,
  list: [1, 'two', null, false, { three: [3] }, [], {}],
  emptyList: [],
  emptyMap: {},
  nested: { a: { b: { c: 'd', e: [{ f: null, g: '' }] } } },
  strings: new Set(['a', 'b']),
  numbers: new Set([1, 2.5, -3]),
  binaries: new Set([binary, bytes]),
  binary,
  bytes,
  // A top-level undefined is dropped by lib-dynamodb's walk (a nested one is an error).
  skipped: undefined,
});

/** The same kinds as DynamoDB's JSON has them. */
const wireItem = (): Record<string, unknown> => ({
  pk: { S: 'SERVICE#kinds' },
  sk: { S: 'ITEM#1' },
  n: { N: '42' },
  f: { N: '-0.5' },
  huge: { N: '12345678901234567890' },
  s: { S: '' },
  b: { B: 'AAEC+v8=' },
  bs: { BS: ['AQ==', 'Ag=='] },
  ss: { SS: ['x', 'y'] },
  ns: { NS: ['1', '2.5'] },
  l: { L: [{ S: 'a' }, { NULL: true }, { BOOL: false }, { M: { x: { N: '1' } } }, { L: [] }] },
  m: { M: { deep: { M: { er: { S: 'yes' } } }, e: { M: {} } } },
  t: { BOOL: true },
  z: { NULL: true },
});

const wireKey = () => ({ pk: { S: 'SERVICE#kinds' }, sk: { S: 'ITEM#1' } });

const CASES: { name: string; request: DocumentRequest; answer: unknown }[] = [
  {
    name: 'GetItem of an item with every kind of value',
    request: {
      op: 'Get',
      input: {
        TableName: 't',
        Key: { pk: 'SERVICE#kinds', sk: 'ITEM#1' },
        ConsistentRead: true,
        ProjectionExpression: '#regions.#r0, #regions.#r1',
        ExpressionAttributeNames: { '#regions': 'regions', '#r0': 'eu-west-1', '#r1': 'us-east-1' },
      },
    },
    answer: { Item: wireItem() },
  },
  {
    name: 'GetItem of no item',
    request: { op: 'Get', input: { TableName: 't', Key: { pk: 'a', sk: 'b' } } },
    answer: {},
  },
  {
    name: 'Query with a start key, values of every kind, and the legacy conditions',
    request: {
      op: 'Query',
      input: {
        TableName: 't',
        IndexName: 'byReleaseStart',
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        FilterExpression: 'contains(#l, :member) OR #m = :map OR #e = :empty',
        ExpressionAttributeNames: { '#l': 'l', '#m': 'm', '#e': 'e' },
        ExpressionAttributeValues: {
          ':pk': 'SERVICE#kinds',
          ':prefix': 'REGION#',
          ':member': 3,
          ':map': { a: [1, null, { b: true }] },
          ':empty': '',
        },
        ExclusiveStartKey: { pk: 'SERVICE#kinds', sk: 'REGION#a', releaseStart: '2026-01-01T00:00:00.000Z#r1' },
        KeyConditions: { pk: { ComparisonOperator: 'EQ', AttributeValueList: ['SERVICE#kinds'] } },
        QueryFilter: { n: { ComparisonOperator: 'BETWEEN', AttributeValueList: [1, 2.5] } },
        ScanIndexForward: false,
        ConsistentRead: true,
        Limit: 2,
      },
    },
    answer: {
      Items: [wireItem(), { pk: { S: 'x' }, sk: { S: 'y' } }],
      Count: 2,
      ScannedCount: 3,
      LastEvaluatedKey: { ...wireKey(), releaseStart: { S: '2026-01-01T00:00:00.000Z#r2' } },
    },
  },
  {
    name: 'PutItem of every kind of value, with a condition, the legacy Expected, and every output',
    request: {
      op: 'Put',
      input: {
        TableName: 't',
        Item: everyKind(),
        ConditionExpression: 'attribute_not_exists(pk) OR #v IN (:a, :b)',
        ExpressionAttributeNames: { '#v': 'version' },
        ExpressionAttributeValues: { ':a': [1, { a: null }], ':b': new Set(['x']) },
        Expected: { other: { Value: { deep: [1] }, ComparisonOperator: 'EQ' }, more: { AttributeValueList: [1, 'b'] } },
        ReturnValues: 'ALL_OLD',
        ReturnConsumedCapacity: 'TOTAL',
        ReturnItemCollectionMetrics: 'SIZE',
      },
    },
    answer: {
      Attributes: wireItem(),
      ConsumedCapacity: { TableName: 't', CapacityUnits: 1 },
      ItemCollectionMetrics: { ItemCollectionKey: { pk: { S: 'SERVICE#kinds' } }, SizeEstimateRangeGB: [0, 1] },
    },
  },
  {
    name: 'UpdateItem with map paths, sets, ADD, and the legacy AttributeUpdates',
    request: {
      op: 'Update',
      input: {
        TableName: 't',
        Key: { pk: 'SERVICE#kinds', sk: 'RELEASE#r1' },
        UpdateExpression: 'SET #regions.#r0 = :entry, #w = :w ADD #s.#r0.#ok :one REMOVE #gone',
        ConditionExpression: 'attribute_exists(pk) AND attribute_exists(#regions.#r0)',
        ExpressionAttributeNames: {
          '#regions': 'regions',
          '#r0': 'eu-west-1',
          '#w': 'wave',
          '#s': 'samples',
          '#ok': 'ok',
          '#gone': 'gone',
        },
        ExpressionAttributeValues: {
          ':entry': { region: 'eu-west-1', wave: 0, phase: 'deployed', before: null, message: '' },
          ':w': 2,
          ':one': 1,
        },
        AttributeUpdates: { legacy: { Value: { a: 1 }, Action: 'PUT' }, gone: { Action: 'DELETE' } },
        Expected: { y: { ComparisonOperator: 'IN', AttributeValueList: ['a', 'b'] } },
        ReturnValues: 'UPDATED_NEW',
      },
    },
    answer: { Attributes: { wave: { N: '2' }, regions: { M: { 'eu-west-1': { M: { wave: { N: '0' } } } } } } },
  },
  {
    name: 'DeleteItem returning the old item',
    request: {
      op: 'Delete',
      input: {
        TableName: 't',
        Key: { pk: 'BAKE', sk: 'BAKE#s#r1' },
        ConditionExpression: '#t = :t',
        ExpressionAttributeNames: { '#t': 'token' },
        ExpressionAttributeValues: { ':t': 'tok' },
        ReturnValues: 'ALL_OLD',
      },
    },
    answer: { Attributes: wireItem() },
  },
  {
    name: 'BatchWriteItem over two tables, answered with unprocessed puts and deletes',
    request: {
      op: 'BatchWrite',
      input: {
        RequestItems: {
          t: [{ PutRequest: { Item: everyKind() } }, { DeleteRequest: { Key: { pk: 'SERVICE#kinds', sk: 'ITEM#2' } } }],
          other: [{ PutRequest: { Item: { pk: 'a', sk: 'b', list: [{ x: 1 }] } } }],
        },
        ReturnItemCollectionMetrics: 'SIZE',
      },
    },
    answer: {
      UnprocessedItems: { t: [{ PutRequest: { Item: wireItem() } }, { DeleteRequest: { Key: wireKey() } }] },
      ItemCollectionMetrics: {
        t: [{ ItemCollectionKey: { pk: { S: 'SERVICE#kinds' } }, SizeEstimateRangeGB: [0, 1] }],
      },
    },
  },
  {
    name: 'BatchWriteItem with everything processed',
    request: {
      op: 'BatchWrite',
      input: { RequestItems: { t: [{ PutRequest: { Item: { pk: 'a', sk: 'b' } } }] } },
    },
    answer: { UnprocessedItems: {} },
  },
];

describe('the JSON protocol transport, beside the SDK document client, on the wire', () => {
  it.each(CASES)('$name: the same request body and target, the same output', async ({ request, answer }) => {
    const both = await sendBoth(request, () => ({ body: answer }));
    expect(both.sdk.error).toBeUndefined();
    expect(both.json.error).toBeUndefined();
    expect(both.json.wire).toHaveLength(1);
    expect(both.json.wire).toEqual(both.sdk.wire);
    expect(both.json.wire[0]?.contentType).toBe('application/x-amz-json-1.0');
    expect(both.json.output).toEqual(both.sdk.output);
  });

  it('reads binaries back as Uint8Array and big numbers as BigInt, as the SDK does', async () => {
    const both = await sendBoth(CASES[0]?.request as DocumentRequest, () => ({ body: CASES[0]?.answer }));
    const item = (both.json.output as { Item: Record<string, unknown> }).Item;
    expect(item.b).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(item.b as Uint8Array)).toEqual(Buffer.from([0, 1, 2, 250, 255]));
    expect(item.huge).toBe(12345678901234567890n);
    expect(item.bs).toEqual(new Set([new Uint8Array([1]), new Uint8Array([2])]));
  });

  it('refuses a nested undefined before sending anything, with the SDK message', async () => {
    const request: DocumentRequest = {
      op: 'Put',
      input: { TableName: 't', Item: { pk: 'a', sk: 'b', nested: { gone: undefined } } },
    };
    const both = await sendBoth(request, () => ({ body: {} }));
    expect(both.json.wire).toEqual([]);
    expect(both.sdk.wire).toEqual([]);
    expect(errorOf(both.json.error)).toEqual(errorOf(both.sdk.error));
    expect(errorOf(both.json.error).message).toMatch(/removeUndefinedValues/);
  });
});

describe('the JSON protocol transport, beside the SDK document client, when DynamoDB says no', () => {
  const get: DocumentRequest<'Get'> = { op: 'Get', input: { TableName: 't', Key: { pk: 'a', sk: 'b' } } };
  const ERRORS: { name: string; status: number; body: unknown; hits: number }[] = [
    {
      name: 'ConditionalCheckFailedException',
      status: 400,
      body: {
        __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
        message: 'The conditional request failed',
      },
      hits: 1,
    },
    {
      name: 'ValidationException',
      status: 400,
      body: {
        __type: 'com.amazon.coral.validate#ValidationException',
        message: 'Item size has exceeded the maximum allowed size',
      },
      hits: 1,
    },
    {
      name: 'ResourceNotFoundException',
      status: 400,
      body: {
        __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException',
        message: 'Requested resource not found',
      },
      hits: 1,
    },
    {
      name: 'SerializationException',
      status: 400,
      body: { __type: 'com.amazon.coral.service#SerializationException', Message: 'capitalised' },
      hits: 1,
    },
    {
      name: 'InternalServerError',
      status: 500,
      body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'boom' },
      hits: 3,
    },
  ];

  it.each(ERRORS)(
    '$name (HTTP $status): the same error, after $hits request(s)',
    async ({ status, body, hits, name }) => {
      const both = await sendBoth(get, () => ({ status, body }));
      expect(errorOf(both.json.error)).toEqual(errorOf(both.sdk.error));
      expect(errorOf(both.json.error)).toMatchObject({ isError: true, name, status });
      expect(both.json.wire).toHaveLength(hits);
      expect(both.sdk.wire).toHaveLength(hits);
    },
  );

  it('sends a request again when the connection drops before the answer, as the SDK does', async () => {
    const both = await sendBoth(get, (_, hit) => (hit === 1 ? 'drop' : { body: { Item: wireItem() } }));
    expect(both.sdk.error).toBeUndefined();
    expect(both.json.error).toBeUndefined();
    expect(both.json.output).toEqual(both.sdk.output);
    expect(both.json.wire).toHaveLength(2);
    expect(both.sdk.wire).toHaveLength(2);
  });

  it('gives up on a connection that keeps dropping after three attempts, with the network error', async () => {
    const both = await sendBoth(get, () => 'drop');
    expect(both.json.wire).toHaveLength(3);
    expect(both.sdk.wire).toHaveLength(3);
    expect(errorOf(both.json.error).code).toBe('ECONNRESET');
    expect(errorOf(both.json.error).code).toBe(errorOf(both.sdk.error).code);
  });

  it('fails with ECONNREFUSED when nothing listens, as the SDK does', async () => {
    const dynamo = await recordingDynamo(() => ({ body: {} }));
    await dynamo.close();
    const transports = bothTransports(dynamo.endpoint, { retryBaseMs: 1 });
    try {
      const json = await transports.json.send(get).catch((error: unknown) => error);
      const sdk = await transports.sdk.send(get).catch((error: unknown) => error);
      expect(errorOf(json).code).toBe('ECONNREFUSED');
      expect(errorOf(json).code).toBe(errorOf(sdk).code);
    } finally {
      transports.close();
    }
  });
});

describe('the ledger over the JSON protocol when DynamoDB throttles', () => {
  const throttled = {
    status: 400,
    body: {
      __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
      message: 'Rate of requests exceeds the allowed throughput',
    },
  };

  it('retries a throttled request and goes on when DynamoDB takes it', async () => {
    const dynamo = await recordingDynamo((_, hit) => (hit <= 2 ? throttled : { body: {} }));
    const json = openDynamoJson({ endpoint: dynamo.endpoint, retryBaseMs: 1 });
    try {
      const ledger = new DynamoDbLedger({ requests: jsonDocumentRequests(json), tableName: 't' });
      expect(await ledger.getRegion('svc', 'us-east-1')).toBeUndefined();
      expect(dynamo.seen).toHaveLength(3);
    } finally {
      json.close();
      await dynamo.close();
    }
  });

  it('turns throttling that outlasts the retries into StoreThrottled, keeping the error as cause', async () => {
    const dynamo = await recordingDynamo(() => throttled);
    const json = openDynamoJson({ endpoint: dynamo.endpoint, retryBaseMs: 1 });
    try {
      const ledger = new DynamoDbLedger({ requests: jsonDocumentRequests(json), tableName: 't' });
      const failure = (await ledger.getRegion('svc', 'us-east-1').catch((error: unknown) => error)) as Error;
      expect(failure).toMatchObject({
        name: StoreThrottled,
        cause: { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400, attempts: 3 } },
      });
      expect(isThrottling(failure.cause)).toBe(true);
      expect(dynamo.seen).toHaveLength(3);
    } finally {
      json.close();
      await dynamo.close();
    }
  });
});

// --- against dynalite -------------------------------------------------------------------------------

let dynamo: EmbeddedDynamo;
let tables = 0;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
});
afterAll(async () => {
  await dynamo?.close();
});

/** A fresh table per transport, created through the transport's own kind of client. */
async function ledgerTables(requests: { sdk: DocumentRequests; json: DocumentRequests }) {
  tables += 1;
  const sdkTable = `via-sdk-${tables}`;
  const jsonTable = `via-json-${tables}`;
  await createLedgerTable(dynamo.client, sdkTable);
  await createLedgerTable(dynamo.json, jsonTable);
  return {
    sdk: { table: sdkTable, ledger: new DynamoDbLedger({ requests: requests.sdk, tableName: sdkTable }) },
    json: { table: jsonTable, ledger: new DynamoDbLedger({ requests: requests.json, tableName: jsonTable }) },
  };
}

/** Every item of a table as DynamoDB stores it, in key order. */
async function storedItems(table: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo.client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  const key = (item: Record<string, AttributeValue>) => `${item.pk?.S}\u0000${item.sk?.S}`;
  return items.sort((a, b) => key(a).localeCompare(key(b)));
}

const record = (service: string, releaseId: string, startedAt: string, over: Partial<ReleaseRecord> = {}) =>
  ({
    service,
    releaseId,
    version: '2.0.0',
    artifact: '/builds/2.0.0',
    status: 'RUNNING',
    wave: 0,
    waveCount: 2,
    reason: '',
    regions: {
      'eu-west-1': {
        region: 'eu-west-1',
        wave: 0,
        phase: 'pending',
        before: { version: '1.0.0', artifact: '/builds/1.0.0' },
        updatedAt: '2026-01-01T00:00:00.000Z',
      },
      'us-east-1': {
        region: 'us-east-1',
        wave: 1,
        phase: 'pending',
        before: null,
        updatedAt: '2026-01-01T00:00:00.000Z',
      },
    },
    startedAt,
    ...over,
  }) as ReleaseRecord;

/**
 * One run of the ledger's operations, each one's answer (or error name) recorded: everything a
 * release does to the ledger, and the odd values (empty strings, nulls, nested maps, big numbers).
 */
async function ledgerRun(ledger: Ledger): Promise<unknown[]> {
  const out: unknown[] = [];
  const step = async (what: string, call: () => Promise<unknown>) => {
    try {
      out.push([what, await call()]);
    } catch (error) {
      const e = error as Error & { cause?: Error };
      out.push([what, { error: e.name, cause: e.cause?.name }]);
    }
  };
  const service = 'shop';
  const regions = Array.from({ length: 30 }, (_, i) => `region-${String(i).padStart(2, '0')}`);
  const config = configWith([regions.slice(0, 1), regions.slice(1)], { service });
  const plan = planRelease({
    config,
    releaseId: 'r1',
    version: '2.0.0',
    artifact: '/builds/2.0.0',
    regionStateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:region',
    owner: 'test',
  });

  await step('lock r1', () => ledger.acquireLock(service, { releaseId: 'r1', owner: 'local:h:1', acquiredAt: 'a' }));
  await step('lock r2 (held)', () =>
    ledger.acquireLock(service, { releaseId: 'r2', owner: 'local:h:2', acquiredAt: 'b' }),
  );
  await step('lock r1 again', () =>
    ledger.acquireLock(service, { releaseId: 'r1', owner: 'local:h:1', acquiredAt: 'a' }),
  );
  await step('get lock', () => ledger.getLock(service));
  await step('create r1', () => ledger.createRelease(record(service, 'r1', '2026-01-01T00:00:00.000Z')));
  await step('create r1 again', () => ledger.createRelease(record(service, 'r1', '2026-01-01T00:00:00.000Z')));
  await step('put plan', () => ledger.putPlan(plan));
  await step('put plan again', () => ledger.putPlan(plan));
  await step('put another plan', () => ledger.putPlan({ ...plan, version: '2.0.1' }));
  await step('get plan', () => ledger.getPlan(service, 'r1'));
  await step('put 30 regions (two batches)', () =>
    ledger.putRegions(
      regions.map((region, i) => ({
        service,
        region,
        current: i % 3 === 0 ? null : { version: `1.${i}.0`, artifact: `/builds/${i}` },
        releaseId: i % 2 === 0 ? null : 'r0',
        updatedAt: '2026-01-01T00:00:00.000Z',
      })),
    ),
  );
  await step('put region', () =>
    ledger.putRegion({ service, region: 'eu-west-1', current: null, releaseId: null, updatedAt: '' }),
  );
  await step('get region', () => ledger.getRegion(service, 'region-07'));
  await step('get no region', () => ledger.getRegion(service, 'nowhere'));
  await step('list regions', () => ledger.listRegions(service));
  await step('put release region', () =>
    ledger.putReleaseRegion(service, 'r1', {
      region: 'eu-west-1',
      wave: 0,
      phase: 'deploying',
      before: { version: '1.0.0', artifact: '/builds/1.0.0' },
      updatedAt: '2026-01-01T00:01:00.000Z',
      message: '',
    }),
  );
  await step('update release regions', () =>
    ledger.updateReleaseRegions(service, 'r1', [
      { region: 'eu-west-1', phase: 'deployed', updatedAt: '2026-01-01T00:02:00.000Z', message: 'ok: 5/5 probes' },
      { region: 'us-east-1', phase: 'skipped', before: { version: '0.9.0', artifact: '/builds/0.9.0' } },
    ] as never),
  );
  await step('update a region the release lacks', () =>
    ledger.updateReleaseRegions(service, 'r1', [{ region: 'nowhere', phase: 'deployed' }] as never),
  );
  await step('update release', () =>
    ledger.updateRelease(service, 'r1', {
      wave: 1,
      reason: 'gate passed',
      used: { promotions: 1, forces: 0 },
      hold: null,
    } as never),
  );
  await step('update a missing release', () => ledger.updateRelease(service, 'r9', { status: 'FAILED' }));
  await step('read two regions at once', () =>
    Promise.all([
      ledger.getReleaseRegion(service, 'r1', 'eu-west-1'),
      ledger.getReleaseRegion(service, 'r1', 'us-east-1'),
      ledger.getReleaseRegion(service, 'r1', 'nowhere'),
    ]),
  );
  await step('get release', () => ledger.getRelease(service, 'r1'));
  for (const [i, day] of ['03', '01', '05', '02', '04'].entries()) {
    await step(`create r${i + 2}`, () =>
      ledger.createRelease(record(service, `r${i + 2}`, `2026-02-${day}T00:00:00.000Z`, { status: 'SUCCEEDED' })),
    );
  }
  await step('list releases', () => ledger.listReleases(service));
  // Limit 2: DynamoDB answers with a LastEvaluatedKey (holding the index's key) the ledger does not follow.
  await step('list 2 releases', () => ledger.listReleases(service, 2));
  await step('put intents', async () => {
    await ledger.putIntent({
      service,
      releaseId: 'r1',
      verb: 'skip-region',
      actor: 'ann',
      reason: '',
      at: '2026-01-01T00:03:00.000Z',
      region: 'us-east-1',
      id: '0001',
    } as never);
    await ledger.putIntent({
      service,
      releaseId: null,
      verb: 'freeze',
      actor: 'bob',
      reason: 'holiday',
      at: '2026-01-01T00:04:00.000Z',
      id: '0002',
    } as never);
  });
  await step('list intents', () => ledger.listIntents(service, 'r1'));
  await step('list global intents', () => ledger.listIntents(service, null));
  await step('hold tokens', async () => {
    await ledger.putHoldToken(service, 'r1', { token: 'token-aaaaaaaaaaaaaaaaaaaa', reason: 'approval', at: 'x' });
    await ledger.putHoldToken(service, 'r1', { token: 'token-bbbbbbbbbbbbbbbbbbbb', reason: '', at: 'y' });
    return [await ledger.takeHoldTokens(service, 'r1'), await ledger.takeHoldTokens(service, 'r1')];
  });
  const bake = {
    service,
    releaseId: 'r1',
    wave: 1,
    token: 'bake-token',
    startedAt: 1_767_225_600_000,
    bakeUntil: 1_767_225_660_000,
    version: '2.0.0',
    gate: config.gate,
    regions: [{ region: 'eu-west-1', target: config.regions[0]?.target, newHost: { port: 7201, name: 'nh-1' } }],
    samples: { 'eu-west-1': { ok: 0, errors: 0, missing: 0 } },
  } as BakeWatch;
  await step('put bake', () => ledger.putBake(bake));
  await step('add samples', () =>
    ledger.addBakeSamples(bake, { 'eu-west-1': { ok: 3, errors: 1, missing: 0, lastProblem: 'HTTP 500' } }),
  );
  await step('add samples to another wave', () => ledger.addBakeSamples({ ...bake, wave: 2 }, {}));
  await step('list bakes', () => ledger.listBakes());
  await step('take bake', () => ledger.takeBake(service, 'r1'));
  await step('take bake again', () => ledger.takeBake(service, 'r1'));
  const wait = {
    deploymentId: 'd-123',
    token: 'child-token',
    service,
    releaseId: 'r1',
    region: 'eu-west-1',
    target: config.regions[0]?.target,
    deploy: { pollSeconds: 1, maxPollSeconds: 30 },
    handle: { id: 'd-123', region: 'eu-west-1' },
    at: '2026-01-01T00:05:00.000Z',
  } as unknown as DeployWait;
  await step('put deploy wait', () => ledger.putDeployWait(wait));
  await step('get deploy wait', () => ledger.getDeployWait('d-123'));
  await step('take deploy wait', () => ledger.takeDeployWait('d-123'));
  await step('take deploy wait again', () => ledger.takeDeployWait('d-123'));
  await step('claims', async () => [
    await ledger.claimRequest('slack:abc', 1_767_225_600),
    await ledger.claimRequest('slack:abc', 1_767_225_600),
  ]);
  await step('branch heads', async () => {
    const first = await ledger.putBranchHead(service, { branch: 'main', commit: 'a', pushedAt: 1 }, undefined);
    const seen = await ledger.getBranchHead(service, 'main');
    const moved = await ledger.putBranchHead(service, { branch: 'main', commit: 'b', pushedAt: 2 }, seen);
    const stale = await ledger.putBranchHead(service, { branch: 'main', commit: 'c', pushedAt: 3 }, seen);
    return [first, moved, stale, await ledger.getBranchHead(service, 'main')];
  });
  await step('release lock of another', () => ledger.releaseLock(service, 'r2'));
  await step('release lock', () => ledger.releaseLock(service, 'r1'));
  await step('lock after release', () => ledger.getLock(service));
  return out;
}

// The local backend's own requests go over the embedded server's message channel (dynalite-server.ts
// `messageWire`); any other client's over HTTP. Both must be the same DynamoDB to the ledger.
const channels: [string, () => DynamoJson | undefined][] = [
  ['over HTTP', () => undefined],
  ['over the embedded server’s message channel', () => dynamo.json],
];
describe.each(channels)(
  'the ledger over the JSON protocol %s, beside the SDK document client, on dynalite',
  (_, channel) => {
    it('answers every operation as it does over the SDK and stores the same items', async () => {
      const transports = bothTransports(dynamo.endpoint, { json: channel() });
      try {
        const { sdk, json } = await ledgerTables(transports);
        const viaSdk = await ledgerRun(sdk.ledger);
        const viaJson = await ledgerRun(json.ledger);
        expect(viaJson).toEqual(viaSdk);
        // The run means something: its conditions held and failed where they should.
        const answer = (what: string) => (viaJson as [string, unknown][]).find(([w]) => w === what)?.[1];
        expect(answer('create r1 again')).toEqual({ error: 'ReleaseExists', cause: 'ConditionalCheckFailedException' });
        expect(answer('lock r2 (held)')).toMatchObject({ acquired: false, heldBy: { releaseId: 'r1' } });
        expect(answer('list regions')).toHaveLength(31);
        expect(answer('list releases')).toHaveLength(6);
        expect(answer('claims')).toEqual([true, false]);
        const sdkItems = await storedItems(sdk.table);
        expect(sdkItems.length).toBeGreaterThan(40);
        expect(await storedItems(json.table)).toEqual(sdkItems);
      } finally {
        transports.close();
      }
    });

    it('pages a query over 1 MB the same way, start keys included', async () => {
      const transports = bothTransports(dynamo.endpoint, { json: channel() });
      try {
        const { sdk, json } = await ledgerTables(transports);
        // 12 releases of ~150 KB each: DynamoDB (and dynalite) answers a Query 1 MB at a time.
        const big = (i: number) =>
          record('paged', `r${String(i).padStart(2, '0')}`, `2026-03-${String(i + 1).padStart(2, '0')}T00:00:00.000Z`, {
            artifact: `appspec:${String(i).repeat(150_000)}`,
          });
        for (let i = 0; i < 12; i++) {
          await sdk.ledger.createRelease(big(i));
          await json.ledger.createRelease(big(i));
        }
        let queries = 0;
        const counting: DocumentRequests = {
          send(request) {
            if (request.op === 'Query') queries += 1;
            return transports.json.send(request);
          },
        };
        const countedJson = new DynamoDbLedger({ requests: counting, tableName: json.table });
        const viaJson = await countedJson.listReleases('paged');
        expect(queries).toBeGreaterThan(1);
        expect(viaJson.map((r) => r.releaseId)).toEqual(
          Array.from({ length: 12 }, (_, i) => `r${String(11 - i).padStart(2, '0')}`),
        );
        expect(viaJson).toEqual(await sdk.ledger.listReleases('paged'));
        expect(await storedItems(json.table)).toEqual(await storedItems(sdk.table));
      } finally {
        transports.close();
      }
    });

    it('stores and reads back values of every kind as the SDK does', async () => {
      const transports = bothTransports(dynamo.endpoint, { json: channel() });
      try {
        const { sdk, json } = await ledgerTables(transports);
        const put = (table: string): DocumentRequest<'Put'> => ({
          op: 'Put',
          input: { TableName: table, Item: everyKind() },
        });
        const get = (table: string): DocumentRequest<'Get'> => ({
          op: 'Get',
          input: { TableName: table, Key: { pk: 'SERVICE#kinds', sk: 'ITEM#1' }, ConsistentRead: true },
        });
        await transports.sdk.send(put(sdk.table));
        await transports.json.send(put(json.table));
        expect(await storedItems(json.table)).toEqual(await storedItems(sdk.table));
        // Each reads what the other stored, and both read the same.
        const reads = [
          await transports.sdk.send(get(sdk.table)),
          await transports.json.send(get(sdk.table)),
          await transports.json.send(get(json.table)),
          await transports.sdk.send(get(json.table)),
        ].map(withoutMetadata);
        for (const read of reads.slice(1)) expect(read).toEqual(reads[0]);
        expect((reads[0] as { Item: Record<string, unknown> }).Item).toMatchObject({
          empty: '',
          nothing: null,
          emptyList: [],
          emptyMap: {},
          bigint: 12345678901234567890n,
          nested: { a: { b: { c: 'd', e: [{ f: null, g: '' }] } } },
        });
      } finally {
        transports.close();
      }
    });

    it('fails with the SDK error names and messages: conditions, validation, size limits, missing tables', async () => {
      const transports = bothTransports(dynamo.endpoint, { json: channel() });
      try {
        const { sdk, json } = await ledgerTables(transports);
        const requests = (table: string): DocumentRequest[] => [
          { op: 'Put', input: { TableName: table, Item: { pk: 'a', sk: 'b' } } },
          {
            op: 'Put',
            input: { TableName: table, Item: { pk: 'a', sk: 'b' }, ConditionExpression: 'attribute_not_exists(pk)' },
          },
          // The key's range part missing.
          { op: 'Put', input: { TableName: table, Item: { pk: 'a' } } },
          // Not an expression DynamoDB parses.
          {
            op: 'Update',
            input: { TableName: table, Key: { pk: 'a', sk: 'b' }, UpdateExpression: 'SET = nothing' },
          },
          // Over 400 KB.
          { op: 'Put', input: { TableName: table, Item: { pk: 'a', sk: 'big', blob: 'x'.repeat(401 * 1024) } } },
          // Over DynamoDB's 4 KB of expression (the embedded server enforces it: dynamo-limits.ts).
          {
            op: 'Update',
            input: {
              TableName: table,
              Key: { pk: 'a', sk: 'b' },
              UpdateExpression: `SET ${Array.from({ length: 400 }, (_, i) => `#a${i} = :v`).join(', ')}`,
              ExpressionAttributeNames: Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`#a${i}`, `a${i}`])),
              ExpressionAttributeValues: { ':v': 1 },
            },
          },
          { op: 'Get', input: { TableName: 'no-such-table', Key: { pk: 'a', sk: 'b' } } },
          { op: 'Query', input: { TableName: table, KeyConditionExpression: 'pk = :pk' } },
        ];
        const outcomes = async (via: DocumentRequests, table: string) => {
          const all: unknown[] = [];
          for (const request of requests(table)) {
            all.push(
              await via.send(request).then(
                (output) => ({ output: withoutMetadata(output) }),
                (error: unknown) => errorOf(error),
              ),
            );
          }
          return all;
        };
        const viaSdk = await outcomes(transports.sdk, sdk.table);
        const viaJson = await outcomes(transports.json, json.table);
        // The table names differ, and so do messages that name them.
        const sameTable = (x: unknown) => JSON.parse(JSON.stringify(x).replaceAll(json.table, sdk.table));
        expect(sameTable(viaJson)).toEqual(viaSdk);
        expect(viaJson.map((o) => (o as { name?: string }).name)).toEqual([
          undefined,
          'ConditionalCheckFailedException',
          'ValidationException',
          'ValidationException',
          'ValidationException',
          'ValidationException',
          'ResourceNotFoundException',
          'ValidationException',
        ]);
        expect(viaJson[4]).toMatchObject({ message: expect.stringMatching(/Item size has exceeded/), status: 400 });
        expect(viaJson[5]).toMatchObject({ message: expect.stringMatching(/Expression size has exceeded/) });
      } finally {
        transports.close();
      }
    });
  },
);

/**
 * A proxy to dynalite that leaves all but the first two writes of every BatchWriteItem it forwards
 * unprocessed (as throttled DynamoDB does), handing them back as they were sent.
 */
async function throttlingProxy(upstream: string) {
  const target = new URL(upstream);
  let batches = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks).toString('utf8');
      let unprocessed: Record<string, unknown[]> = {};
      if (req.headers['x-amz-target'] === 'DynamoDB_20120810.BatchWriteItem') {
        batches += 1;
        const data = JSON.parse(body) as { RequestItems: Record<string, unknown[]> };
        unprocessed = Object.fromEntries(
          Object.entries(data.RequestItems)
            .map(([table, writes]) => [table, writes.slice(2)] as const)
            .filter(([, rest]) => rest.length > 0),
        );
        for (const table of Object.keys(data.RequestItems)) {
          data.RequestItems[table] = (data.RequestItems[table] ?? []).slice(0, 2);
        }
        body = JSON.stringify(data);
      }
      const forward = httpRequest(
        {
          hostname: target.hostname,
          port: target.port,
          method: 'POST',
          path: '/',
          headers: { ...req.headers, 'content-length': Buffer.byteLength(body) },
        },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            let text = Buffer.concat(parts).toString('utf8');
            if (answer.statusCode === 200 && Object.keys(unprocessed).length > 0) {
              text = JSON.stringify({ ...JSON.parse(text), UnprocessedItems: unprocessed });
            }
            res.writeHead(answer.statusCode ?? 500, {
              'content-type': 'application/x-amz-json-1.0',
              'content-length': Buffer.byteLength(text),
            });
            res.end(text);
          });
        },
      );
      forward.end(body);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    batches: () => batches,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

describe('batch writes that DynamoDB leaves partly unprocessed', () => {
  it('are written in full through either transport, the unprocessed items sent again as they were', async () => {
    const proxy = await throttlingProxy(dynamo.endpoint);
    const transports = bothTransports(proxy.endpoint);
    try {
      const { sdk, json } = await ledgerTables(transports);
      const states = (service: string) =>
        Array.from({ length: 5 }, (_, i) => ({
          service,
          region: `region-${i}`,
          current: i === 0 ? null : { version: `1.${i}.0`, artifact: `/builds/${i}`, copyFrom: { from: '', n: i } },
          releaseId: i % 2 === 0 ? null : 'r1',
          updatedAt: '',
        })) as never;
      const before = proxy.batches();
      await sdk.ledger.putRegions(states('batched'));
      const sdkBatches = proxy.batches() - before;
      await json.ledger.putRegions(states('batched'));
      const jsonBatches = proxy.batches() - before - sdkBatches;
      // 5 writes, 2 taken a time: 3 requests each way.
      expect(sdkBatches).toBe(3);
      expect(jsonBatches).toBe(3);
      expect(await json.ledger.listRegions('batched')).toHaveLength(5);
      expect(await json.ledger.listRegions('batched')).toEqual(await sdk.ledger.listRegions('batched'));
      expect(await storedItems(json.table)).toEqual(await storedItems(sdk.table));
    } finally {
      transports.close();
      await proxy.close();
    }
  });
});

/** Keeps a DocumentOperation import honest: the transports serve every operation the ledger sends. */
const OPERATIONS: DocumentOperation[] = ['Get', 'Query', 'Put', 'Update', 'Delete', 'BatchWrite'];
it('covers every document operation the ledger sends', () => {
  expect(new Set(CASES.map((c) => c.request.op))).toEqual(new Set(OPERATIONS));
});
