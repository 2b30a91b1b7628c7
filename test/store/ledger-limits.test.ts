import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { jsonBytes } from '../../core/limits.ts';
import { planRelease } from '../../core/plan.ts';
import type { ReleaseRecord, ReleaseRegionPatch } from '../../ports/ledger.ts';
import { configWith } from '../helpers/fixtures.ts';

const TABLE = 'flotilla-ledger';
let dynamo: EmbeddedDynamo;
let ledger: DynamoDbLedger;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
  await createLedgerTable(dynamo.client, TABLE);
  ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: TABLE });
});
afterAll(async () => {
  await dynamo.close();
});

/** A region name as long as real ones get (`ap-southeast-3-canary-blue`), numbered. */
const regionName = (i: number) => `ap-southeast-${String(i).padStart(3, '0')}-canary-blue`;

function record(service: string, regions: number, artifact = 'appspec:{}'): ReleaseRecord {
  return {
    service,
    releaseId: 'r1',
    version: '2.0.0',
    artifact,
    status: 'RUNNING',
    wave: 0,
    waveCount: 1,
    regions: Object.fromEntries(
      Array.from({ length: regions }, (_, i) => [
        regionName(i),
        { region: regionName(i), wave: 0, phase: 'pending', before: null, updatedAt: '2026-01-01T00:00:00.000Z' },
      ]),
    ),
    startedAt: '2026-01-01T00:00:00.000Z',
  } as ReleaseRecord;
}

describe("the embedded DynamoDB enforces DynamoDB's limits", () => {
  it('refuses an update expression over 4 KB with a ValidationException, as DynamoDB does', async () => {
    await ledger.createRelease(record('expr', 1));
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    for (let i = 0; i < 200; i++) {
      names[`#attribute${i}`] = `a${i}`;
      values[`:value${i}`] = i;
      sets.push(`#attribute${i} = :value${i}`);
    }
    const expression = `SET ${sets.join(', ')}`;
    expect(Buffer.byteLength(expression)).toBeGreaterThan(4096);
    const update = (UpdateExpression: string, n: number) =>
      dynamo.doc.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: { pk: 'SERVICE#expr', sk: 'RELEASE#r1' },
          UpdateExpression,
          ExpressionAttributeNames: Object.fromEntries(Object.entries(names).slice(0, n)),
          ExpressionAttributeValues: Object.fromEntries(Object.entries(values).slice(0, n)),
        }),
      );
    await expect(update(expression, 200)).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringMatching(
        /^Invalid UpdateExpression: Expression size has exceeded the maximum allowed size/,
      ),
    });
    // The same kind of write under the limit goes through.
    await expect(update(`SET ${sets.slice(0, 100).join(', ')}`, 100)).resolves.toBeDefined();
  });

  it('refuses an item over 400 KB with a ValidationException', async () => {
    await expect(ledger.createRelease(record('item', 1, 'x'.repeat(401 * 1024)))).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });
});

describe('updateReleaseRegions at 100+ regions', () => {
  it("marks 120 regions in one call, each request's expressions within DynamoDB's 4 KB", async () => {
    await ledger.createRelease(record('wide', 120));
    const patches: ReleaseRegionPatch[] = Array.from({ length: 120 }, (_, i) => ({
      region: regionName(i),
      phase: 'deploying',
      updatedAt: '2026-01-01T00:05:00.000Z',
      before: { version: '1.9.0', artifact: `appspec:${'y'.repeat(2048)}` },
      message: 'started',
    }));
    await ledger.updateReleaseRegions('wide', 'r1', patches);
    const stored = await ledger.getRelease('wide', 'r1');
    const entries = Object.values(stored?.regions ?? {});
    expect(entries).toHaveLength(120);
    for (const entry of entries) {
      expect(entry).toMatchObject({ phase: 'deploying', message: 'started', before: { version: '1.9.0' } });
    }
  });

  it('still refuses regions the release does not have', async () => {
    await ledger.createRelease(record('missing', 50));
    const patches: ReleaseRegionPatch[] = Array.from({ length: 60 }, (_, i) => ({
      region: regionName(i),
      phase: 'deploying',
    }));
    await expect(ledger.updateReleaseRegions('missing', 'r1', patches)).rejects.toMatchObject({
      name: 'ReleaseNotFound',
    });
  });
});

