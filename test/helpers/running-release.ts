/** A ledger table on an embedded DynamoDB where shop-2.0.0 runs: its plan kept, its first region deployed. */
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import type { EmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { planRelease } from '../../core/plan.ts';
import { configWith, recordWith } from './fixtures.ts';

export async function runningRelease(dynamo: EmbeddedDynamo, table: string) {
  await createLedgerTable(dynamo.client, table);
  const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: table });
  await ledger.createRelease(recordWith([{ region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' }]));
  const plan = planRelease({
    config: configWith([['us-east-1'], ['eu-west-1']]),
    releaseId: 'shop-2.0.0',
    version: '2.0.0',
    artifact: '/builds/2.0.0',
    regionStateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:region',
    owner: 'exec',
  });
  await ledger.putPlan(plan);
  return { ledger, plan };
}
