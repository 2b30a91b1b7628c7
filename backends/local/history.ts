/**
 * Turns the local engine's event log into the number of history events AWS Step Functions would
 * record for the same execution. AWS fails a Standard execution at 25,000 events, so this is how
 * a design is checked against that limit without an AWS account.
 *
 * Event types per state kind follow the Step Functions API reference (HistoryEvent):
 *   Task on a Lambda ARN: TaskStateEntered, LambdaFunctionScheduled, LambdaFunctionStarted,
 *     LambdaFunctionSucceeded | LambdaFunctionFailed, TaskStateExited (a retry repeats Scheduled/Started/…).
 *   Task on an integration (`states:startExecution.sync:2`): TaskStateEntered, TaskScheduled,
 *     TaskStarted, TaskSubmitted, TaskSucceeded | TaskFailed, TaskStateExited.
 *   Map: MapStateEntered, MapStateStarted, per iteration MapIterationStarted … MapIterationSucceeded,
 *     MapStateSucceeded | MapStateFailed, MapStateExited.
 *   Pass, Wait, Choice, Succeed: XStateEntered, XStateExited. Fail: FailStateEntered (then ExecutionFailed).
 *   Execution: ExecutionStarted, ExecutionSucceeded | ExecutionFailed.
 * Child executions have histories of their own and are counted separately.
 */

export interface LocalEvent {
  type: string;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  /** The execution's input (ExecutionStarted) or output (ExecutionSucceeded). */
  input?: unknown;
  output?: unknown;
  /** Map iteration index, on events from inside a Map. */
  index?: number;
}

/** The Task states' resources, by state name (nested states included). */
export type TaskResources = ReadonlyMap<string, string>;

const isLambda = (resource: string | undefined) => resource?.startsWith('arn:aws:lambda:') === true;

/** Events one attempt of a task adds between entering and finishing (Scheduled, Started[, Submitted]). */
function attemptEvents(resource: string | undefined): number {
  return isLambda(resource) ? 2 : 3;
}

export function countAwsHistoryEvents(events: readonly LocalEvent[], tasks: TaskResources): number {
  const counter = new AwsHistoryCounter(tasks);
  for (const event of events) counter.add(event);
  return counter.count;
}

/**
 * The same count, one event at a time, so the engine can fail an execution the moment it passes
 * AWS's history limit instead of finding out at the end.
 */
export class AwsHistoryCounter {
  count = 0;
  readonly #tasks: TaskResources;
  // States whose failure was caught: their completion event was the failure, so the exit adds only itself.
  readonly #caught = new Set<string>();

  constructor(tasks: TaskResources) {
    this.#tasks = tasks;
  }

  /** Adds the AWS events `event` stands for; returns the running total. */
  add(event: LocalEvent): number {
    const tasks = this.#tasks;
    const caught = this.#caught;
    const state = event.state;
    const key = `${state?.name}#${event.index ?? ''}`;
    let count = 0;
    switch (event.type) {
      case 'ExecutionStarted':
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimeout':
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
      case 'ParallelBranchStarted':
      case 'ParallelBranchSucceeded':
      case 'ParallelBranchFailed':
        count += 1;
        break;
      case 'StateEntered':
        count += 1;
        if (state?.type === 'Task') count += attemptEvents(tasks.get(state.name));
        if (state?.type === 'Map' || state?.type === 'Parallel') count += 1;
        break;
      case 'StateExited': {
        // The exit, plus the task's or map's own completion event unless that was a caught failure.
        const completes = state?.type === 'Task' || state?.type === 'Map' || state?.type === 'Parallel';
        count += completes && !caught.delete(key) ? 2 : 1;
        break;
      }
      case 'StateFailed':
        // TaskFailed / LambdaFunctionFailed / MapStateFailed; a Fail state's failure is ExecutionFailed.
        if (state?.type !== 'Fail') count += 1;
        break;
      case 'StateRetried':
        count += attemptEvents(state ? tasks.get(state.name) : undefined);
        break;
      case 'StateCaught':
        caught.add(key);
        break;
    }
    this.count += count;
    return this.count;
  }
}
