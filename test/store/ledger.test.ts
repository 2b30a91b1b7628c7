import { CreateTableCommand, DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReleaseExists, ReleaseNotFound, StoreThrottled } from '../../adapters/dynamodb/errors.ts';
import { jsonDocumentRequests } from '../../adapters/dynamodb/json-documents.ts';
import {
  createLedgerTable,
  type DocumentRequests,
  DynamoDbLedger,
  documentClientRequests,
} from '../../adapters/dynamodb/ledger.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import type { BranchHead, LockHolder, RegionState, ReleaseRecord, ReleaseRegion } from '../../ports/ledger.ts';

const TABLE = 'flotilla-ledger';

let dynamo: EmbeddedDynamo;
let ledger: DynamoDbLedger;

/**
 * Every test below runs over both ways the ledger's requests reach DynamoDB: the SDK's document
 * client (the AWS backend), and DynamoDB's JSON protocol spoken directly (the local backend).
 */
const TRANSPORTS = {
  // A plain document client, as the AWS backend would build one: the ledger must not rely on
  // removeUndefinedValues or any other marshalling option.
  'the SDK document client': () => documentClientRequests(DynamoDBDocumentClient.from(dynamo.client)),
  'the JSON protocol': () => jsonDocumentRequests(dynamo.json),
} satisfies Record<string, () => DocumentRequests>;

let serviceCounter = 0;

/** Each test works on its own service, so tests share one table without seeing each other's items. */
function freshService(): string {
  serviceCounter += 1;
  return `svc-${serviceCounter}`;
}

function release(service: string, releaseId: string, overrides: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return {
    service,
    releaseId,
    version: '1.2.0',
    artifact: '/builds/1.2.0',
    status: 'RUNNING',
    wave: 0,
    waveCount: 2,
    regions: {
      'eu-west-1': {
        region: 'eu-west-1',
        wave: 0,
        phase: 'pending',
        before: { version: '1.1.0', artifact: '/builds/1.1.0' },
        updatedAt: '2025-01-01T00:00:00.000Z',
      },
    },
    startedAt: '2025-01-01T00:00:00.000Z',
    ...overrides,
  };
}

function regionEntry(region: string, overrides: Partial<ReleaseRegion> = {}): ReleaseRegion {
  return {
    region,
    wave: 1,
    phase: 'deploying',
    before: null,
    updatedAt: '2025-01-01T00:01:00.000Z',
    ...overrides,
  };
}

function holder(releaseId: string, owner = 'local:host:1'): LockHolder {
  return { releaseId, owner, acquiredAt: '2025-01-01T00:00:00.000Z' };
}

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
  await createLedgerTable(dynamo.client, TABLE);
});

afterAll(async () => {
  await dynamo?.close();
});

