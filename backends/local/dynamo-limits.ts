/**
 * DynamoDB's expression limit, taught to dynalite. DynamoDB refuses any expression string over
 * 4 KB (UTF-8 bytes as sent, before `#name`/`:value` substitution) with a ValidationException;
 * dynalite accepts any length, so a ledger write that fails on AWS would pass every local test.
 * dynalite already refuses items over 400 KB as DynamoDB does (its `maxItemSizeKb`, 400 by default).
 *
 * The check is installed in dynalite's own request validation (each action's `custom` hook), so
 * every client of the embedded server gets DynamoDB's answer: HTTP 400, ValidationException.
 */
import { createRequire } from 'node:module';
import { DYNAMO_EXPRESSION_LIMIT_BYTES } from '../../core/limits.ts';

/** The expression parameters DynamoDB's actions take. */
const EXPRESSIONS = [
  'UpdateExpression',
  'ConditionExpression',
  'KeyConditionExpression',
  'FilterExpression',
  'ProjectionExpression',
] as const;

/** DynamoDB's message for the first expression over 4 KB in a request, or undefined if none is. */
export function expressionSizeProblem(request: Record<string, unknown>): string | undefined {
  for (const field of EXPRESSIONS) {
    const expression = request[field];
    if (typeof expression !== 'string') continue;
    const size = Buffer.byteLength(expression, 'utf8');
    if (size > DYNAMO_EXPRESSION_LIMIT_BYTES) {
      return `Invalid ${field}: Expression size has exceeded the maximum allowed size; expression size: ${size}`;
    }
  }
  return undefined;
}

type Custom = (data: Record<string, unknown>, store: unknown) => string | undefined;

/** The dynalite actions that take expressions (BatchGetItem's live per table: checked inside). */
const ACTIONS = ['putItem', 'updateItem', 'deleteItem', 'getItem', 'query', 'scan', 'batchGetItem'];

/** Adds the expression-size check to dynalite's validation of each action. Call before serving. */
export function enforceDynamoLimits(): void {
  const require = createRequire(import.meta.url);
  for (const action of ACTIONS) {
    const validation = require(`dynalite/validations/${action}.js`) as { custom?: Custom; __flotilla?: true };
    if (validation.__flotilla) continue;
    const custom = validation.custom;
    validation.custom = (data, store) => {
      const tables = action === 'batchGetItem' ? Object.values((data.RequestItems ?? {}) as object) : [data];
      for (const request of tables) {
        const problem = expressionSizeProblem(request as Record<string, unknown>);
        if (problem) return problem;
      }
      return custom?.(data, store);
    };
    validation.__flotilla = true;
  }
}
