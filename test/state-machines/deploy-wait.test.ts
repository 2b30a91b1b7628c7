/**
 * A region's deployment as one wait, on the real region.asl.json and the local engine, with the
 * AWS adapters: CodeDeployDeployer against a stateful fake of CodeDeploy and StepFunctionsTaskCallbacks
 * against Step Functions' SDK client, both at the SDK boundary (aws-sdk-client-mock: moto leaves
 * every deployment `Created`, so it cannot end one), their task-token calls answered by the local
 * engine's tokens. The wake comes from functions/deployment-changed.ts given CodeDeploy's
 * EventBridge event, as the relay delivers it. The ledger is real DynamoDB code on dynalite.
 */
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsClients } from '../../adapters/aws/clients.ts';
import { CodeDeployDeployer } from '../../adapters/aws/codedeploy-deployer.ts';
import { StepFunctionsTaskCallbacks } from '../../adapters/aws/step-functions.ts';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { LocalTaskTokens } from '../../adapters/local/task-tokens.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { type ExecutionReport, LocalEngine, loadDefinition, localArn } from '../../backends/local/engine.ts';
import type { RegionResult, RegionTask } from '../../core/types.ts';
import { createDeploymentChanged, DEPLOYMENT_STATE_CHANGE } from '../../functions/deployment-changed.ts';
import type { Deps } from '../../functions/deps.ts';
import { functionFactories } from '../../functions/index.ts';
import { createFakeCodeDeploy, type FakeCodeDeploy } from '../helpers/fake-codedeploy.ts';
import { configWith } from '../helpers/fixtures.ts';

const codedeploy = mockClient(CodeDeployClient);
const sfn = mockClient(SFNClient);
const group = { awsRegion: 'eu-west-1', application: 'shop', deploymentGroup: 'shop-eu' };
const v1 = {
  revisionType: 'S3' as const,
  s3Location: { bucket: 'b', key: 'shop/1.0.0.zip', bundleType: 'zip' as const },
};

let dynamo: EmbeddedDynamo;
let ledger: DynamoDbLedger;
let fake: FakeCodeDeploy;
let tokens: LocalTaskTokens;
let tables = 0;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
});
afterAll(async () => {
  codedeploy.restore();
  sfn.restore();
  await dynamo.close();
});

beforeEach(async () => {
  tables += 1;
  await createLedgerTable(dynamo.client, `waits-${tables}`);
  ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: `waits-${tables}` });
  codedeploy.reset();
  sfn.reset();
  tokens = new LocalTaskTokens();
  // Step Functions' task-token calls, answered by the local engine's waiting task (TaskTimedOut once it moved on).
  const gone = () => new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} });
  sfn.on(SendTaskSuccessCommand).callsFake(async (input: { taskToken: string; output: string }) => {
    if ((await tokens.succeed(input.taskToken, JSON.parse(input.output))) === 'gone') throw gone();
    return {};
  });
  sfn.on(SendTaskFailureCommand).callsFake(async (input: { taskToken: string; error: string; cause: string }) => {
    if ((await tokens.fail(input.taskToken, input.error, input.cause)) === 'gone') throw gone();
    return {};
  });
});

function useFake(pollsToComplete: number) {
  fake = createFakeCodeDeploy({ pollsToComplete });
  fake.install(codedeploy);
  fake.seed(group, { revision: v1, description: 'flotilla shop 1.0.0 shop-1.0.0 deploy' });
}

const callbacks = () => new StepFunctionsTaskCallbacks(new SFNClient({ region: 'us-east-1' }));

/** Starts one region's child on the real ASL; `checks` counts the fallback's re-checks. */
function startChild(deploy: { pollSeconds: number; maxPollSeconds: number }) {
  const deps: Deps = {
    ledger,
    deployer: new CodeDeployDeployer({ clients: new AwsClients(), sleep: async () => {} }),
    prober: { probe: async () => [{ kind: 'ok', version: '1.1.0' }] },
    events: { emit: () => {} },
    now: Date.now,
    regionStateMachineArn: localArn('region'),
    waitForToken: (token, signal) => tokens.wait(token, signal),
    callbacks: callbacks(),
  };
  const base = configWith([['eu-west']]);
  const task: RegionTask = {
    releaseId: 'shop-1.1.0',
    service: 'shop',
    region: 'eu-west',
    wave: 0,
    action: 'deploy',
    revision: { version: '1.1.0', artifact: 's3://b/shop/1.1.0.zip' },
    target: {
      kind: 'codedeploy',
      ...group,
      platform: 'Server',
      alarms: { names: [] },
    },
    gate: { ...base.gate, probes: 1, minSamples: 1 },
    deploy: { readinessTimeoutSeconds: 10, ...deploy },
  };
  const functions = Object.fromEntries(Object.entries(functionFactories).map(([n, make]) => [n, make(deps)]));
  // The parent hands ids; here the task itself is what the ledger would give back.
  functions['load-region-task'] = async () => task;
  const check = functions['check-region-deploy'];
  let checks = 0;
  functions['check-region-deploy'] = async (input: unknown) => {
    checks += 1;
    return check?.(input);
  };
  const reports: ExecutionReport[] = [];
  const engine = new LocalEngine({ functions, retryIntervalMs: 0, onExecutionEnd: (r) => reports.push(r) });
  const arn = engine.register('region', loadDefinition('region'));
  const started = Date.now();
  let settled = false;
  const done = (engine.run(arn, { task: { region: 'eu-west' } } as never) as Promise<unknown> as Promise<RegionResult>)
    .finally(() => {
      settled = true;
    })
    .then((result) => ({ result, ms: Date.now() - started }));
  done.catch(() => {});
  return { done, checks: () => checks, settled: () => settled, reports };
}

