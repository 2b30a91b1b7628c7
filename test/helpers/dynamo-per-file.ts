import { afterAll, beforeAll } from 'vitest';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';

/** One in-memory embedded DynamoDB for a test file: started before its tests, closed after them. */
export function dynamoPerFile(): () => EmbeddedDynamo {
  let dynamo: EmbeddedDynamo | undefined;
  beforeAll(async () => {
    dynamo = await startEmbeddedDynamo({});
  });
  afterAll(async () => {
    await dynamo?.close();
  });
  return () => {
    if (!dynamo) throw new Error('the embedded DynamoDB is not started (use it inside a test)');
    return dynamo;
  };
}
