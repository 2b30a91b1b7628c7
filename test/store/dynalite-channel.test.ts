/**
 * The embedded server's message channel (backends/local/dynalite-server.ts `messageWire`), which
 * carries the local backend's own ledger requests: a request it can no longer answer fails at
 * once, saying why, instead of leaving a release waiting on an answer that never comes.
 * (That it answers as HTTP does, request for request, is test/store/json-documents.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { createLedgerTable } from '../../adapters/dynamodb/ledger.ts';
import { startDynalite } from '../../backends/local/dynalite-server.ts';

const within = <T>(ms: number, promise: Promise<T>): Promise<T | 'hung'> =>
  Promise.race([promise, new Promise<'hung'>((ok) => setTimeout(() => ok('hung'), ms).unref())]);

describe('the embedded server’s message channel', () => {
  it('answers over the channel what the server stores, and refuses a request once the server is closed', async () => {
    const dynamo = await startDynalite({});
    await createLedgerTable(dynamo.json, 'channel');
    const put = { TableName: 'channel', Item: { pk: { S: 'a' }, sk: { S: 'b' }, n: { N: '1' } } };
    await dynamo.json.call('PutItem', put);
    const read = await dynamo.json.call('GetItem', {
      TableName: 'channel',
      Key: { pk: { S: 'a' }, sk: { S: 'b' } },
      ConsistentRead: true,
    });
    expect(read.Item).toEqual(put.Item);
    await dynamo.close();
    const after = await within(
      5_000,
      dynamo.json.call('DescribeTable', { TableName: 'channel' }).then(
        () => 'answered',
        (error: Error) => error.message,
      ),
    );
    expect(after).toMatch(/embedded DynamoDB server is closed/);
  });

  it('settles every request in flight when the server closes: answered or failed, none left waiting', async () => {
    const dynamo = await startDynalite({});
    await createLedgerTable(dynamo.json, 'closing');
    const calls = Array.from({ length: 40 }, (_, i) =>
      dynamo.json.call('PutItem', { TableName: 'closing', Item: { pk: { S: 'p' }, sk: { S: `s${i}` } } }).then(
        () => 'answered',
        (error: Error) => error.message,
      ),
    );
    await dynamo.close();
    const outcomes = await within(10_000, Promise.all(calls));
    expect(outcomes).not.toBe('hung');
    for (const outcome of outcomes as string[]) {
      expect(outcome).toMatch(/^answered$|embedded DynamoDB server is closed/);
    }
  });
});
