/**
 * A recoverable copy of the local ledger, kept beside it in the state directory: every item of the
 * table as DynamoDB's own JSON, rewritten after each release ends and whenever the backend closes
 * (a freeze, a steering verb), by a temp file and a rename so a crash never leaves half a copy.
 * `flotilla repair` rebuilds a damaged ledger from it and from the regions themselves (repair.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LEDGER_COPY } from './ledger-files.ts';

export { hasLedgerFiles, LEDGER_COPY, lostLedger } from './ledger-files.ts';

export interface LedgerCopy {
  table: string;
  takenAt: string;
  items: Record<string, AttributeValue>[];
}

/** Reads every item of the table (a scan, paged). */
export async function scanTable(client: DynamoDBClient, table: string): Promise<Record<string, AttributeValue>[]> {
  // Whoever made the client loaded the SDK; doctor, which reads only the copy, needs none of it.
  const { ScanCommand } = await import('@aws-sdk/client-dynamodb');
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

export async function writeLedgerCopy(
  client: DynamoDBClient,
  table: string,
  stateDir: string,
  now: number,
): Promise<number> {
  const copy: LedgerCopy = { table, takenAt: new Date(now).toISOString(), items: await scanTable(client, table) };
  const file = join(stateDir, LEDGER_COPY);
  const tmp = `${file}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(copy), { mode: 0o600 });
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
  return copy.items.length;
}

/** The copy, or undefined when there is none; a copy that is not whole JSON is an error naming it. */
export async function readLedgerCopy(stateDir: string): Promise<LedgerCopy | undefined> {
  const file = join(stateDir, LEDGER_COPY);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  try {
    const copy = JSON.parse(text) as LedgerCopy;
    if (!Array.isArray(copy.items) || typeof copy.takenAt !== 'string') throw new Error('not a ledger copy');
    return copy;
  } catch (error) {
    throw new Error(`${file} is not a whole ledger copy: ${(error as Error).message}`);
  }
}

/** Writes the copy's items into an (empty) table, 25 at a time as BatchWriteItem allows. */
export async function restoreItems(
  client: DynamoDBClient,
  table: string,
  items: readonly Record<string, AttributeValue>[],
): Promise<void> {
  const { BatchWriteItemCommand } = await import('@aws-sdk/client-dynamodb');
  for (let i = 0; i < items.length; i += 25) {
    let pending = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    while (pending.length > 0) {
      const answer = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
      pending = (answer.UnprocessedItems?.[table] ?? []) as typeof pending;
    }
  }
}
