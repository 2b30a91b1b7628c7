/** The release queue of a service (no AWS client here: the hold and claim-turn bundles stay small). */

import type { ReleaseRecord } from '../../core/model.ts';
import { supersededBy } from '../../core/queue.ts';
import type { Deps } from '../deps.ts';

/** The newest build of the service that supersedes `self` (queued, running or shipped after it), if any. */
export async function newerBuild(
  deps: Pick<Deps, 'ledger'>,
  service: string,
  self: Pick<ReleaseRecord, 'releaseId' | 'startedAt'>,
): Promise<string | undefined> {
  return supersededBy(self, await deps.ledger.listReleases(service, 50));
}
