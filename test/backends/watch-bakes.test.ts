/**
 * The local bake watcher (backends/local/index.ts `watchBakes`) on the real ledger code over
 * dynalite: it looks for bakes while one is kept, and sleeps, without asking the ledger, while none
 * is, until a handler keeps one.
 */
import { describe, expect, it } from 'vitest';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { BakeNotices, watchBakes } from '../../backends/local/index.ts';
import type { BakeWatch } from '../../core/types.ts';
import { dynamoPerFile } from '../helpers/dynamo-per-file.ts';
import { bakeWatchOf, gate } from '../helpers/fixtures.ts';

const dynamo = dynamoPerFile();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A bake whose next round is an hour away: the watcher lists it but probes nothing. */
const bake = (releaseId: string): BakeWatch =>
  bakeWatchOf(
    [{ region: 'us-east-1', target: { kind: 'local-process', port: 1, command: ['node'] } as never }],
    Date.now(),
    { releaseId, token: `token-${releaseId}`, gate: gate({ intervalSeconds: 3600 }) },
  );

async function watched(table: string) {
  await createLedgerTable(dynamo().client, table);
  const ledger = new DynamoDbLedger({ client: dynamo().doc, tableName: table });
  let looks = 0;
  const counting = Object.assign(Object.create(ledger) as DynamoDbLedger, {
    listBakes: () => {
      looks += 1;
      return ledger.listBakes();
    },
  });
  const notices = new BakeNotices();
  const stop = new AbortController();
  const prober = { probe: async () => [] };
  const callbacks = { succeed: async () => 'gone' as const, fail: async () => 'gone' as const };
  const events = { emit: async () => {} };
  const running = watchBakes(
    { ledger: counting, prober, callbacks, events, now: Date.now } as never,
    stop.signal,
    notices,
  );
  return {
    ledger,
    notices,
    looks: () => looks,
    stop: () => {
      stop.abort();
      return running;
    },
  };
}

describe('the local bake watcher', () => {
  it('looks once at start, then asks the ledger nothing while no bake is kept', async () => {
    const w = await watched('watch-idle');
    await sleep(600);
    expect(w.looks()).toBe(1);
    await w.stop();
  });

  it('looks again as soon as a bake is kept, and every tick while one is', async () => {
    const w = await watched('watch-kept');
    await sleep(300);
    expect(w.looks()).toBe(1);
    await w.ledger.putBake(bake('shop-2.0.0'));
    w.notices.kept();
    await sleep(800);
    // One look at start, then one every 100 ms tick while the bake is kept (fewer on a busy machine).
    expect(w.looks()).toBeGreaterThanOrEqual(3);
    await w.ledger.takeBake('shop', 'shop-2.0.0');
    await sleep(400);
    const after = w.looks();
    await sleep(500);
    expect(w.looks()).toBe(after);
    await w.stop();
  });

  it('finds at start a bake an earlier process left, and keeps watching it', async () => {
    await createLedgerTable(dynamo().client, 'watch-left');
    await new DynamoDbLedger({ client: dynamo().doc, tableName: 'watch-left' }).putBake(bake('shop-3.0.0'));
    const w = await watched('watch-left');
    await sleep(800);
    expect(w.looks()).toBeGreaterThanOrEqual(3);
    await w.stop();
  });
});
