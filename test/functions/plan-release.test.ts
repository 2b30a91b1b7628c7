/**
 * PlanRelease and the plan it writes, on the real ledger code over dynalite: the steps after it in
 * the same process (StageAhead, EnterWave, each region's child) find the plan kept as the ledger
 * reads it back, and never read it again.
 */
import { describe, expect, it } from 'vitest';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { createPlanRelease } from '../../functions/plan-release.ts';
import { loadPlan } from '../../functions/shared/plan.ts';
import { counted } from '../helpers/counted-ledger.ts';
import { dynamoPerFile } from '../helpers/dynamo-per-file.ts';
import { configWith } from '../helpers/fixtures.ts';

const dynamo = dynamoPerFile();

describe('PlanRelease', () => {
  it('keeps the plan it wrote: the steps after it read it from the ledger no more', async () => {
    await createLedgerTable(dynamo().client, 'plan-release-kept');
    const real = new DynamoDbLedger({ client: dynamo().doc, tableName: 'plan-release-kept' });
    const { ledger, calls } = counted(real);
    const planRelease = createPlanRelease({
      ledger,
      events: { emit: () => {} },
      now: Date.now,
      regionStateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:region',
    });
    const planned = await planRelease({
      releaseId: 'shop-2.0.0',
      version: '2.0.0',
      artifact: '/builds/2.0.0',
      config: configWith([['us-east-1'], ['eu-west-1', 'eu-central-1']]),
      owner: 'test',
    });
    expect(planned.queued).toBe(false);
    const kept = await loadPlan({ ledger }, planned.plan);
    expect(calls.get('getPlan') ?? 0).toBe(0);
    // Exactly what a read from the ledger gives (a Lambda of another process reads it so).
    expect(kept).toStrictEqual(await real.getPlan('shop', 'shop-2.0.0'));
    // Each caller still gets its own copy.
    kept.waves.pop();
    expect((await loadPlan({ ledger }, planned.plan)).waves).toHaveLength(2);
  });
});
