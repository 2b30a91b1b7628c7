import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import type { Ledger } from '../../ports/ledger.ts';
import { requireEnv } from './lambda.ts';

/** The ledger in the stack's DynamoDB table (FLOTILLA_TABLE). */
export function ledgerFromEnv(): Ledger {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return new DynamoDbLedger({ client, tableName: requireEnv('FLOTILLA_TABLE') });
}
