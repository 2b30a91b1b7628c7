/**
 * The recoverable copy of the ledger (ledger-copy.json) after a release, on a real local backend:
 * `settled()` resolves once the copy written after the release ended is on disk, with that end in it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLocalBackend } from '../../backends/local/index.ts';
import { LEDGER_COPY } from '../../backends/local/ledger-files.ts';
import { e2eConfig, GOOD_BUILD, tempDir } from '../helpers/local.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The status of `releaseId` as the copy on disk has it (DynamoDB JSON), or null. */
async function copiedStatus(stateDir: string, releaseId: string): Promise<string | null> {
  const text = await readFile(join(stateDir, LEDGER_COPY), 'utf8').catch(() => null);
  if (text === null) return null;
  const items = (JSON.parse(text) as { items: Record<string, { S?: string }>[] }).items;
  const item = items.find((i) => i.sk?.S === `RELEASE#${releaseId}`);
  return item?.status?.S ?? null;
}

describe('the ledger copy after a release', () => {
  it('is on disk with the release’s end once settled() resolves, and the backend still serves', async () => {
    const t = await tempDir('flotilla-copy-');
    cleanups.push(t.cleanup);
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    const backend = await openLocalBackend({ stateDir: t.dir, config });
    cleanups.push(() => backend.close());
    const first = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });
    expect(first).toMatchObject({ status: 'SUCCEEDED' });
    await backend.settled();
    expect(await copiedStatus(t.dir, first.releaseId)).toBe('SUCCEEDED');
    const second = await backend.release({ version: '1.0.1', artifact: GOOD_BUILD });
    await backend.settled();
    expect(await copiedStatus(t.dir, second.releaseId)).toBe(second.status);
  }, 60_000);
});
