/**
 * The read-only ledger (backends/local/ledger-reader.ts) against the embedded server's: a real
 * dynalite server writes a ledger to a real LevelDB through DynamoDbLedger, then every read of the
 * Ledger port answers the same through the reader (paging over 1 MB included), which changes
 * nothing, refuses writes, and refuses the same damage and the same concurrent holder.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { LedgerDamaged, StateDirLocked, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { writeLedgerCopy } from '../../backends/local/ledger-copy.ts';
import { TABLE_NAME } from '../../backends/local/ledger-files.ts';
import { LedgerReadOnly, openLedgerReader } from '../../backends/local/ledger-reader.ts';
import type { Intent } from '../../core/control.ts';
import { planRelease } from '../../core/plan.ts';
import type { BakeWatch } from '../../core/types.ts';
import type { Ledger, ReleaseRecord } from '../../ports/ledger.ts';
import { configWith, gate, recordWith } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/local.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function stateDir(): Promise<string> {
  const t = await tempDir('flotilla-reader-');
  cleanups.push(t.cleanup);
  return join(t.dir, '.flotilla');
}

const release = (id: string, startedAt: string, regions: number, padding = 0): ReleaseRecord => ({
  ...recordWith(
    Array.from({ length: regions }, (_, i) => ({
      region: `region-${String(i).padStart(3, '0')}`,
      wave: i % 3,
      phase: 'deployed' as const,
      before: i % 2 ? '1.0.0' : null,
    })),
  ),
  releaseId: id,
  startedAt,
  status: 'SUCCEEDED',
  reason: padding ? 'x'.repeat(padding) : 'done',
  used: { promotions: 1, forces: 0 },
});

const intent = (releaseId: string | null, id: string, verb: Intent['verb']): Intent => ({
  service: 'shop',
  releaseId,
  verb,
  actor: 'ana@host',
  reason: `because ${id}`,
  at: '2026-01-01T00:00:00.000Z',
  id,
  ...(verb === 'skip-region' ? { region: 'region-001' } : {}),
});

/** Every read of the Ledger port the read verbs and doctor use, and the rest of them too. */
async function everyRead(ledger: Ledger) {
  return {
    region: await ledger.getRegion('shop', 'us-east-1'),
    noRegion: await ledger.getRegion('shop', 'nowhere'),
    regions: await ledger.listRegions('shop'),
    otherService: await ledger.listRegions('cart'),
    release: await ledger.getRelease('shop', 'shop-1.0.0'),
    noRelease: await ledger.getRelease('shop', 'shop-9.9.9'),
    releaseRegion: await ledger.getReleaseRegion('shop', 'shop-1.0.0', 'region-002'),
    releases: await ledger.listReleases('shop'),
    latest: await ledger.listReleases('shop', 1),
    three: await ledger.listReleases('shop', 3),
    none: await ledger.listReleases('shop', 0),
    plan: await ledger.getPlan('shop', 'shop-1.0.0'),
    intents: await ledger.listIntents('shop', 'shop-1.0.0'),
    globalIntents: await ledger.listIntents('shop', null),
    bakes: await ledger.listBakes(),
    lock: await ledger.getLock('shop'),
    head: await ledger.getBranchHead('shop', 'main'),
    noHead: await ledger.getBranchHead('shop', 'dev'),
  };
}

