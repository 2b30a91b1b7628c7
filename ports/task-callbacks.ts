/**
 * Port: ends a release's wait on a task token (a bake, a deploy, the queue) because something
 * happened: a signal turned bad, a deployment changed state, the release ahead ended. On AWS:
 * SendTaskSuccess / SendTaskFailure; locally the engine's waiting task is settled in process.
 */
export interface TaskCallbacks {
  /** 'gone' when the task has already moved on (timed out, ended): nothing to wake. */
  succeed(token: string, output: Record<string, unknown>): Promise<'woken' | 'gone'>;
  /** Fails the waiting task with `error` (its ASL error name) and `cause`. */
  fail(token: string, error: string, cause: string): Promise<'woken' | 'gone'>;
}
