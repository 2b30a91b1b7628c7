/**
 * Port: wakes a release waiting at a hold (a `.waitForTaskToken` task) because someone acted.
 * On AWS: SendTaskSuccess with the intent, or SendTaskFailure `ReleaseAborted` for abort. Locally
 * the hold watches the ledger itself, so the local backend has no waker.
 */
import type { Intent } from '../core/control.ts';
import type { HoldToken } from '../core/model.ts';

export interface HoldWaker {
  /**
   * 'woken', or 'gone' when the task has already moved on (timed out, the release ended): nothing
   * to wake, the release reads the intent at its next safe point. Throws when it could not reach
   * the task (throttled, a network error): the token is worth keeping for the next try.
   */
  wake(token: HoldToken, intent: Intent): Promise<'woken' | 'gone'>;
}