/** A ledger with some of everything, written by the embedded server; what it reads back then. */
async function writtenLedger(dir: string) {
  const dynamo = await startEmbeddedDynamo({ dir: join(dir, 'ledger') });
  try {
    await createLedgerTable(dynamo.client, TABLE_NAME);
    const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: TABLE_NAME });
    await ledger.putRegions([
      {
        service: 'shop',
        region: 'us-east-1',
        current: { version: '1.0.0', artifact: '/b/1' },
        releaseId: 'shop-1.0.0',
        updatedAt: '2026-01-01T00:01:00.000Z',
      },
      { service: 'shop', region: 'eu-west-1', current: null, releaseId: null, updatedAt: '2026-01-01T00:02:00.000Z' },
      {
        service: 'cart',
        region: 'us-east-1',
        current: { version: '3.0.0', artifact: '/c/3' },
        releaseId: 'cart-3.0.0',
        updatedAt: '2026-01-01T00:03:00.000Z',
      },
    ]);
    await ledger.createRelease(release('shop-1.0.0', '2026-01-01T00:00:00.000Z', 40));
    // Four releases of ~300 KB: listing them takes more than one of DynamoDB's 1 MB pages.
    for (let i = 1; i <= 4; i++) {
      await ledger.createRelease(release(`shop-1.0.${i}`, `2026-01-0${i + 1}T00:00:00.000Z`, 3, 300_000));
    }
    await ledger.updateRelease('shop', 'shop-1.0.4', {
      status: 'RUNNING',
      hold: { wave: 1, since: '2026-01-05T00:00:00.000Z', reasons: [] },
    });
    await ledger.putPlan(
      planRelease({
        config: configWith([['us-east-1'], ['eu-west-1']]),
        releaseId: 'shop-1.0.0',
        version: '1.0.0',
        artifact: '/b/1',
        regionStateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:region',
        owner: 'test',
      }),
    );
    await ledger.putIntent(intent('shop-1.0.0', '0001', 'pause'));
    await ledger.putIntent(intent('shop-1.0.0', '0002', 'skip-region'));
    await ledger.putIntent(intent(null, '0003', 'freeze'));
    const bake: BakeWatch = {
      service: 'shop',
      releaseId: 'shop-1.0.4',
      wave: 1,
      token: 't',
      startedAt: 1,
      bakeUntil: 2,
      version: '1.0.4',
      gate: gate(),
      regions: [],
      samples: { 'us-east-1': { ok: 3, errors: 1, missing: 0, lastProblem: 'HTTP 500' } },
    };
    await ledger.putBake(bake);
    await ledger.acquireLock('shop', {
      releaseId: 'shop-1.0.4',
      owner: 'aws:arn',
      acquiredAt: '2026-01-05T00:00:00.000Z',
    });
    await ledger.putBranchHead('shop', { branch: 'main', commit: 'abc1234', pushedAt: 5, committedAt: 4 }, undefined);
    const reads = await everyRead(ledger);
    await writeLedgerCopy(dynamo.client, TABLE_NAME, dir, 0);
    return reads;
  } finally {
    await dynamo.close();
  }
}

describe('the read-only ledger', () => {
  it('answers every read as the embedded server does, and changes nothing', async () => {
    const dir = await stateDir();
    const served = await writtenLedger(dir);
    expect(served.releases).toHaveLength(5);
    expect(served.release?.regions['region-002']).toBeDefined();
    const copy = await readFile(join(dir, 'ledger-copy.json'), 'utf8');
    const copyAt = (await stat(join(dir, 'ledger-copy.json'))).mtimeMs;

    const reader = await openLedgerReader(dir, TABLE_NAME);
    try {
      expect(await everyRead(reader.ledger)).toEqual(served);
      // Writes are refused, whichever kind.
      await expect(
        reader.ledger.putRegion({ service: 'shop', region: 'x', current: null, releaseId: null, updatedAt: 'now' }),
      ).rejects.toMatchObject({ name: LedgerReadOnly });
      await expect(reader.ledger.updateRelease('shop', 'shop-1.0.0', { status: 'FAILED' })).rejects.toMatchObject({
        name: LedgerReadOnly,
      });
      await expect(reader.ledger.releaseLock('shop', 'shop-1.0.4')).rejects.toMatchObject({ name: LedgerReadOnly });
      // While it is open, nobody else opens the state dir.
      await expect(startEmbeddedDynamo({ dir: join(dir, 'ledger') })).rejects.toMatchObject({ name: StateDirLocked });
    } finally {
      await reader.close();
    }
    expect(await readFile(join(dir, 'ledger-copy.json'), 'utf8')).toBe(copy);
    expect((await stat(join(dir, 'ledger-copy.json'))).mtimeMs).toBe(copyAt);
    // The server reads it back as it was.
    const dynamo = await startEmbeddedDynamo({ dir: join(dir, 'ledger') });
    try {
      expect(await everyRead(new DynamoDbLedger({ client: dynamo.doc, tableName: TABLE_NAME }))).toEqual(served);
    } finally {
      await dynamo.close();
    }
  });

  it('is refused while the embedded server holds the state dir', async () => {
    const dir = await stateDir();
    const dynamo = await startEmbeddedDynamo({ dir: join(dir, 'ledger') });
    try {
      await createLedgerTable(dynamo.client, TABLE_NAME);
      await expect(openLedgerReader(dir, TABLE_NAME)).rejects.toMatchObject({ name: StateDirLocked });
    } finally {
      await dynamo.close();
    }
  });

  it('reads a state dir with no ledger yet as empty, and makes nothing there', async () => {
    const dir = await stateDir();
    const reader = await openLedgerReader(dir, TABLE_NAME);
    expect(await reader.ledger.listReleases('shop')).toEqual([]);
    expect(await reader.ledger.listRegions('shop')).toEqual([]);
    expect(await reader.ledger.getLock('shop')).toBeUndefined();
    await reader.close();
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a lost ledger whose copy is there, as every command does', async () => {
    const dir = await stateDir();
    await writtenLedger(dir);
    await rm(join(dir, 'ledger'), { recursive: true });
    await expect(openLedgerReader(dir, TABLE_NAME)).rejects.toMatchObject({
      name: LedgerDamaged,
      message: expect.stringMatching(/is missing, but its copy .*ledger-copy.json is there/),
    });
  });
});
