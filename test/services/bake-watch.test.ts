/**
 * The AWS prober (functions/probe-bakes.ts) ending an adaptive bake at its min: the real ledger on
 * dynalite, the real HTTP prober against a real health endpoint on 127.0.0.1, and the AWS adapter
 * (StepFunctionsTaskCallbacks) with SendTaskSuccess caught at the SDK boundary (a waiting task
 * token is not something moto can make).
 */
import { createServer, type Server } from 'node:http';
import { DescribeTasksCommand, ECSClient, type Task } from '@aws-sdk/client-ecs';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsClients } from '../../adapters/aws/clients.ts';
import { CloudWatchProber } from '../../adapters/aws/cloudwatch-prober.ts';
import { EcsOneOffTask } from '../../adapters/aws/ecs-new-host.ts';
import { AwsNewHosts } from '../../adapters/aws/new-hosts.ts';
import { StepFunctionsTaskCallbacks } from '../../adapters/aws/step-functions.ts';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { HttpHealthProber } from '../../adapters/local/http-prober.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { emptyCounts } from '../../core/gate.ts';
import { createProbeBakes } from '../../functions/probe-bakes.ts';
import { bakeWatchOf, gate } from '../helpers/fixtures.ts';

/**
 * The gate the watched bakes here keep: three probes a round, three samples needed, probes of 1 s at
 * most (the product's default: a test process starved of CPU by the rest of the suite can miss a
 * shorter one, and a missed answer would keep a healthy bake going).
 */
const WATCH_GATE = gate({ probes: 3, minSamples: 3, maxErrorRate: 0.05, probeTimeoutMs: 1000, probeSpacingMs: 0 });

const sfn = mockClient(SFNClient);
const ecs = mockClient(ECSClient);
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
  ecs.reset();
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
  const watch = bakeWatchOf(
    [
      { region: 'us-east-1', target },
      { region: 'eu-west-1', target },
    ],
    startedAt,
    { wave: 1, token: `token-${n}`.padEnd(64, 'x'), bakeMinUntil: startedAt + 2000, gate: WATCH_GATE },
  );
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

describe('ProbeBakes and a wave’s one-off ECS task (its launcher probes it)', () => {
  const TASK = 'arn:aws:ecs:us-east-1:123456789012:task/shop/1';
  const HOST = 'new host (us-east-1)';

  /** A bake of one region and the wave's new host, kept in the ledger with the task's handle, past its min. */
  async function withTask(task: Partial<Task>) {
    n += 1;
    await createLedgerTable(dynamo.client, `bake-watch-${n}`);
    const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: `bake-watch-${n}` });
    const startedAt = Date.now() - 5000;
    const region = { kind: 'local-process' as const, port, command: ['true'], env: {}, faults: [] };
    const watch = bakeWatchOf(
      [
        { region: 'us-east-1', target: region },
        {
          region: HOST,
          target: {
            kind: 'codedeploy',
            awsRegion: 'us-east-1',
            application: 'shop',
            deploymentGroup: 'shop-us-east-1',
            platform: 'ECS',
            alarms: { names: [] },
          },
          newHost: {
            platform: 'ECS',
            awsRegion: 'us-east-1',
            cluster: 'shop',
            taskArn: TASK,
            taskDefinition: 'shop:8',
            launchedAt: startedAt,
            readinessTimeoutMs: 60_000,
            port,
            healthPath: '/health',
          },
        },
      ],
      startedAt,
      { token: `token-${n}`.padEnd(64, 'x'), bakeMinUntil: startedAt + 2000, gate: WATCH_GATE },
    );
    await ledger.putBake(watch);
    ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, ...task }] });
    const prober = new CloudWatchProber({ clients: new AwsClients() });
    const probe = createProbeBakes({
      ledger,
      prober: new HttpHealthProber(),
      newHosts: new AwsNewHosts({ ecs: new EcsOneOffTask({ ecs: (r) => new ECSClient({ region: r }) }, { prober }) }),
      events: { emit: () => {} },
      now: Date.now,
      callbacks: new StepFunctionsTaskCallbacks(sfn),
    });
    return { probe, ledger };
  }
  const up: Partial<Task> = {
    lastStatus: 'RUNNING',
    healthStatus: 'HEALTHY',
    containers: [{ networkInterfaces: [{ privateIpv4Address: '127.0.0.1' }] }],
  };

  it('asks ECS first, and keeps baking with no samples of a task still starting: the evidence is not in without it', async () => {
    const { probe, ledger } = await withTask({ lastStatus: 'PENDING' });
    expect((await probe()).map((o) => o.kind)).toEqual(['baking']);
    expect(ecs.commandCalls(DescribeTasksCommand)[0]?.args[0].input).toEqual({ cluster: 'shop', tasks: [TASK] });
    const [kept] = await ledger.listBakes();
    expect(kept?.samples[HOST]).toEqual(emptyCounts());
    expect(kept?.samples['us-east-1']?.ok).toBe(3);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('fails the bake’s wait at once for a task that stopped, naming ECS’s reason', async () => {
    const { probe } = await withTask({
      lastStatus: 'STOPPED',
      stoppedReason: 'Essential container in task exited',
      containers: [{ name: 'web', exitCode: 1 }],
    });
    const [outcome] = await probe();
    expect(outcome?.kind).toBe('failed');
    expect(outcome?.kind === 'failed' && outcome.signals.join('; ')).toMatch(
      /^new host \(us-east-1\): 3\/3 probes of \/health failed .*stopped: Essential container in task exited \(web: exit 1\)$/,
    );
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(1);
  });

  it('probes the health URL on the running task, and ends an adaptive bake with the new host’s evidence in', async () => {
    const { probe } = await withTask(up);
    const [outcome] = await probe();
    expect(outcome).toMatchObject({ kind: 'evidence-in', early: { regions: 1, newHosts: 1, samples: 3 } });
  });
});
