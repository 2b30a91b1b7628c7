import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as commands from '../../adapters/dynamodb/commands.ts';
import { DynamoDbLedger, documentClientRequests } from '../../adapters/dynamodb/ledger.ts';
import type { Ledger } from '../../ports/ledger.ts';
import { requireEnv } from './lambda.ts';

/** The ledger in the stack's DynamoDB table (FLOTILLA_TABLE). */
export function ledgerFromEnv(): Ledger {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  // The commands imported statically, so the bundle keeps only these (adapters/dynamodb/commands.ts).
  return new DynamoDbLedger({
    requests: documentClientRequests(client, commands),
    tableName: requireEnv('FLOTILLA_TABLE'),
  });
}