describe('the plan in the ledger', () => {
  it('gives back the plan it was given, stored without what every task repeats', async () => {
    const regions = Array.from({ length: 100 }, (_, i) => regionName(i));
    const config = configWith([regions.slice(0, 1), regions.slice(1, 10), regions.slice(10)], { service: 'plans' });
    const plan = planRelease({
      config,
      releaseId: 'r1',
      version: '2.0.0',
      artifact: `appspec:${'z'.repeat(2048)}`,
      regionStateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:region',
      owner: 'test',
    });
    const kept = await ledger.putPlan(plan);
    expect(await ledger.getPlan('plans', 'r1')).toEqual(plan);
    // What putPlan gives back for a caller to keep is what a read gives, to the last undefined field.
    expect(kept).toStrictEqual(await ledger.getPlan('plans', 'r1'));
    expect(await ledger.getPlan('plans', 'r2')).toBeUndefined();
    const item = await dynamo.doc.send(
      new GetCommand({ TableName: TABLE, Key: { pk: 'SERVICE#plans', sk: 'PLAN#r1' } }),
    );
    // The plan as the state used to carry it weighs over 200 KB; stored, one AppSpec and 100 targets.
    expect(jsonBytes(plan)).toBeGreaterThan(200 * 1024);
    expect(jsonBytes(item.Item)).toBeLessThan(40 * 1024);
    // Written once: the same plan again is fine (a retried PlanRelease), another one is refused.
    await ledger.putPlan(plan);
    await expect(ledger.putPlan({ ...plan, version: '2.0.1' })).rejects.toMatchObject({ name: 'ReleaseExists' });
    expect((await ledger.getPlan('plans', 'r1'))?.version).toBe('2.0.0');
  });

  it("reads one region's entry of a release without the rest", async () => {
    await ledger.createRelease(record('one', 3));
    expect(await ledger.getReleaseRegion('one', 'r1', regionName(1))).toMatchObject({
      region: regionName(1),
      phase: 'pending',
    });
    expect(await ledger.getReleaseRegion('one', 'r1', 'elsewhere')).toBeUndefined();
    expect(await ledger.getReleaseRegion('one', 'nope', regionName(1))).toBeUndefined();
  });

  it("reads many regions' entries at once, each its own, past one request's worth", async () => {
    // A wave's children load their tasks at once: the reads asked for together go out together,
    // and each still gets its own region's entry (or nothing), however many wait.
    await ledger.createRelease(record('many', 60));
    await ledger.updateReleaseRegions('many', 'r1', [
      { region: regionName(7), phase: 'deploying', updatedAt: '2026-01-01T00:00:01.000Z' },
    ]);
    const names = [...Array.from({ length: 60 }, (_, i) => regionName(i)), 'elsewhere', regionName(3)];
    const entries = await Promise.all([
      ...names.map((name) => ledger.getReleaseRegion('many', 'r1', name)),
      ledger.getReleaseRegion('many', 'nope', regionName(1)),
    ]);
    names.forEach((name, i) => {
      if (name === 'elsewhere') expect(entries[i]).toBeUndefined();
      else expect(entries[i]).toMatchObject({ region: name, phase: name === regionName(7) ? 'deploying' : 'pending' });
    });
    expect(entries.at(-1)).toBeUndefined();
    // Read again after a write: a read asked for later sees it.
    await ledger.updateReleaseRegions('many', 'r1', [
      { region: regionName(7), phase: 'deployed', updatedAt: '2026-01-01T00:00:02.000Z' },
    ]);
    expect(await ledger.getReleaseRegion('many', 'r1', regionName(7))).toMatchObject({ phase: 'deployed' });
  });
});
