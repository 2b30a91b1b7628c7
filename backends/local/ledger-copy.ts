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
import type { DynamoJson } from '../../adapters/dynamodb/json-protocol.ts';
import { LEDGER_COPY } from './ledger-files.ts';

export { hasLedgerFiles, LEDGER_COPY, lostLedger } from './ledger-files.ts';

export interface LedgerCopy {
  table: string;
  takenAt: string;
  items: Record<string, AttributeValue>[];
}

type Item = Record<string, AttributeValue>;

/**
 * Reads every item of the table (a scan, paged), as DynamoDB's JSON: through the SDK's client, or
 * through the JSON protocol directly (the local backend, json-protocol.ts), whose Scan answer is
 * that JSON as it came over the wire.
 */
export async function scanTable(client: DynamoDBClient | DynamoJson, table: string): Promise<Item[]> {
  const scan = await scanner(client);
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await scan({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) });
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

type ScanPage = { Items?: Item[]; LastEvaluatedKey?: Item };

async function scanner(
  client: DynamoDBClient | DynamoJson,
): Promise<(input: { TableName: string; ExclusiveStartKey?: Item }) => Promise<ScanPage>> {
  if (!('send' in client)) return async (input) => (await client.call('Scan', input)) as ScanPage;
  // Whoever made the client loaded the SDK; doctor, which reads only the copy, needs none of it.
  const { ScanCommand } = await import('@aws-sdk/client-dynamodb');
  return (input) => client.send(new ScanCommand(input));
}

export async function writeLedgerCopy(
  client: DynamoDBClient | DynamoJson,
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
  client: DynamoDBClient | DynamoJson,
  table: string,
  items: readonly Item[],
): Promise<void> {
  const batchWrite = await batchWriter(client);
  for (let i = 0; i < items.length; i += 25) {
    let pending = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    while (pending.length > 0) {
      const answer = await batchWrite({ RequestItems: { [table]: pending } });
      pending = (answer.UnprocessedItems?.[table] ?? []) as typeof pending;
    }
  }
}

type WriteRequests = Record<string, { PutRequest: { Item: Item } }[]>;

async function batchWriter(
  client: DynamoDBClient | DynamoJson,
): Promise<(input: { RequestItems: WriteRequests }) => Promise<{ UnprocessedItems?: Record<string, unknown[]> }>> {
  if (!('send' in client)) return (input) => client.call('BatchWriteItem', input);
  const { BatchWriteItemCommand } = await import('@aws-sdk/client-dynamodb');
  return (input) => client.send(new BatchWriteItemCommand(input));
}
