/**
 * Task tokens on the local engine. aws-local-stepfunctions has no SendTaskSuccess: a
 * `.waitForTaskToken` task's local handler stores its token and then waits here, and whoever would
 * call SendTaskSuccess/SendTaskFailure on AWS (a watcher, a verb, the release ahead ending) settles
 * it here instead. The task's timeout is the engine's (TimeoutSeconds[Path]), as on AWS.
 */

import type { Intent } from '../../core/control.ts';
import { namedError } from '../../core/errors.ts';
import type { HoldToken } from '../../core/model.ts';
import type { HoldWaker } from '../../ports/hold-waker.ts';
import type { TaskCallbacks } from '../../ports/task-callbacks.ts';

interface Waiter {
  resolve: (output: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

export class LocalTaskTokens implements TaskCallbacks, HoldWaker {
  readonly #waiting = new Map<string, Waiter>();

  /**
   * Waits until the token is settled. A newer wait on the same token replaces this one (the task
   * it belonged to timed out and the execution moved on), and the backend shutting down ends it.
   */
  wait(token: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (output) => {
          cleanup();
          resolve(output);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const onAbort = () => waiter.reject(namedError('Shutdown', 'the local backend is closing'));
      const cleanup = () => {
        if (this.#waiting.get(token) === waiter) this.#waiting.delete(token);
        signal?.removeEventListener('abort', onAbort);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.set(token, waiter);
    });
  }

  /** Whether a task waits on this token now. */
  isWaiting(token: string): boolean {
    return this.#waiting.has(token);
  }

  async succeed(token: string, output: Record<string, unknown>): Promise<'woken' | 'gone'> {
    const waiter = this.#waiting.get(token);
    if (!waiter) return 'gone';
    waiter.resolve(output);
    return 'woken';
  }

  async fail(token: string, error: string, cause: string): Promise<'woken' | 'gone'> {
    const waiter = this.#waiting.get(token);
    if (!waiter) return 'gone';
    waiter.reject(namedError(error, cause));
    return 'woken';
  }

  /** A verb wakes a waiting task as StepFunctionsHoldWaker does on AWS: abort fails it, any other verb succeeds it. */
  wake(token: HoldToken, intent: Intent): Promise<'woken' | 'gone'> {
    return intent.verb === 'abort'
      ? this.fail(token.token, 'ReleaseAborted', `aborted by ${intent.actor}: ${intent.reason}`)
      : this.succeed(token.token, { verb: intent.verb, actor: intent.actor, reason: intent.reason });
  }
}
