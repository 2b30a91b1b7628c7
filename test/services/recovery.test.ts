/**
 * Recovery from an abnormal end on AWS, and `flotilla unlock`: the Step Functions SDK is mocked at
 * its boundary (no AWS account here); the ledger is the real DynamoDB code on a real dynalite.
 */
import { CodeDeployClient, GetDeploymentGroupCommand } from '@aws-sdk/client-codedeploy';
import { DescribeTasksCommand, ECSClient, ListTasksCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { DescribeExecutionCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EcsOneOffTask } from '../../adapters/aws/ecs-new-host.ts';
import { ecsServiceOfGroup } from '../../adapters/aws/ecs-service.ts';
import { AwsNewHosts } from '../../adapters/aws/new-hosts.ts';
import { StepFunctionsTaskCallbacks } from '../../adapters/aws/step-functions.ts';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { AwsCliBackend } from '../../backends/aws/cli.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { planRelease } from '../../core/plan.ts';
import { createExecutionEnded } from '../../functions/execution-ended.ts';
import type { Stamped } from '../../ports/events.ts';
import { configWith, recordWith } from '../helpers/fixtures.ts';

const sfn = mockClient(SFNClient);
const ecs = mockClient(ECSClient);
const codedeploy = mockClient(CodeDeployClient);
const settings = {
  region: 'eu-west-1',
  stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:flotilla-prod-release',
  table: 't',
};
let dynamo: EmbeddedDynamo;
let n = 0;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(() => {
  sfn.reset();
  ecs.reset();
  codedeploy.reset();
});

/** A ledger where shop-2.0.0 is RUNNING with the lock and shop-2.1.0 waits QUEUED at a token. */
async function stuck() {
  n += 1;
  await createLedgerTable(dynamo.client, `recovery-${n}`);
  const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: `recovery-${n}` });
  await ledger.createRelease(recordWith([{ region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' }]));
  await ledger.acquireLock('shop', { releaseId: 'shop-2.0.0', owner: 'exec', acquiredAt: '2026-01-01T00:00:00.000Z' });
  await ledger.createRelease({
    ...recordWith([]),
    releaseId: 'shop-2.1.0',
    version: '2.1.0',
    status: 'QUEUED',
    startedAt: '2026-01-01T00:01:00.000Z',
  });
  await ledger.putHoldToken('shop', 'shop-2.1.0', { token: 'queued-token', reason: 'queued', at: 'now' });
  return ledger;
}

const statusChange = (status: string) => ({
  'detail-type': 'Step Functions Execution Status Change',
  source: 'aws.states',
  detail: {
    name: 'shop-2.0.0',
    status,
    input: JSON.stringify({ releaseId: 'shop-2.0.0', config: { service: 'shop' } }),
    error: 'States.DataLimitExceeded',
    cause: 'The state/task returned a result with a size exceeding the maximum number of bytes service limit.',
  },
});

describe('the execution-status rule on AWS', () => {
  for (const status of ['FAILED', 'TIMED_OUT', 'ABORTED']) {
    it(`on ${status}: closes the record, frees the lock, wakes the queued release and alerts`, async () => {
      const ledger = await stuck();
      sfn.on(SendTaskSuccessCommand).resolves({});
      const events: Stamped[] = [];
      const handler = createExecutionEnded({
        ledger,
        events: { emit: (e) => void events.push(e) },
        now: () => Date.UTC(2026, 0, 2),
        callbacks: new StepFunctionsTaskCallbacks(new SFNClient({ region: 'eu-west-1' })),
      });
      const answer = await handler(statusChange(status));
      expect(answer).toEqual({ closed: true, lockFreed: true, woken: ['shop-2.1.0'] });
      const record = await ledger.getRelease('shop', 'shop-2.0.0');
      expect(record?.status).toBe('FAILED');
      expect(record?.reason).toContain('States.DataLimitExceeded');
      expect(await ledger.getLock('shop')).toBeUndefined();
      expect(sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input.taskToken)).toEqual(['queued-token']);
      expect(events.map((e) => [e.kind, e.releaseId])).toEqual([['release-finished', 'shop-2.0.0']]);
    });
  }

  it('stops the new host an execution that died mid-gate left, in its ECS groups’ clusters', async () => {
    const ledger = await stuck();
    const config = configWith([['us-east-1'], ['eu-west-1']]);
    config.regions = config.regions.map((r) => ({
      ...r,
      target: {
        kind: 'codedeploy',
        awsRegion: r.name,
        application: 'shop',
        deploymentGroup: `shop-${r.name}`,
        platform: 'ECS',
        alarms: { names: [] },
      },
    }));
    await ledger.putPlan(
      planRelease({
        config,
        releaseId: 'shop-2.0.0',
        version: '2.0.0',
        artifact: 'appspec:{}',
        regionStateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:region',
        owner: 'exec',
      }),
    );
    sfn.on(SendTaskSuccessCommand).resolves({});
    codedeploy.on(GetDeploymentGroupCommand).resolves({
      deploymentGroupInfo: { ecsServices: [{ clusterName: 'shop', serviceName: 'shop-web' }] },
    });
    ecs.on(ListTasksCommand).resolves({ taskArns: ['t1'] });
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        {
          taskArn: 't1',
          lastStatus: 'RUNNING',
          tags: [
            { key: 'flotilla:release', value: 'shop-2.0.0' },
            { key: 'flotilla:new-host', value: 'us-east-1' },
          ],
        },
      ],
    });
    ecs.on(StopTaskCommand).resolves({});
    const handler = createExecutionEnded({
      ledger,
      newHosts: new AwsNewHosts({
        ecs: new EcsOneOffTask(
          {
            ecs: (region) => new ECSClient({ region }),
            serviceOf: ecsServiceOfGroup((region) => new CodeDeployClient({ region })),
          },
          {},
        ),
      }),
      events: { emit: () => {} },
      now: Date.now,
      callbacks: new StepFunctionsTaskCallbacks(new SFNClient({ region: 'eu-west-1' })),
    });
    expect(await handler(statusChange('ABORTED'))).toMatchObject({ closed: true, lockFreed: true });
    // One look in each region's cluster (the same task answers in both here), stopped as left by this release.
    expect(codedeploy.commandCalls(GetDeploymentGroupCommand)).toHaveLength(2);
    expect(ecs.commandCalls(StopTaskCommand).map((c) => c.args[0].input)).toContainEqual({
      cluster: 'shop',
      task: 't1',
      reason: 'flotilla: new host left by shop-2.0.0',
    });
  });

  it('leaves a release that ended through its own Fail state as FinishRelease closed it', async () => {
    const ledger = await stuck();
    await ledger.updateRelease('shop', 'shop-2.0.0', { status: 'ROLLED_BACK', reason: 'gate failed' });
    await ledger.releaseLock('shop', 'shop-2.0.0');
    const handler = createExecutionEnded({
      ledger,
      events: { emit: () => {} },
      now: Date.now,
      callbacks: new StepFunctionsTaskCallbacks(new SFNClient({ region: 'eu-west-1' })),
    });
    expect(await handler(statusChange('FAILED'))).toEqual({ closed: false, lockFreed: false, woken: [] });
    expect((await ledger.getRelease('shop', 'shop-2.0.0'))?.status).toBe('ROLLED_BACK');
  });
});

