/**
 * A damaged or lost ledger is not the end of its history: the local backend keeps a copy beside it
 * (ledger-copy.json, rewritten after each release and at close), `flotilla doctor` says how the
 * ledger stands and what each region runs, and `flotilla repair` rebuilds it from the copy and the
 * regions themselves, moving the damaged files aside. The real CLI on a real state directory.
 */
import { readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.ts';
import { e2eConfig, GOOD_BUILD, tempDir } from '../helpers/local.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

interface HistoryEntry {
  kind: string;
  releaseId?: string;
  verb?: string;
}

describe('flotilla doctor and repair', () => {
  it('rebuild a ledger with a truncated table file, then a lost one, with every release, the freeze and where', async () => {
    const t = await tempDir('flotilla-repair-');
    cleanups.push(t.cleanup);
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'USD' }],
    ]);
    await writeFile(join(t.dir, 'flotilla.yml'), stringify(config));
    const ledgerDir = join(t.dir, '.flotilla', 'ledger');
    const cli = (...args: string[]) => runCli(args, t.dir);

    expect((await cli('release', GOOD_BUILD, '--version', '1.0.1')).code).toBe(0);
    expect((await cli('freeze', '--reason', 'quiet week', '--actor', 'ops')).code).toBe(0);
    const healthy = await cli('doctor', '--json');
    expect(healthy.code, healthy.stderr).toBe(0);
    expect(JSON.parse(healthy.stdout)).toMatchObject({
      ledger: { state: 'whole', releases: 1 },
      copy: { items: expect.any(Number) },
      regions: [
        { region: 'us-east-1', current: '1.0.1' },
        { region: 'eu-west-1', current: '1.0.1' },
      ],
    });
    const history = async () =>
      (JSON.parse((await cli('history', '--json')).stdout) as HistoryEntry[]).map((e) => e.releaseId ?? e.verb);
    const before = await history();
    expect(before).toEqual(['freeze', 'shop-1.0.1']);

    // The newest table file cut in half.
    const tables = (await readdir(ledgerDir)).filter((f) => /^\d+\.ldb$/.test(f)).sort();
    const newest = join(ledgerDir, tables.at(-1) as string);
    await truncate(newest, Math.floor((await stat(newest)).size / 2));
    const sick = await cli('doctor');
    expect(sick.code).toBe(1);
    expect(sick.stdout).toContain(
      `ledger   ${ledgerDir}: damaged: the ledger at ${ledgerDir} is damaged: its table file ${newest} is truncated`,
    );
    expect(sick.stdout).toMatch(/region {3}us-east-1 +1\.0\.1/);
    expect((await cli('status')).code).toBe(1);

    const repaired = await cli('repair');
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toMatch(/moved the damaged ledger to .*ledger\.damaged-/);
    expect(repaired.stdout).toMatch(/restored \d+ items from the copy taken/);
    expect(await history()).toEqual(before);
    const where = JSON.parse((await cli('where', '--json')).stdout) as {
      regions: { region: string; version: string }[];
    };
    expect(where.regions.map((r) => r.version)).toEqual(['1.0.1', '1.0.1']);
    // Still frozen: the freeze came back with the rest.
    expect((await cli('freeze', '--reason', 'again')).code).toBe(6);
    expect((await cli('repair')).code).toBe(6);

    // The whole ledger directory lost: not a new ledger while its copy says otherwise.
    await rm(ledgerDir, { recursive: true });
    const lost = await cli('status');
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain(`the ledger at ${ledgerDir} is missing, but its copy`);
    expect((await cli('repair')).code).toBe(0);
    expect(await history()).toEqual(before);
  }, 420_000);
});
