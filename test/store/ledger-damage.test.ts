/**
 * A damaged ledger is refused, naming it, and never silently replaced by an empty one (LevelDB
 * starts afresh without its CURRENT file, deleting the old tables). Real dynalite, real files,
 * and the real CLI for what a user sees.
 */
import { readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { LedgerDamaged, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { TABLE_NAME } from '../../backends/local/index.ts';
import { openLedgerReader } from '../../backends/local/ledger-reader.ts';
import { runCli } from '../helpers/cli.ts';
import { recordWith } from '../helpers/fixtures.ts';
import { e2eConfig, tempDir } from '../helpers/local.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A state dir whose ledger holds one release. */
async function ledgerWithARelease(): Promise<{ dir: string; ledgerDir: string }> {
  const t = await tempDir('flotilla-damage-');
  cleanups.push(t.cleanup);
  const ledgerDir = join(t.dir, '.flotilla', 'ledger');
  const dynamo = await startEmbeddedDynamo({ dir: ledgerDir });
  try {
    await createLedgerTable(dynamo.client, TABLE_NAME);
    await new DynamoDbLedger({ client: dynamo.doc, tableName: TABLE_NAME }).createRelease({
      ...recordWith([{ region: 'us-east-1', wave: 0, phase: 'deployed', before: null }]),
      status: 'SUCCEEDED',
    });
  } finally {
    await dynamo.close();
  }
  // Reopened once, LevelDB turns its log into a table file (the damage below needs one).
  await (await startEmbeddedDynamo({ dir: ledgerDir })).close();
  await writeFile(join(t.dir, 'flotilla.yml'), stringify(await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]])));
  return { dir: t.dir, ledgerDir };
}

/** A state dir whose ledger holds two releases, the second still only in LevelDB's write-ahead log. */
async function ledgerWithLoggedWrites(): Promise<{ dir: string; ledgerDir: string; log: string }> {
  const fixture = await ledgerWithARelease();
  const dynamo = await startEmbeddedDynamo({ dir: fixture.ledgerDir });
  try {
    await new DynamoDbLedger({ client: dynamo.doc, tableName: TABLE_NAME }).createRelease({
      ...recordWith([{ region: 'us-east-1', wave: 0, phase: 'deployed', before: null }]),
      releaseId: 'shop-2.1.0',
      version: '2.1.0',
      status: 'SUCCEEDED',
    });
  } finally {
    await dynamo.close();
  }
  const logs = (await readdir(fixture.ledgerDir)).filter((f) => /^\d+\.log$/.test(f)).sort();
  const log = join(fixture.ledgerDir, logs.at(-1) ?? '');
  if (logs.length === 0 || (await stat(log)).size === 0) throw new Error(`no write in a log of ${fixture.ledgerDir}`);
  return { ...fixture, log };
}

describe('a damaged write-ahead log', () => {
  const damages: { name: string; damage: (log: string) => Promise<void>; says: RegExp }[] = [
    {
      name: 'truncated',
      damage: async (log) => truncate(log, Math.floor((await stat(log)).size / 2)),
      says: /its write-ahead log .*\/\d+\.log is damaged: it is truncated/,
    },
    {
      name: 'with a byte flipped',
      damage: async (log) => {
        const bytes = await readFile(log);
        const at = Math.floor(bytes.length / 2);
        bytes[at] = (bytes[at] as number) ^ 0xff;
        await writeFile(log, bytes);
      },
      says: /its write-ahead log .*\/\d+\.log is damaged: it is corrupted at byte \d+/,
    },
  ];
  for (const { name, damage, says } of damages) {
    it(`is refused ${name}, naming the file and \`flotilla repair\`, never read without its last writes`, async () => {
      const { dir, ledgerDir, log } = await ledgerWithLoggedWrites();
      await damage(log);
      const before = (await readdir(ledgerDir)).sort();
      await expect(startEmbeddedDynamo({ dir: ledgerDir })).rejects.toMatchObject({
        name: LedgerDamaged,
        message: expect.stringMatching(says),
      });
      const history = await runCli(['history'], dir);
      expect(history.code).toBe(1);
      expect(history.stderr).toContain(log);
      expect(history.stderr).toContain('`flotilla repair` rebuilds it');
      expect(history.stderr).not.toMatch(/\n\s+at /);
      expect((await readdir(ledgerDir)).sort()).toEqual(before);
    });
  }

  it('opens whole, with the writes it holds', async () => {
    const { ledgerDir } = await ledgerWithLoggedWrites();
    const dynamo = await startEmbeddedDynamo({ dir: ledgerDir });
    try {
      const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: TABLE_NAME });
      expect((await ledger.listReleases('shop')).map((r) => r.releaseId).sort()).toEqual(['shop-2.0.0', 'shop-2.1.0']);
    } finally {
      await dynamo.close();
    }
  });
});

