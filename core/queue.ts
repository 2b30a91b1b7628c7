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

/** What a process that took over a state dir does with a release a dead process left QUEUED. */
export type Resumption =
  | { kind: 'Resume' }
  | { kind: 'Refused'; refusal: 'NotFound' | 'NotApplicable'; message: string };

/**
 * Whether the release `releaseId` can re-enter the queue in a new execution: it must be in the
 * ledger, still QUEUED (one that ran, or ended, is never run again), with the plan PlanRelease
 * stored for it when it was queued (the new execution runs that plan, not today's config), and
 * for the same build. The queue rules then apply as to any queued release (ClaimTurn: superseded
 * by a newer build, aborted while queued, or its turn).
 */
export function resumeQueued(input: {
  releaseId: string;
  version: string;
  record: Pick<ReleaseRecord, 'status' | 'version'> | undefined;
  plan: { version: string } | undefined;
}): Resumption {
  const { releaseId, record, plan } = input;
  if (!record) return { kind: 'Refused', refusal: 'NotFound', message: `release ${releaseId} is not in the ledger` };
  if (record.status !== 'QUEUED') {
    return {
      kind: 'Refused',
      refusal: 'NotApplicable',
      message: `release ${releaseId} is ${record.status}, not QUEUED: only a queued release is resumed`,
    };
  }
  if (!plan) {
    return { kind: 'Refused', refusal: 'NotFound', message: `release ${releaseId} is QUEUED but has no stored plan` };
  }
  if (plan.version !== input.version || record.version !== input.version) {
    return {
      kind: 'Refused',
      refusal: 'NotApplicable',
      message: `release ${releaseId} was queued for ${plan.version}, not ${input.version}`,
    };
  }
  return { kind: 'Resume' };
}

/**
 * The releases a dead process left QUEUED, oldest first: a process that runs the state dir's
 * releases resumes each (the newest takes its turn; ClaimTurn supersedes the older ones).
 */
export function queuedToResume<R extends Pick<ReleaseRecord, 'releaseId' | 'startedAt' | 'status'>>(
  releases: readonly R[],
): R[] {
  return releases
    .filter((r) => r.status === 'QUEUED')
    .sort((a, b) =>
      a.startedAt === b.startedAt ? a.releaseId.localeCompare(b.releaseId) : a.startedAt.localeCompare(b.startedAt),
    );
}
