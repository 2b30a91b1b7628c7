/**
 * The AWS prober (functions/probe-bakes.ts) ending an adaptive bake at its min: the real ledger on
 * dynalite, the real HTTP prober against a real health endpoint on 127.0.0.1, and the AWS adapter
 * (StepFunctionsTaskCallbacks) with SendTaskSuccess caught at the SDK boundary (a waiting task
 * token is not something moto can make).
 */
import { createServer, type Server } from 'node:http';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StepFunctionsTaskCallbacks } from '../../adapters/aws/step-functions.ts';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { HttpHealthProber } from '../../adapters/local/http-prober.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { emptyCounts } from '../../core/gate.ts';
import type { BakeWatch } from '../../core/types.ts';
import { createProbeBakes } from '../../functions/probe-bakes.ts';
import { gate } from '../helpers/fixtures.ts';

const sfn = mockClient(SFNClient);
let dynamo: EmbeddedDynamo;
let server: Server;
let port = 0;
/** What the health endpoint does: answer ok, or never answer (missing data). */
let mode: 'ok' | 'silent' = 'ok';
let n = 0;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
  server = createServer((_req, res) => {
    if (mode === 'silent') return; // never answers: the probe times out
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', version: '2.0.0', region: 'r' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await dynamo.close();
});
beforeEach(() => {
  sfn.reset();
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  mode = 'ok';
});

/** A bake of two regions (both the one endpoint) that started `agoMs` ago, min 2 s, max 1 h. */
async function baking(agoMs: number) {
  n += 1;
  await createLedgerTable(dynamo.client, `bake-watch-${n}`);
  const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: `bake-watch-${n}` });
  const startedAt = Date.now() - agoMs;
  const target = { kind: 'local-process' as const, port, command: ['true'], env: {}, faults: [] };
  const watch: BakeWatch = {
    service: 'shop',
    releaseId: 'shop-2.0.0',
    wave: 1,
    token: `token-${n}`.padEnd(64, 'x'),
    startedAt,
    bakeUntil: startedAt + 3_600_000,
    bakeMinUntil: startedAt + 2000,
    version: '2.0.0',
    gate: gate({ probes: 3, minSamples: 3, maxErrorRate: 0.05, probeTimeoutMs: 200, probeSpacingMs: 0 }),
    regions: [
      { region: 'us-east-1', target },
      { region: 'eu-west-1', target },
    ],
    samples: { 'us-east-1': emptyCounts(), 'eu-west-1': emptyCounts() },
  };
  await ledger.putBake(watch);
  const events: unknown[] = [];
  const probe = createProbeBakes({
    ledger,
    prober: new HttpHealthProber(),
    events: { emit: (e) => void events.push(e) },
    now: Date.now,
    callbacks: new StepFunctionsTaskCallbacks(sfn),
  });
  return { watch, probe, ledger };
}

describe('ProbeBakes on an adaptive bake', () => {
  it('wakes the bake with SendTaskSuccess "evidence in" once past min with the samples in', async () => {
    const { watch, probe } = await baking(5000);
    const [outcome] = await probe();
    expect(outcome).toMatchObject({ kind: 'evidence-in', woke: 'woken', early: { regions: 2, samples: 3 } });
    const calls = sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.taskToken)).toEqual([watch.token]);
    expect(JSON.parse(calls[0]?.output ?? '{}')).toMatchObject({
      woke: 'evidence in',
      early: {
        text: expect.stringMatching(/^bake ended early at [56]s of 1h: 2 regions × ≥3 samples, all under threshold$/),
      },
    });
  });

  it('keeps baking before min, however healthy', async () => {
    const { probe } = await baking(500);
    expect((await probe()).map((o) => o.kind)).toEqual(['baking']);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('keeps baking past min while the probes go unanswered: missing data never ends it early', async () => {
    mode = 'silent';
    const { probe } = await baking(5000);
    expect((await probe()).map((o) => o.kind)).toEqual(['baking']);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
  });
});
