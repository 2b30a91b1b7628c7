/**
 * Hold: a release waits for people (paused, frozen, a closed window, an approval, an Inconclusive
 * gate). The state is a `.waitForTaskToken` task: waiting costs the parent a few history events
 * however long it lasts. On AWS this keeps the task token in the ledger and returns; a verb wakes
 * the release with SendTaskSuccess (or SendTaskFailure for abort), and the task's timeout wakes it
 * for a window that opens. Locally the same state waits here until someone acts or the hold's time
 * is up. Either way the release then looks again (EnterWave, CheckGate), which decides.
 *
 * A verb (or the release ahead ending) that landed after the decision to hold and before the token
 * was kept found no token to wake. The hold looks once right after keeping it, and if something
 * changed it ends its own wait: on AWS with SendTaskSuccess on its own token (a Lambda's return
 * does not end a `.waitForTaskToken` task there), locally by returning.
 */

import type { PlanRef } from '../core/types.ts';
import { type Deps, isoAt } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { callbacksFromEnv } from './runtime/ports.ts';
import { newerBuild } from './shared/queue.ts';

export interface HoldInput {
  taskToken: string;
  plan: Pick<PlanRef, 'service' | 'releaseId'>;
  reasons: string[];
  holdSeconds: number;
  /** How many intents (the release's and the global ones) the decision to hold saw. */
  intentsSeen: number;
  /** A queued release: the release holding the service's lock when it looked; it wakes when that changes. */
  lockSeen?: string;
  /** Waiting only for an approval: a newer build queuing behind takes it over, so that wakes it too. */
  approvalOnly?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const createHold =
  (
    deps: Pick<Deps, 'ledger' | 'now' | 'signal' | 'waitForToken' | 'callbacks'> & {
      waitHere: boolean;
      pollMs?: number;
    },
  ) =>
  async ({
    taskToken,
    plan,
    reasons,
    holdSeconds,
    intentsSeen,
    lockSeen,
    approvalOnly,
  }: HoldInput): Promise<{ woke: string }> => {
    const { service, releaseId } = plan;
    await deps.ledger.putHoldToken(service, releaseId, {
      token: taskToken,
      reason: reasons.join('; '),
      at: isoAt(deps),
    });
    const count = async () =>
      (await deps.ledger.listIntents(service, releaseId)).length +
      (await deps.ledger.listIntents(service, null)).length;
    const wakeNow = async (woke: string): Promise<{ woke: string }> => {
      if (!deps.waitHere && !deps.waitForToken) await endOwnWait(deps, taskToken, woke);
      return { woke };
    };
    if (lockSeen !== undefined) {
      // Queued: the release ahead wakes it as it ends (services/queue.ts). If it ended before the
      // token was kept, it found nothing to wake: look once now rather than at the heartbeat.
      if ((await deps.ledger.getLock(service))?.releaseId !== lockSeen) return wakeNow('lock');
      if (deps.waitForToken) return (await deps.waitForToken(taskToken, deps.signal)) as { woke: string };
    }
    // Compare with what the decision to hold was based on: an intent that came in since wakes it at once.
    const seen = intentsSeen;
    if ((await count()) !== seen) return wakeNow('intent');
    if (!deps.waitHere) return { woke: 'token stored' };

    const deadline = deps.now() + holdSeconds * 1000;
    const self = approvalOnly ? await deps.ledger.getRelease(service, releaseId) : undefined;
    try {
      for (;;) {
        await sleep(deps.pollMs ?? 200);
        if (deps.signal?.aborted) return { woke: 'shutdown' };
        if (deps.now() >= deadline) return { woke: 'time' };
        if ((await count()) !== seen) return { woke: 'intent' };
        if (lockSeen !== undefined && (await deps.ledger.getLock(service))?.releaseId !== lockSeen)
          return { woke: 'lock' };
        if (self && (await newerBuild(deps, service, self))) return { woke: 'newer build' };
      }
    } finally {
      if (!deps.signal?.aborted) await deps.ledger.takeHoldTokens(service, releaseId);
    }
  };

/**
 * Ends a wait that must not go on (something it waits for already happened) where returning does
 * not: SendTaskSuccess on its own token, as the verb would have. Without callbacks (the local
 * engine ends the task with the handler's return) there is nothing to do.
 */
export async function endOwnWait(deps: Pick<Deps, 'callbacks'>, taskToken: string, woke: string): Promise<void> {
  await deps.callbacks?.succeed(taskToken, { woke });
}

/** The Lambda entry point on AWS: keep the token; SendTaskSuccess/Failure or the timeout ends the wait. */
export const handler = lambda(() =>
  createHold({ ledger: ledgerFromEnv(), now: Date.now, waitHere: false, callbacks: callbacksFromEnv() }),
);
