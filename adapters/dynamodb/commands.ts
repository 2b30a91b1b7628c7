/**
 * The document client's commands the ledger sends, imported by name so that a Lambda bundle keeps
 * only these (a dynamic import of the whole of `@aws-sdk/lib-dynamodb` kept every command of
 * DynamoDB and pushed two bundles past 600 KiB; so did one of `@aws-sdk/client-dynamodb` for the
 * table's creation). Loaded on the ledger's first request
 * (adapters/dynamodb/ledger.ts `documentClientRequests`), so the read-only reader never loads it.
 */

export { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
export {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
