/**
 * `flotilla unlock`: an operator frees the lock a dead release still holds, on either backend (the
 * CLI passes how to tell whether its execution runs: the local engine, or DescribeExecution). It is
 * refused while that execution runs (core/recovery.ts `unlockRefusal`), audited as an intent with
 * who and why, and then does what the abnormal-end recovery does: closes the record, frees the
 * lock, wakes the next queued release and alerts.
 */
import type { Intent } from '../core/control.ts';
import { REFUSALS, refused } from '../core/errors.ts';
import { unlockRefusal } from '../core/recovery.ts';
import { type Recovered, type RecoveryDeps, recoverRelease } from './recovery.ts';
import { newIntentStamp } from './steering.ts';

export interface UnlockDeps extends RecoveryDeps {
  /** Whether the release's execution still runs (locally: its process; on AWS: DescribeExecution RUNNING). */
  isRunning(releaseId: string): Promise<boolean>;
}

export async function unlockService(
  deps: UnlockDeps,
  request: { service: string; actor: string; reason: string },
): Promise<{ intent: Intent } & Recovered> {
  if (!request.reason.trim()) throw refused(REFUSALS.InvalidInput, 'unlock needs a reason (--reason)');
  if (!request.actor.trim()) throw refused(REFUSALS.InvalidInput, 'unlock needs an actor');
  const lock = await deps.ledger.getLock(request.service);
  const refusal = unlockRefusal({ lock, holderRunning: lock ? await deps.isRunning(lock.releaseId) : false });
  if (refusal || !lock) throw refused(refusal?.refusal ?? REFUSALS.NoChange, refusal?.message ?? 'nothing to unlock');
  const intent: Intent = {
    service: request.service,
    releaseId: lock.releaseId,
    verb: 'unlock',
    actor: request.actor,
    reason: request.reason,
    ...newIntentStamp(deps.now),
  };
  await deps.ledger.putIntent(intent);
  const recovered = await recoverRelease(deps, {
    service: request.service,
    releaseId: lock.releaseId,
    status: 'ABORTED',
    error: 'Unlocked',
    cause: `unlocked by ${request.actor}: ${request.reason}`,
  });
  return { intent, ...recovered };
}
