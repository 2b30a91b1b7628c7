/**
 * Moving a service's queue: when a release ends (normally, or abnormally through
 * services/recovery.ts) and frees the lock, every release queued behind it is woken at its
 * WaitForTurn token, and ClaimTurn decides which one runs (the newest; older ones end SUPERSEDED).
 * The queued releases themselves re-check only on a long heartbeat, for a wake that got lost.
 */
import type { Ledger } from '../ports/ledger.ts';
import type { TaskCallbacks } from '../ports/task-callbacks.ts';

export interface QueueDeps {
  ledger: Pick<Ledger, 'listReleases' | 'takeHoldTokens' | 'putHoldToken'>;
  callbacks: TaskCallbacks;
}

/** Wakes the releases queued for `service`; returns the ids of those that were waiting. */
export async function wakeQueued(deps: QueueDeps, service: string, freedBy: string): Promise<string[]> {
  const queued = (await deps.ledger.listReleases(service, 50)).filter((r) => r.status === 'QUEUED');
  const woken: string[] = [];
  await Promise.all(
    queued.map(async ({ releaseId }) => {
      const tokens = await deps.ledger.takeHoldTokens(service, releaseId);
      const results = await Promise.allSettled(
        tokens.map((t) => deps.callbacks.succeed(t.token, { woke: 'lock freed', by: freedBy })),
      );
      // A token that could not be reached is kept: the heartbeat, or the next release to end, tries again.
      await Promise.all(
        results.flatMap((r, i) => {
          const token = tokens[i];
          return r.status === 'rejected' && token ? [deps.ledger.putHoldToken(service, releaseId, token)] : [];
        }),
      );
      if (results.some((r) => r.status === 'fulfilled' && r.value === 'woken')) woken.push(releaseId);
    }),
  );
  return woken;
}