const event = (deploymentId: string, state: string) => ({
  source: 'aws.codedeploy',
  'detail-type': DEPLOYMENT_STATE_CHANGE,
  region: 'eu-west-1',
  detail: { deploymentId, state, application: 'shop', deploymentGroup: 'shop-eu', region: 'eu-west-1' },
});

/**
 * The deployment the child started, once its wait is kept in the ledger under the deployment's id
 * and has had its own look at the deployment (from then on only a wake or the timeout ends it).
 */
async function waitedDeployment(): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const created = fake.deployments.find((d) => d.origin === 'create');
    if (created && created.polls >= 1 && (await ledger.getDeployWait(created.deploymentId)))
      return created.deploymentId;
    if (Date.now() > deadline) throw new Error('the child never waited on a deployment');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a region child waits on its deployment, woken by its state change', () => {
  it("wakes the moment CodeDeploy's SUCCESS event arrives, with no re-check (the next is an hour away)", async () => {
    useFake(1_000_000);
    const child = startChild({ pollSeconds: 3600, maxPollSeconds: 3600 });
    const id = await waitedDeployment();
    await sleep(200);
    expect(child.settled()).toBe(false);
    fake.complete(id, 'Succeeded');
    const changed = createDeploymentChanged({
      ledger,
      deployer: new CodeDeployDeployer({ clients: new AwsClients() }),
      now: Date.now,
      callbacks: callbacks(),
    });
    const outcome = await changed(event(id, 'SUCCESS'));
    expect(outcome).toMatchObject({ kind: 'settled', woke: 'woken', handle: { status: 'Succeeded' } });
    const { result } = await child.done;
    expect(result).toMatchObject({ outcome: 'deployed', version: '1.1.0', changed: true });
    expect(child.checks()).toBe(0);
    // The wait is gone from the ledger: a second delivery of the event (EventBridge may repeat one) wakes nobody.
    expect(await ledger.getDeployWait(id)).toBeUndefined();
    expect(await changed(event(id, 'SUCCESS'))).toEqual({ deploymentId: id, kind: 'not-waited' });
  }, 30_000);

  it('keeps waiting through READY (blue/green waiting for reroute) and START, then ends on FAILURE with its reason', async () => {
    useFake(1_000_000);
    const child = startChild({ pollSeconds: 3600, maxPollSeconds: 3600 });
    const id = await waitedDeployment();
    const changed = createDeploymentChanged({
      ledger,
      deployer: new CodeDeployDeployer({ clients: new AwsClients() }),
      now: Date.now,
      callbacks: callbacks(),
    });
    const deployment = fake.deployment(id);
    if (!deployment) throw new Error('no deployment');
    deployment.status = 'Ready';
    expect(await changed(event(id, 'READY'))).toEqual({ deploymentId: id, kind: 'waiting' });
    expect(await changed(event(id, 'START'))).toEqual({ deploymentId: id, kind: 'waiting' });
    await sleep(200);
    expect(child.settled()).toBe(false);
    expect(await ledger.getDeployWait(id)).toBeDefined();
    fake.complete(id, 'Failed', 'ApplicationStart failed on 2 of 3 instances');
    expect(await changed(event(id, 'FAILURE'))).toMatchObject({ kind: 'settled', handle: { status: 'Failed' } });
    const { result } = await child.done;
    expect(result).toMatchObject({ outcome: 'failed', changed: false });
    expect(result.message).toContain('ApplicationStart failed on 2 of 3 instances');
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
  }, 30_000);

  it('finds the end through the re-check on the wait’s timeout when the event never comes', async () => {
    useFake(1_000_000);
    const child = startChild({ pollSeconds: 1, maxPollSeconds: 2 });
    const id = await waitedDeployment();
    fake.complete(id, 'Succeeded');
    const { result, ms } = await child.done;
    expect(result).toMatchObject({ outcome: 'deployed', changed: true });
    expect(child.checks()).toBeGreaterThanOrEqual(1);
    expect(ms).toBeLessThan(15_000);
    expect(await ledger.getDeployWait(id)).toBeUndefined();
  }, 30_000);

  it('sees a deployment that ended before its wait was kept (its event found no one) without waiting for the re-check', async () => {
    // The first GetDeployment, the wait's own look after keeping the token, already says Succeeded.
    useFake(1);
    const child = startChild({ pollSeconds: 3600, maxPollSeconds: 3600 });
    const { result, ms } = await child.done;
    expect(result).toMatchObject({ outcome: 'deployed', changed: true });
    expect(child.checks()).toBe(0);
    expect(ms).toBeLessThan(10_000);
  }, 30_000);

  it('costs the same few history events for a deploy woken after 0.2 s or 2 s', async () => {
    const events: number[] = [];
    for (const after of [200, 2000]) {
      useFake(1_000_000);
      const child = startChild({ pollSeconds: 3600, maxPollSeconds: 3600 });
      const id = await waitedDeployment();
      await sleep(after);
      fake.complete(id, 'Succeeded');
      const changed = createDeploymentChanged({
        ledger,
        deployer: new CodeDeployDeployer({ clients: new AwsClients() }),
        now: Date.now,
        callbacks: callbacks(),
      });
      await changed(event(id, 'SUCCESS'));
      await child.done;
      events.push(child.reports[0]?.awsHistoryEvents ?? -1);
    }
    expect(events[0]).toBeGreaterThan(0);
    expect(events[1]).toBe(events[0]);
  }, 30_000);
});