describe('flotilla unlock on AWS', () => {
  const open = (ledger: DynamoDbLedger) =>
    new AwsCliBackend({
      config: configWith([['us-east-1']]),
      settings,
      sfn: new SFNClient({ region: 'eu-west-1' }),
      ledger,
      pollMs: 0,
    });

  it('refuses while DescribeExecution says the release holding the lock runs, and changes nothing', async () => {
    const ledger = await stuck();
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    await expect(open(ledger).unlock({ actor: 'ops', reason: 'stuck' })).rejects.toMatchObject({ name: 'Busy' });
    expect((await ledger.getLock('shop'))?.releaseId).toBe('shop-2.0.0');
    expect(await ledger.listIntents('shop', 'shop-2.0.0')).toEqual([]);
  });

  it('frees the lock of an execution that ended, audited with who and why, and wakes the queued release', async () => {
    const ledger = await stuck();
    sfn.on(DescribeExecutionCommand).resolves({ status: 'ABORTED' });
    sfn.on(SendTaskSuccessCommand).resolves({});
    const answer = await open(ledger).unlock({ actor: 'ops@example.com', reason: 'execution stopped in the console' });
    expect(answer).toMatchObject({ closed: true, lockFreed: true, woken: ['shop-2.1.0'] });
    expect(await ledger.getLock('shop')).toBeUndefined();
    const [intent] = await ledger.listIntents('shop', 'shop-2.0.0');
    expect(intent).toMatchObject({
      verb: 'unlock',
      actor: 'ops@example.com',
      reason: 'execution stopped in the console',
    });
    expect((await ledger.getRelease('shop', 'shop-2.0.0'))?.reason).toContain('unlocked by ops@example.com');
  });

  it('says there is nothing to unlock when no release holds the lock', async () => {
    const ledger = await stuck();
    await ledger.releaseLock('shop', 'shop-2.0.0');
    await expect(open(ledger).unlock({ actor: 'ops', reason: 'why not' })).rejects.toMatchObject({ name: 'NoChange' });
  });
});
