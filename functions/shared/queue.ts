/** The release queue of a service (no AWS client here: the hold and claim-turn bundles stay small). */
import type { Deps } from '../deps.ts';

/** The newest release of the service queued after `since`, if any. */
export async function newestQueued(
  deps: Pick<Deps, 'ledger'>,
  service: string,
  since: string,
): Promise<string | undefined> {
  const recent = await deps.ledger.listReleases(service, 50);
  return recent.find((r) => r.status === 'QUEUED' && r.startedAt > since)?.releaseId;
}
