/**
 * Port: starts a release execution. On AWS: StartExecution of the release state machine; locally:
 * the same ASL on the local engine. A name already taken is an error named ExecutionAlreadyExists
 * (as Step Functions names it), so a caller choosing names can take the next one.
 */
import type { ReleaseOutcome, StartReleaseInput } from '../core/types.ts';

export interface StartedRun {
  releaseId: string;
  /** AWS: the execution and where to watch it. */
  executionArn?: string;
  consoleUrl?: string;
  /** Local: settles with the terminal outcome. */
  done?: Promise<ReleaseOutcome>;
}

export interface ReleaseStarter {
  start(input: StartReleaseInput): Promise<StartedRun>;
}
