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

/**
 * Why a request of a person (a verb, a release, a read) is refused: one name per kind, the same
 * from the CLI, the control API, Slack and the AWS CLI. The CLI maps each to one exit code
 * (cli/exit-codes.ts), the control API to one HTTP status.
 */
export const REFUSALS = {
  /** The input is malformed (a bad version string, a missing reason, an unknown region). */
  InvalidInput: 'InvalidInput',
  /** The release (or region) named does not exist. */
  NotFound: 'NotFound',
  /** The verb does not apply to the release as it stands (abort of a finished release). */
  NotApplicable: 'NotApplicable',
  /** The verb would change nothing (resume when not paused, a second pause, force with no hold). */
  NoChange: 'NoChange',
  /** Another release holds the service's lock, or another process the state directory. */
  Busy: 'Busy',
} as const;

export type Refusal = keyof typeof REFUSALS;

export const refused = (kind: Refusal, message: string): Error => namedError(kind, message);
