/**
 * What one ledger request costs the orchestrator's thread: the local backend's transport (DynamoDB's
 * JSON protocol spoken directly, adapters/dynamodb/json-documents.ts) against the SDK's document
 * client it replaced, on the same embedded server. CPU time of the main thread only
 * (`process.threadCpuUsage`): the server runs on its own worker thread, and a release's requests
 * compete for the main thread with the engine, the handlers and, on 2 cores, the region processes.
 * `node bench/ledger-requests.ts [runs]` prints these figures alone.
 */
import { fileURLToPath } from 'node:url';
import { jsonDocumentRequests } from '../adapters/dynamodb/json-documents.ts';
import { createLedgerTable, DynamoDbLedger, documentClientRequests } from '../adapters/dynamodb/ledger.ts';
import { startEmbeddedDynamo } from '../backends/local/dynalite-server.ts';
import type { ReleaseRecord, ReleaseRegionPatch } from '../ports/ledger.ts';

/** Requests of each kind per run and transport. */
const REQUESTS = 200;

/** A release's typical requests: read the record, put a region, patch a region's entry, list the regions. */
const OPERATIONS: ((ledger: DynamoDbLedger, i: number) => Promise<unknown>)[] = [
  (ledger) => ledger.getRelease('bench', 'r1'),
  (ledger, i) =>
    ledger.putRegion({
      service: 'bench',
      region: `region-${i % 8}`,
      current: { version: '1.0.0', artifact: '/builds/1.0.0' },
      releaseId: 'r1',
      updatedAt: new Date(i).toISOString(),
    }),
  (ledger, i) =>
    ledger.updateReleaseRegions('bench', 'r1', [
      { region: `region-${i % 8}`, phase: 'deploying', updatedAt: new Date(i).toISOString() } as ReleaseRegionPatch,
    ]),
  (ledger) => ledger.listRegions('bench'),
];

/** Median main-thread CPU per request (ms) over `runs`, through each transport. */
export async function ledgerRequestFigures(runs: number): Promise<{ jsonMs: number; sdkMs: number }> {
  const dynamo = await startEmbeddedDynamo({});
  try {
    await createLedgerTable(dynamo.client, 'ledger-requests');
    const ledgers = {
      json: new DynamoDbLedger({ requests: jsonDocumentRequests(dynamo.json), tableName: 'ledger-requests' }),
      sdk: new DynamoDbLedger({ requests: documentClientRequests(dynamo.doc), tableName: 'ledger-requests' }),
    };
    const regions = Object.fromEntries(
      Array.from({ length: 8 }, (_, i) => [
        `region-${i}`,
        {
          region: `region-${i}`,
          wave: 0,
          phase: 'pending',
          before: { version: '0.9.0', artifact: '/builds/0.9.0' },
          updatedAt: '2026-01-01T00:00:00.000Z',
        },
      ]),
    );
    await ledgers.json.createRelease({
      service: 'bench',
      releaseId: 'r1',
      version: '1.0.0',
      artifact: '/builds/1.0.0',
      status: 'RUNNING',
      wave: 0,
      waveCount: 1,
      regions,
      startedAt: '2026-01-01T00:00:00.000Z',
    } as ReleaseRecord);
    const perRequest = { json: [] as number[], sdk: [] as number[] };
    // Warm-up: module loading and JIT of both paths.
    for (const ledger of Object.values(ledgers))
      for (const op of OPERATIONS) for (let i = 0; i < 50; i++) await op(ledger, i);
    for (let run = 0; run < runs; run++) {
      // Turn about, so a drift of the machine's load weighs on both alike.
      const order = run % 2 === 0 ? (['json', 'sdk'] as const) : (['sdk', 'json'] as const);
      for (const via of order) {
        const before = process.threadCpuUsage();
        for (const op of OPERATIONS) for (let i = 0; i < REQUESTS; i++) await op(ledgers[via], i);
        const used = process.threadCpuUsage(before);
        perRequest[via].push((used.user + used.system) / 1000 / (REQUESTS * OPERATIONS.length));
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
    const round = (x: number) => Math.round(x * 1000) / 1000;
    return { jsonMs: round(median(perRequest.json)), sdkMs: round(median(perRequest.sdk)) };
  } finally {
    await dynamo.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { jsonMs, sdkMs } = await ledgerRequestFigures(Math.max(1, Number(process.argv[2] ?? 5)));
  console.log(`ledger request, main-thread CPU: JSON protocol ${jsonMs} ms, SDK document client ${sdkMs} ms`);
  console.log(`ratio ${Math.round((jsonMs / sdkMs) * 1000) / 1000}`);
}
