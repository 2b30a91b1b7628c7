/**
 * Errors are API: the state machines route on `error.name` (ASL Retry/Catch), and names survive
 * crossing Lambda and Step Functions boundaries where classes do not. Each module lists its own
 * names (adapters/aws/errors.ts, adapters/dynamodb/errors.ts); this is how they are made.
 */

/** An Error with the given `name`, keeping what caused it. */
export function namedError(name: string, message: string, cause?: unknown): Error {
  const error = new Error(message, cause === undefined ? undefined : { cause });
  error.name = name;
  return error;
}
