/**
 * What one ledger request costs the orchestrator's thread: the local backend's transport (DynamoDB's
 * JSON protocol spoken directly, adapters/dynamodb/json-documents.ts) against the SDK's document
 * client it replaced, on the same embedded server. CPU time of the main thread only
 * (`process.threadCpuUsage`): the server runs on its own worker thread, and a release's requests
 * compete for the main thread with the engine, the handlers and, on 2 cores, the region processes.
 * The local backend's own requests go over the embedded server's message channel; HTTP to the same
 * server (what any other DynamoDB client uses) is measured beside it, and so is the wall time of
 * one request at a time (its latency, both threads' work and the hand-offs between them).
 * `node bench/ledger-requests.ts [runs]` prints these figures alone.
 */
import { fileURLToPath } from 'node:url';
import { jsonDocumentRequests } from '../adapters/dynamodb/json-documents.ts';
import { openDynamoJson } from '../adapters/dynamodb/json-protocol.ts';
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

const TRANSPORTS = ['json', 'http', 'sdk'] as const;
type Transport = (typeof TRANSPORTS)[number];

/** Per request, medians over the runs: main-thread CPU (ms) and wall time (ms) of each transport. */
export interface LedgerRequestFigures {
  /** The local backend's: DynamoDB's JSON protocol over the embedded server's message channel. */
  jsonMs: number;
  /** The same requests over HTTP to the same server. */
  httpMs: number;
  /** The SDK's document client, over HTTP. */
  sdkMs: number;
  jsonWallMs: number;
  httpWallMs: number;
  sdkWallMs: number;
  /** The rest of the process's CPU per request: the server's thread and LevelDB's. */
  jsonServerMs: number;
  httpServerMs: number;
  sdkServerMs: number;
}

/** Median main-thread CPU and wall time per request (ms) over `runs`, through each transport. */
export async function ledgerRequestFigures(runs: number): Promise<LedgerRequestFigures> {
  const dynamo = await startEmbeddedDynamo({});
  const http = openDynamoJson({ endpoint: dynamo.endpoint });
  try {
    await createLedgerTable(dynamo.client, 'ledger-requests');
    const ledgers: Record<Transport, DynamoDbLedger> = {
      json: new DynamoDbLedger({ requests: jsonDocumentRequests(dynamo.json), tableName: 'ledger-requests' }),
      http: new DynamoDbLedger({ requests: jsonDocumentRequests(http), tableName: 'ledger-requests' }),
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
    const perRequest: Record<Transport, number[]> = { json: [], http: [], sdk: [] };
    const wall: Record<Transport, number[]> = { json: [], http: [], sdk: [] };
    const server: Record<Transport, number[]> = { json: [], http: [], sdk: [] };
    // Warm-up: module loading and JIT of both paths.
    for (const ledger of Object.values(ledgers))
      for (const op of OPERATIONS) for (let i = 0; i < 50; i++) await op(ledger, i);
    for (let run = 0; run < runs; run++) {
      // Turn about, so a drift of the machine's load weighs on all alike.
      const order = run % 2 === 0 ? TRANSPORTS : [...TRANSPORTS].reverse();
      for (const via of order) {
        const before = process.threadCpuUsage();
        const all = process.cpuUsage();
        const started = performance.now();
        for (const op of OPERATIONS) for (let i = 0; i < REQUESTS; i++) await op(ledgers[via], i);
        const took = performance.now() - started;
        const used = process.threadCpuUsage(before);
        const usedAll = process.cpuUsage(all);
        const requests = REQUESTS * OPERATIONS.length;
        perRequest[via].push((used.user + used.system) / 1000 / requests);
        server[via].push((usedAll.user + usedAll.system - used.user - used.system) / 1000 / requests);
        wall[via].push(took / requests);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
    const round = (x: number) => Math.round(x * 1000) / 1000;
    return {
      jsonMs: round(median(perRequest.json)),
      httpMs: round(median(perRequest.http)),
      sdkMs: round(median(perRequest.sdk)),
      jsonWallMs: round(median(wall.json)),
      httpWallMs: round(median(wall.http)),
      sdkWallMs: round(median(wall.sdk)),
      jsonServerMs: round(median(server.json)),
      httpServerMs: round(median(server.http)),
      sdkServerMs: round(median(server.sdk)),
    };
  } finally {
    http.close();
    await dynamo.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const f = await ledgerRequestFigures(Math.max(1, Number(process.argv[2] ?? 5)));
  const row = (name: string, cpu: number, server: number, wall: number) =>
    console.log(`${name.padEnd(24)}${`${cpu} ms`.padEnd(18)}${`${server} ms`.padEnd(16)}${wall} ms`);
  console.log(
    `${'ledger request'.padEnd(24)}${'main-thread CPU'.padEnd(18)}${'server CPU'.padEnd(16)}wall (one at a time)`,
  );
  row('JSON, message channel', f.jsonMs, f.jsonServerMs, f.jsonWallMs);
  row('JSON over HTTP', f.httpMs, f.httpServerMs, f.httpWallMs);
  row('SDK document client', f.sdkMs, f.sdkServerMs, f.sdkWallMs);
  console.log(`CPU ratio to the SDK ${Math.round((f.jsonMs / f.sdkMs) * 1000) / 1000}`);
}
