/**
 * The release queue of a service: which queued build gives way to a newer one. Merges land in
 * order, and the newest build is the one that matters: an older build never runs once a newer
 * one is waiting, running or has shipped (that would be a downgrade).
 */
import type { ReleaseRecord, ReleaseStatus } from './model.ts';

/** A newer build in one of these has taken the older one's place. */
const TAKES_ITS_PLACE: ReadonlySet<ReleaseStatus> = new Set<ReleaseStatus>(['QUEUED', 'RUNNING', 'SUCCEEDED']);

/**
 * The newest build release of the service started after `self` that supersedes it, if any.
 * Rollback releases (the `rollback` verb) supersede nothing. "After" is by start time, and by
 * release id on the same millisecond, so that two builds never supersede each other.
 */
export function supersededBy(
  self: Pick<ReleaseRecord, 'releaseId' | 'startedAt'>,
  releases: readonly Pick<ReleaseRecord, 'releaseId' | 'startedAt' | 'status' | 'rollbackOf'>[],
): string | undefined {
  const later = (r: Pick<ReleaseRecord, 'releaseId' | 'startedAt'>) =>
    r.startedAt > self.startedAt || (r.startedAt === self.startedAt && r.releaseId > self.releaseId);
  const newer = releases
    .filter((r) => r.releaseId !== self.releaseId && !r.rollbackOf && TAKES_ITS_PLACE.has(r.status) && later(r))
    .sort((a, b) =>
      a.startedAt === b.startedAt ? b.releaseId.localeCompare(a.releaseId) : b.startedAt.localeCompare(a.startedAt),
    );
  return newer[0]?.releaseId;
}
