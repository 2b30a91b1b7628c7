/**
 * ClaimTurn: a release queued behind another of the same service waits for the lock. When it is
 * free, only the newest queued build takes it; older queued ones end SUPERSEDED. Two releases
 * never deploy to the same service (and so the same region) at once, and a wave in flight is
 * never interrupted: the queue only moves when the release in flight ends.
 */

import { controlState, latest } from '../core/control.ts';
import type { ControlAction, PlanRef } from '../core/types.ts';
import { type Deps, emit, isoAt, namedError } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { eventsFromEnv } from './runtime/ports.ts';
import { newerBuild } from './shared/queue.ts';

export type Turn =
  | { kind: 'Go' }
  /** Aborted while queued: it never runs. */
  | { kind: 'Abort'; control: ControlAction }
  | { kind: 'Superseded'; by: string }
  | { kind: 'Wait'; reasons: string[]; lockSeen: string; intentsSeen: number };

export const createClaimTurn =
  (deps: Pick<Deps, 'ledger' | 'events' | 'now'>) =>
  async ({ plan }: { plan: PlanRef }): Promise<Turn> => {
    const record = await deps.ledger.getRelease(plan.service, plan.releaseId);
    if (!record) throw namedError('ReleaseNotFound', `release ${plan.releaseId} is not in the ledger`);
    // The token of the wait that led here (a heartbeat's timeout leaves it behind) is spent.
    await deps.ledger.takeHoldTokens(plan.service, plan.releaseId);
    const intents = await deps.ledger.listIntents(plan.service, plan.releaseId);
    const abort = controlState(intents, { promotions: 0 }).abort ? latest(intents, 'abort') : undefined;
    if (abort) return { kind: 'Abort', control: { kind: 'Aborted', actor: abort.actor, reason: abort.reason } };
    const newer = await newerBuild(deps, plan.service, record);
    if (newer) return { kind: 'Superseded', by: newer };
    const lock = await deps.ledger.acquireLock(plan.service, {
      releaseId: plan.releaseId,
      owner: plan.owner,
      acquiredAt: isoAt(deps),
    });
    if (lock.acquired) {
      await deps.ledger.updateRelease(plan.service, plan.releaseId, { status: 'RUNNING', hold: null });
      return { kind: 'Go' };
    }
    const reason = `queued behind ${lock.heldBy.releaseId}`;
    if (record.hold?.reasons[0]?.text !== reason) {
      await deps.ledger.updateRelease(plan.service, plan.releaseId, {
        hold: { wave: 0, since: isoAt(deps), reasons: [{ kind: 'queued', text: reason }] },
      });
    }
    await emit(deps, plan.service, plan.releaseId, { kind: 'wave-held', wave: 0, reasons: [reason] });
    const global = await deps.ledger.listIntents(plan.service, null);
    return {
      kind: 'Wait',
      reasons: [reason],
      lockSeen: lock.heldBy.releaseId,
      intentsSeen: intents.length + global.length,
    };
  };

/** The Lambda entry point on AWS: ports from the environment serverless.yml sets. */
export const handler = lambda(() =>
  createClaimTurn({ ledger: ledgerFromEnv(), events: eventsFromEnv(), now: Date.now }),
);
