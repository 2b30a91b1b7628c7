/**
 * What an abnormal end of a release's execution means for its record (FAILED, TIMED_OUT or
 * ABORTED on AWS: States.Runtime, States.DataLimitExceeded, the history limit, a StopExecution, a
 * timeout; locally the engine failing or being stopped). FinishRelease never ran, so nothing closed
 * the record or freed the lock. Pure: the caller passes `now` and what the regions run.
 */
import type { ReleaseRecord } from './model.ts';
import type { ReleaseOutcome } from './types.ts';

/** How the execution ended, as Step Functions' "Execution Status Change" event says. */
export interface AbnormalEnd {
  status: 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  error?: string;
  cause?: string;
}

export type Recovery =
  /** The record was closed by FinishRelease already (a rolled-back release's Fail state ends FAILED too). */
  | { kind: 'already-closed' }
  | {
      kind: 'close';
      patch: { status: 'FAILED'; reason: string; endedAt: string; hold: null };
      outcome: ReleaseOutcome;
    };

const OPEN: ReadonlySet<ReleaseRecord['status']> = new Set(['RUNNING', 'QUEUED']);

/** Whether the record must be closed, and with what reason and outcome (each region as the ledger last saw it). */
export function recoverAbnormalEnd(
  record: ReleaseRecord,
  end: AbnormalEnd,
  currentVersions: Readonly<Record<string, string | null>>,
  now: number,
): Recovery {
  if (!OPEN.has(record.status)) return { kind: 'already-closed' };
  const how =
    end.status === 'ABORTED'
      ? 'was stopped'
      : end.status === 'TIMED_OUT'
        ? 'timed out'
        : 'failed outside its own paths';
  const detail = [end.error, end.cause].filter((s) => s !== undefined && s !== '').join(': ');
  const touched = Object.values(record.regions).filter((r) => r.phase !== 'pending' && r.phase !== 'skipped');
  const left =
    touched.length === 0
      ? 'no region had been touched'
      : `no rollback ran: ${touched.map((r) => `${r.region} runs ${currentVersions[r.region] ?? 'nothing'}`).join(', ')}`;
  const reason = `the release's execution ${how}${detail ? ` (${detail})` : ''}; ${left}`;
  const regions = Object.values(record.regions)
    .sort((a, b) => a.wave - b.wave || a.region.localeCompare(b.region))
    .map((r) => ({ region: r.region, version: currentVersions[r.region] ?? null, phase: r.phase }));
  return {
    kind: 'close',
    patch: { status: 'FAILED', reason, endedAt: new Date(now).toISOString(), hold: null },
    outcome: {
      releaseId: record.releaseId,
      service: record.service,
      version: record.version,
      status: 'FAILED',
      reason,
      regions,
    },
  };
}

/**
 * Whether an operator may free a service's lock (`flotilla unlock`): only when the execution holding
 * it no longer runs (locally its process is gone; on AWS DescribeExecution no longer says RUNNING).
 * Freeing a live release's lock would let a second release deploy over it: that one is stopped
 * (abort, or StopExecution) instead. Returns why not, or null.
 */
export function unlockRefusal(input: {
  lock: { releaseId: string } | undefined;
  holderRunning: boolean;
}): { refusal: 'NoChange' | 'Busy'; message: string } | null {
  if (!input.lock) return { refusal: 'NoChange', message: 'no release holds the lock: nothing to unlock' };
  if (input.holderRunning) {
    return {
      refusal: 'Busy',
      message: `${input.lock.releaseId} still runs and holds the lock: abort it (or stop its execution) instead`,
    };
  }
  return null;
}

/** A local orchestrator's lock owner, `local:<host>:<pid>` (backends/local/index.ts). */
export function localLockOwner(owner: string): { host: string; pid: string } | undefined {
  const match = /^local:(.+):(\d+)$/.exec(owner);
  return match ? { host: match[1] as string, pid: match[2] as string } : undefined;
}

/**
 * Whether opening a local state dir finds what a process that is gone left behind, for the opener to
 * close first: the lock it held (an opener holds the state dir, so no local orchestrator still runs
 * from it). Reading the ledger as it stands would show its release RUNNING, which no longer is the
 * truth. A QUEUED release is not left behind: its queue is the ledger, and the next process that runs
 * releases resumes it, so QUEUED stays true.
 */
export function localRecoveryDue(lock: { owner: string } | undefined): boolean {
  return lock !== undefined && localLockOwner(lock.owner) !== undefined;
}