describe('a damaged ledger', () => {
  const damages: { name: string; damage: (ledgerDir: string) => Promise<void>; says: RegExp }[] = [
    { name: 'CURRENT lost', damage: (d) => rm(join(d, 'CURRENT')), says: /CURRENT file is missing/ },
    {
      name: 'CURRENT truncated',
      damage: (d) => writeFile(join(d, 'CURRENT'), 'MANIF'),
      says: /CURRENT file is truncated/,
    },
    {
      name: 'its MANIFEST deleted',
      damage: async (d) => {
        const manifest = (await readFile(join(d, 'CURRENT'), 'utf8')).trim();
        await rm(join(d, manifest));
      },
      says: /MANIFEST-\d+, which CURRENT names, is missing/,
    },
    {
      name: 'its newest table file truncated',
      damage: async (d) => {
        const tables = (await readdir(d)).filter((f) => /^\d+\.ldb$/.test(f)).sort();
        const newest = tables.at(-1);
        if (!newest) throw new Error(`no table file in ${d}`);
        const file = join(d, newest);
        await truncate(file, Math.floor((await stat(file)).size / 2));
      },
      says: /its table file .*\/\d+\.ldb is truncated/,
    },
  ];
  for (const { name, damage, says } of damages) {
    it(`is refused with ${name}, naming the directory, and its files are left as they were`, async () => {
      const { dir, ledgerDir } = await ledgerWithARelease();
      await damage(ledgerDir);
      const before = (await readdir(ledgerDir)).sort();
      await expect(startEmbeddedDynamo({ dir: ledgerDir })).rejects.toMatchObject({
        name: LedgerDamaged,
        message: expect.stringMatching(says),
      });
      expect((await readdir(ledgerDir)).sort()).toEqual(before);
      // The read verbs' read-only ledger meets the same checks.
      await expect(openLedgerReader(join(dir, '.flotilla'), TABLE_NAME)).rejects.toMatchObject({
        name: LedgerDamaged,
        message: expect.stringMatching(says),
      });
      expect((await readdir(ledgerDir)).sort()).toEqual(before);

      // What a user sees: one clear message, no stack, and no "no releases yet".
      const status = await runCli(['status'], dir);
      expect(status.code).toBe(1);
      expect(status.stderr).toContain(`the ledger at ${ledgerDir} is damaged`);
      expect(status.stderr).not.toMatch(/\n\s+at /);
      expect(status.stdout).not.toMatch(/no releases/);
      expect((await readdir(ledgerDir)).sort()).toEqual(before);
    });
  }

  it('opens a ledger that is whole, and a new one', async () => {
    const { ledgerDir } = await ledgerWithARelease();
    const dynamo = await startEmbeddedDynamo({ dir: ledgerDir });
    try {
      const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: TABLE_NAME });
      expect((await ledger.listReleases('shop')).map((r) => r.releaseId)).toEqual(['shop-2.0.0']);
    } finally {
      await dynamo.close();
    }
    const fresh = await tempDir('flotilla-fresh-');
    cleanups.push(fresh.cleanup);
    const empty = await startEmbeddedDynamo({ dir: join(fresh.dir, 'ledger') });
    await empty.close();
  });
});