describe.each(['client', 'json'] as const)('createLedgerTable through the %s', (via) => {
  const tables = () => (via === 'client' ? dynamo.client : dynamo.json);
  beforeAll(() => {
    ledger = new DynamoDbLedger({ requests: TRANSPORTS['the SDK document client'](), tableName: TABLE });
  });

  it('is idempotent: creating an existing table succeeds and leaves its data alone', async () => {
    const service = freshService();
    await ledger.createRelease(release(service, 'r1'));
    await createLedgerTable(tables(), TABLE);
    expect(await ledger.getRelease(service, 'r1')).toEqual(release(service, 'r1'));
  });

  it('refuses a same-named table that lacks the releases index', async () => {
    await dynamo.client.send(
      new CreateTableCommand({
        TableName: `not-a-ledger-${via}`,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
    await expect(createLedgerTable(tables(), `not-a-ledger-${via}`)).rejects.toThrow(/lacks the local secondary index/);
  });
});

describe.each(Object.keys(TRANSPORTS) as (keyof typeof TRANSPORTS)[])('the ledger over %s', (transport) => {
  beforeAll(() => {
    ledger = new DynamoDbLedger({ requests: TRANSPORTS[transport](), tableName: TABLE });
  });

  describe('region state', () => {
    it('reads back what was put, and nothing for a region never put', async () => {
      const service = freshService();
      const state: RegionState = {
        service,
        region: 'us-east-1',
        current: { version: '1.0.0', artifact: '/builds/1.0.0' },
        releaseId: 'r1',
        updatedAt: '2025-01-01T00:00:00.000Z',
      };
      await ledger.putRegion(state);
      expect(await ledger.getRegion(service, 'us-east-1')).toEqual(state);
      expect(await ledger.getRegion(service, 'eu-west-1')).toBeUndefined();
    });

    it('keeps an empty region (no revision, no release) as nulls', async () => {
      const service = freshService();
      const state: RegionState = {
        service,
        region: 'us-east-1',
        current: null,
        releaseId: null,
        updatedAt: '2025-01-01T00:00:00.000Z',
      };
      await ledger.putRegion(state);
      expect(await ledger.getRegion(service, 'us-east-1')).toEqual(state);
    });

    it('replaces a region state on a second put', async () => {
      const service = freshService();
      const base = { service, region: 'us-east-1', releaseId: 'r1', updatedAt: '2025-01-01T00:00:00.000Z' };
      await ledger.putRegion({ ...base, current: { version: '1.0.0', artifact: '/a' } });
      await ledger.putRegion({ ...base, current: { version: '2.0.0', artifact: '/b' }, releaseId: 'r2' });
      expect(await ledger.getRegion(service, 'us-east-1')).toMatchObject({
        current: { version: '2.0.0', artifact: '/b' },
        releaseId: 'r2',
      });
    });

    it('lists only this service’s regions, not its releases or lock, nor other services’ regions', async () => {
      const service = freshService();
      const other = freshService();
      for (const region of ['us-east-1', 'eu-west-1', 'ap-south-1']) {
        await ledger.putRegion({ service, region, current: null, releaseId: null, updatedAt: 't' });
      }
      await ledger.putRegion({ service: other, region: 'us-west-2', current: null, releaseId: null, updatedAt: 't' });
      await ledger.createRelease(release(service, 'r1'));
      await ledger.acquireLock(service, holder('r1'));

      const regions = await ledger.listRegions(service);
      expect(regions.map((r) => r.region).sort()).toEqual(['ap-south-1', 'eu-west-1', 'us-east-1']);
      expect(regions.every((r) => r.service === service)).toBe(true);
      expect(await ledger.listRegions(freshService())).toEqual([]);
    });
  });

  describe('many regions at once', () => {
    it('writes a wave of 40 region states in batches of at most 25 and reads every one back', async () => {
      const service = freshService();
      const states: RegionState[] = Array.from({ length: 40 }, (_, i) => ({
        service,
        region: `region-${i}`,
        current: { version: `1.0.${i}`, artifact: `/builds/${i}` },
        releaseId: 'r1',
        updatedAt: 't',
      }));
      await ledger.putRegions(states);
      const back = await ledger.listRegions(service);
      expect(back.sort((a, b) => a.region.localeCompare(b.region, 'en', { numeric: true }))).toEqual(states);
    });

    it('updates many regions of a release in one write and leaves the other fields alone', async () => {
      const service = freshService();
      const regions = ['eu-west-1', 'us-east-1', 'ap-south-1'];
      await ledger.createRelease(
        release(service, 'r1', { regions: Object.fromEntries(regions.map((r) => [r, regionEntry(r)])) }),
      );
      await ledger.updateReleaseRegions(
        service,
        'r1',
        regions.map((region) => ({ region, phase: 'deploying', updatedAt: 'later' })),
      );
      const after = await ledger.getRelease(service, 'r1');
      for (const region of regions) {
        expect(after?.regions[region]).toMatchObject({
          phase: 'deploying',
          updatedAt: 'later',
          wave: expect.any(Number),
        });
      }
    });

    it('refuses to update a region the release does not have', async () => {
      const service = freshService();
      await ledger.createRelease(release(service, 'r1'));
      await expect(
        ledger.updateReleaseRegions(service, 'r1', [{ region: 'nowhere-1', phase: 'deploying' }]),
      ).rejects.toMatchObject({ name: 'ReleaseNotFound' });
    });
  });

  describe('releases', () => {
    it('reads back a created release by its id alone', async () => {
      const service = freshService();
      const record = release(service, 'r-abc', { reason: 'first try' });
      await ledger.createRelease(record);
      expect(await ledger.getRelease(service, 'r-abc')).toEqual(record);
      expect(await ledger.getRelease(service, 'r-missing')).toBeUndefined();
      expect(await ledger.getRelease(freshService(), 'r-abc')).toBeUndefined();
    });

    it('round-trips a release without optional fields and with no regions yet', async () => {
      const service = freshService();
      const record = release(service, 'r1', { regions: {} });
      await ledger.createRelease(record);
      const read = await ledger.getRelease(service, 'r1');
      expect(read).toEqual(record);
      expect(read).not.toHaveProperty('reason');
      expect(read).not.toHaveProperty('endedAt');
    });

    it('fails with ReleaseExists when the id is taken, keeping the first release', async () => {
      const service = freshService();
      await ledger.createRelease(release(service, 'r1', { version: '1.0.0' }));
      const duplicate = ledger.createRelease(release(service, 'r1', { version: '9.9.9' }));
      await expect(duplicate).rejects.toMatchObject({ name: ReleaseExists });
      expect((await ledger.getRelease(service, 'r1'))?.version).toBe('1.0.0');
    });

    it('allows the same release id in another service', async () => {
      await ledger.createRelease(release(freshService(), 'r1'));
      await expect(ledger.createRelease(release(freshService(), 'r1'))).resolves.toBeUndefined();
    });

    it('lists releases newest first, honouring the limit, ignoring other services', async () => {
      const service = freshService();
      // Created out of start order on purpose.
      const starts = ['2025-03-01', '2025-01-01', '2025-05-01', '2025-02-01', '2025-04-01'];
      for (const [i, day] of starts.entries()) {
        await ledger.createRelease(release(service, `r${i}`, { startedAt: `${day}T00:00:00.000Z` }));
      }
      await ledger.createRelease(release(freshService(), 'elsewhere', { startedAt: '2026-01-01T00:00:00.000Z' }));
      await ledger.putRegion({ service, region: 'us-east-1', current: null, releaseId: null, updatedAt: 'z' });
      await ledger.acquireLock(service, holder('r0'));

      const all = await ledger.listReleases(service);
      expect(all.map((r) => r.startedAt.slice(0, 10))).toEqual([
        '2025-05-01',
        '2025-04-01',
        '2025-03-01',
        '2025-02-01',
        '2025-01-01',
      ]);
      expect(all.map((r) => r.releaseId)).toEqual(['r2', 'r4', 'r0', 'r3', 'r1']);

      const latestTwo = await ledger.listReleases(service, 2);
      expect(latestTwo.map((r) => r.releaseId)).toEqual(['r2', 'r4']);
      expect(latestTwo[0]).toEqual(all[0]);

      expect(await ledger.listReleases(service, 0)).toEqual([]);
      expect(await ledger.listReleases(service, 50)).toHaveLength(5);
      expect(await ledger.listReleases(freshService())).toEqual([]);
    });

    it('orders releases that started in the same millisecond by release id', async () => {
      const service = freshService();
      const startedAt = '2025-01-01T00:00:00.000Z';
      await ledger.createRelease(release(service, 'b', { startedAt }));
      await ledger.createRelease(release(service, 'a', { startedAt }));
      await ledger.createRelease(release(service, 'c', { startedAt }));
      expect((await ledger.listReleases(service)).map((r) => r.releaseId)).toEqual(['c', 'b', 'a']);
    });

    it('sets one region of a release without touching the others', async () => {
      const service = freshService();
      await ledger.createRelease(release(service, 'r1'));
      const entry = regionEntry('us-east-1', { message: 'health gate failed: 3/5 probes' });
      await ledger.putReleaseRegion(service, 'r1', entry);
      await ledger.putReleaseRegion(service, 'r1', regionEntry('eu-west-1', { phase: 'deployed', wave: 0 }));

      const read = await ledger.getRelease(service, 'r1');
      expect(read?.regions['us-east-1']).toEqual(entry);
      expect(read?.regions['eu-west-1']).toMatchObject({ phase: 'deployed', before: null });
      expect(Object.keys(read?.regions ?? {}).sort()).toEqual(['eu-west-1', 'us-east-1']);
      expect(read?.version).toBe('1.2.0');
    });

    it('keeps all 20 regions when they are written concurrently', async () => {
      const service = freshService();
      await ledger.createRelease(release(service, 'r1', { regions: {} }));
      const regions = Array.from({ length: 20 }, (_, i) => `region-${String(i).padStart(2, '0')}`);

      await Promise.all(
        regions.map((region, i) =>
          ledger.putReleaseRegion(service, 'r1', regionEntry(region, { wave: i % 4, phase: 'deployed' })),
        ),
      );

      const read = await ledger.getRelease(service, 'r1');
      expect(Object.keys(read?.regions ?? {}).sort()).toEqual(regions);
      for (const [i, region] of regions.entries()) {
        expect(read?.regions[region]).toEqual(regionEntry(region, { wave: i % 4, phase: 'deployed' }));
      }
    });

    it('updates only the release-level fields it is given', async () => {
      const service = freshService();
      await ledger.createRelease(release(service, 'r1', { reason: 'starting' }));
      await ledger.putReleaseRegion(service, 'r1', regionEntry('us-east-1'));

      await ledger.updateRelease(service, 'r1', { wave: 1 });
      await ledger.updateRelease(service, 'r1', {
        status: 'ROLLED_BACK',
        endedAt: '2025-01-01T01:00:00.000Z',
        reason: 'gate failed in us-east-1',
      });
      await ledger.updateRelease(service, 'r1', { reason: undefined });
      await ledger.updateRelease(service, 'r1', {});

      expect(await ledger.getRelease(service, 'r1')).toEqual({
        ...release(service, 'r1'),
        status: 'ROLLED_BACK',
        wave: 1,
        reason: 'gate failed in us-east-1',
        endedAt: '2025-01-01T01:00:00.000Z',
        regions: { ...release(service, 'r1').regions, 'us-east-1': regionEntry('us-east-1') },
      });
    });

    it('fails with ReleaseNotFound when updating a release that does not exist, creating nothing', async () => {
      const service = freshService();
      await expect(ledger.putReleaseRegion(service, 'nope', regionEntry('us-east-1'))).rejects.toMatchObject({
        name: ReleaseNotFound,
      });
      await expect(ledger.updateRelease(service, 'nope', { status: 'FAILED' })).rejects.toMatchObject({
        name: ReleaseNotFound,
      });
      expect(await ledger.getRelease(service, 'nope')).toBeUndefined();
      expect(await ledger.listReleases(service)).toEqual([]);
    });
  });

  describe('release lock', () => {
    it('is free until acquired, then reports its holder', async () => {
      const service = freshService();
      expect(await ledger.getLock(service)).toBeUndefined();
      expect(await ledger.acquireLock(service, holder('r1'))).toEqual({ acquired: true });
      expect(await ledger.getLock(service)).toEqual(holder('r1'));
    });

    it('is idempotent for the release that holds it', async () => {
      const service = freshService();
      expect(await ledger.acquireLock(service, holder('r1', 'local:host:1'))).toEqual({ acquired: true });
      // The same release again, e.g. a resumed run in a new process.
      expect(await ledger.acquireLock(service, holder('r1', 'local:host:2'))).toEqual({ acquired: true });
      expect((await ledger.getLock(service))?.releaseId).toBe('r1');
    });

    it('refuses another release and says who holds it', async () => {
      const service = freshService();
      await ledger.acquireLock(service, holder('r1', 'local:host:1'));
      expect(await ledger.acquireLock(service, holder('r2', 'local:host:2'))).toEqual({
        acquired: false,
        heldBy: holder('r1', 'local:host:1'),
      });
      expect((await ledger.getLock(service))?.releaseId).toBe('r1');
    });

    it('ignores a release request from a release that does not hold it', async () => {
      const service = freshService();
      await ledger.acquireLock(service, holder('r1'));
      await expect(ledger.releaseLock(service, 'r2')).resolves.toBeUndefined();
      expect((await ledger.getLock(service))?.releaseId).toBe('r1');
      // Releasing a lock nobody holds is a no-op too.
      await expect(ledger.releaseLock(freshService(), 'r1')).resolves.toBeUndefined();
    });

    it('is free again once its holder releases it, and can go to another release', async () => {
      const service = freshService();
      await ledger.acquireLock(service, holder('r1'));
      await ledger.releaseLock(service, 'r1');
      expect(await ledger.getLock(service)).toBeUndefined();
      expect(await ledger.acquireLock(service, holder('r2'))).toEqual({ acquired: true });
      expect((await ledger.getLock(service))?.releaseId).toBe('r2');
    });

    it('goes to exactly one of many releases racing for it', async () => {
      const service = freshService();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => ledger.acquireLock(service, holder(`r${i}`))),
      );
      const winners = results.filter((r) => r.acquired);
      expect(winners).toHaveLength(1);
      const holderId = (await ledger.getLock(service))?.releaseId;
      for (const result of results) {
        if (!result.acquired) expect(result.heldBy.releaseId).toBe(holderId);
      }
    });

    it('is per service', async () => {
      const a = freshService();
      const b = freshService();
      expect(await ledger.acquireLock(a, holder('r1'))).toEqual({ acquired: true });
      expect(await ledger.acquireLock(b, holder('r2'))).toEqual({ acquired: true });
    });
  });

  describe('store errors', () => {
    it('lets other DynamoDB errors through under their SDK name', async () => {
      const missing = new DynamoDbLedger({
        requests: TRANSPORTS[transport](),
        tableName: 'no-such',
      });
      await expect(missing.getRegion('svc', 'us-east-1')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      await expect(missing.createRelease(release('svc', 'r1'))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
    });
  });

  describe('one-time claims', () => {
    it('the first claim of a key wins, every later one (or racing one) loses; other keys are untouched', async () => {
      const key = `slack:claim-${freshService()}`;
      const expiresAt = Date.UTC(2026, 0, 1, 12, 6);
      expect(await ledger.claimRequest(key, expiresAt)).toBe(true);
      expect(await ledger.claimRequest(key, expiresAt)).toBe(false);
      const racing = `slack:race-${freshService()}`;
      const results = await Promise.all(Array.from({ length: 8 }, () => ledger.claimRequest(racing, expiresAt)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await ledger.claimRequest(`slack:other-${freshService()}`, expiresAt)).toBe(true);
    });
  });

  describe('branch heads', () => {
    const head = (commit: string, pushedAt: number): BranchHead => ({ branch: 'main', commit, pushedAt });

    it('reads back the head put, per service and branch; nothing before one is put', async () => {
      const service = freshService();
      expect(await ledger.getBranchHead(service, 'main')).toBeUndefined();
      expect(await ledger.putBranchHead(service, { ...head('a', 1_000), committedAt: 900 }, undefined)).toBe(true);
      expect(await ledger.getBranchHead(service, 'main')).toEqual({ ...head('a', 1_000), committedAt: 900 });
      expect(await ledger.getBranchHead(service, 'release')).toBeUndefined();
      expect(await ledger.getBranchHead(freshService(), 'main')).toBeUndefined();
    });

    it('moves the head only from the one it was read as: of two writers racing from one head, one wins', async () => {
      const service = freshService();
      await ledger.putBranchHead(service, head('a', 1_000), undefined);
      const seen = await ledger.getBranchHead(service, 'main');
      const results = await Promise.all([
        ledger.putBranchHead(service, head('b', 2_000), seen),
        ledger.putBranchHead(service, head('c', 3_000), seen),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results[0] ? 'b' : 'c';
      expect((await ledger.getBranchHead(service, 'main'))?.commit).toBe(winner);
      // A first head is put once: a second "none yet" write loses.
      const other = freshService();
      const firsts = await Promise.all([
        ledger.putBranchHead(other, head('a', 1_000), undefined),
        ledger.putBranchHead(other, head('b', 2_000), undefined),
      ]);
      expect(firsts.filter(Boolean)).toHaveLength(1);
      // A stale expectation loses even when the commit matches but the time does not.
      expect(await ledger.putBranchHead(service, head('d', 4_000), head(winner, 1))).toBe(false);
    });
  });
});

describe('store errors the SDK raises', () => {
  it('turns DynamoDB throttling into StoreThrottled, keeping the SDK error as cause', async () => {
    // A real client on the real server, with a fault injected before the request leaves. Its own
    // client: a document client shares the middleware stack of the client it wraps.
    const raw = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const throttled = DynamoDBDocumentClient.from(raw);
    const sdkError = new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} });
    throttled.middlewareStack.add(
      () => async () => {
        throw sdkError;
      },
      { step: 'initialize', name: 'injectThrottle' },
    );
    const throttledLedger = new DynamoDbLedger({ client: throttled, tableName: TABLE });

    const failure = await throttledLedger.getRegion('svc', 'us-east-1').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).toMatchObject({ name: StoreThrottled, cause: sdkError });
    await expect(throttledLedger.acquireLock('svc', holder('r1'))).rejects.toMatchObject({ name: StoreThrottled });
    raw.destroy();
  });

  it('recognises throttling by the one AWS rule (isThrottling): an HTTP 429 under another name is StoreThrottled too', async () => {
    const raw = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const throttled = DynamoDBDocumentClient.from(raw);
    const sdkError = Object.assign(new Error('rate'), { name: 'SomethingElse', $metadata: { httpStatusCode: 429 } });
    throttled.middlewareStack.add(
      () => async () => {
        throw sdkError;
      },
      { step: 'initialize', name: 'injectThrottle' },
    );
    const throttledLedger = new DynamoDbLedger({ client: throttled, tableName: TABLE });
    await expect(throttledLedger.getRegion('svc', 'us-east-1')).rejects.toMatchObject({
      name: StoreThrottled,
      cause: sdkError,
    });
    raw.destroy();
  });
});
