/**
 * The chaos suite's judge: what a release's end says, held against what the regions run. Pure:
 * every input is evidence gathered from the regions, the CLI and the ledger after the release.
 */
import type { FaultSpec } from '../../config/types.ts';
import type { LockHolder, ReleaseRecord } from '../../core/model.ts';
import { regionsToPutBack, touchedRegions } from '../../core/rollback.ts';
import type { ReleaseOutcome } from '../../core/types.ts';
import type { Observed } from './observe.ts';

export interface Evidence {
  version: string;
  faults: Record<string, FaultSpec[]>;
  /** What each region's `current` pointed at before the release. */
  prev: Record<string, string | null>;
  /** The orchestrator was killed before the release ended: only the recovery rules apply. */
  killed: boolean;
  /** The release command's exit code and JSON outcome (absent when killed). */
  exitCode?: number;
  outcome?: ReleaseOutcome;
  record: ReleaseRecord | undefined;
  /** The ledger's `where`: what it says each region runs. */
  where: Record<string, string | null>;
  lock: LockHolder | undefined;
  after: Observed[];
  /**
   * The region processes were up when observed (the release ran in a `flotilla up`). A plain
   * release's processes end with it unless detached: then only the links and the ledger are judged,
   * and a process that does answer must still serve what its link says.
   */
  serving: boolean;
}

const TERMINAL = new Set(['SUCCEEDED', 'ROLLED_BACK', 'ROLLBACK_FAILED', 'ABORTED', 'BLOCKED', 'SUPERSEDED', 'FAILED']);

/**
 * Faults that make a region's health at check time a matter of timing, not of what it runs: a
 * flapping answer, a silent one, a crash some time after it was ready.
 */
function healthIsChancy(faults: FaultSpec[] | undefined, purpose: FaultSpec['on'], version: string | null): boolean {
  return (faults ?? []).some(
    (f) =>
      (f.on === purpose || f.on === 'always') &&
      (f.version === undefined || f.version === version) &&
      (f.kind === 'flapping' || f.kind === 'silent' || f.kind === 'crash-after-start'),
  );
}

/** Every broken promise found, one line each; empty when the release told the truth. */
export function violations(e: Evidence): string[] {
  const found: string[] = [];
  const seen = new Map(e.after.map((o) => [o.region, o]));
  if (e.lock) found.push(`the lock is still held by ${e.lock.releaseId} (${e.lock.owner})`);
  const record = e.record;
  if (!record) return [...found, 'the release is not in the ledger'];
  if (!TERMINAL.has(record.status)) found.push(`the release is left ${record.status}`);

  for (const o of e.after) {
    const said = e.where[o.region] ?? null;
    if (said !== o.link)
      found.push(`${o.region}: the ledger says ${said ?? 'nothing'}, current is ${o.link ?? 'none'}`);
    if (o.served !== null && o.served !== o.link) {
      found.push(`${o.region}: serves ${o.served} while current is ${o.link ?? 'none'}`);
    }
  }
  if (e.killed) return found;

  const status = record.status;
  const wantExit = status === 'SUCCEEDED' ? 0 : 1;
  if (e.exitCode !== wantExit) found.push(`${status} exited ${e.exitCode ?? 'without a code'}, not ${wantExit}`);
  if (!e.outcome) found.push('the release printed no outcome');
  else {
    if (e.outcome.status !== status) found.push(`it printed ${e.outcome.status}, the ledger says ${status}`);
    for (const r of e.outcome.regions) {
      const link = seen.get(r.region)?.link ?? null;
      if (r.version !== link)
        found.push(`${r.region}: the outcome says ${r.version ?? 'nothing'}, current is ${link ?? 'none'}`);
    }
  }

  const touched = new Set(touchedRegions(record));
  for (const region of touched) {
    const before = record.regions[region]?.before?.version ?? null;
    if (before !== (e.prev[region] ?? null)) {
      found.push(
        `${region}: recorded last-known-good ${before ?? 'nothing'}, but it ran ${e.prev[region] ?? 'nothing'}`,
      );
    }
  }
  /** Runs `version` as a healthy region does (nothing at all for null). */
  const runsHealthy = (o: Observed, version: string | null): boolean =>
    o.link === version &&
    (!e.serving || (version === null ? o.health === 'down' : o.health === 'ok' && o.served === version));

  if (status === 'SUCCEEDED') {
    for (const [region, entry] of Object.entries(record.regions)) {
      if (entry.phase === 'skipped') continue;
      const o = seen.get(region);
      if (!o) continue;
      if (o.link !== e.version) found.push(`SUCCEEDED but ${region}'s current is ${o.link ?? 'none'}`);
      else if (e.serving && o.served !== e.version && !healthIsChancy(e.faults[region], 'deploy', e.version)) {
        found.push(`SUCCEEDED but ${region} serves ${o.served ?? `nothing (${o.health})`}`);
      }
    }
    return found;
  }

  const named = new Set(
    Object.values(record.regions)
      .filter((r) => r.phase === 'rollback-failed')
      .map((r) => r.region),
  );
  if (status !== 'ROLLBACK_FAILED' && named.size > 0)
    found.push(`${status} with regions left rollback-failed: ${[...named].join(', ')}`);
  const putBack = new Set(regionsToPutBack(record));
  for (const o of e.after) {
    const prev = e.prev[o.region] ?? null;
    if (status === 'ROLLBACK_FAILED' && putBack.has(o.region)) {
      const good = runsHealthy(o, prev);
      // Without processes to ask, a named region cannot be told healthy: only the links are judged.
      const chancy = !e.serving || healthIsChancy(e.faults[o.region], 'rollback', prev);
      if (named.has(o.region) && good && !chancy) {
        found.push(`ROLLBACK_FAILED names ${o.region}, which runs ${prev ?? 'nothing'} as before, healthy`);
      }
      if (!named.has(o.region) && !good && !(chancy && o.link === prev)) {
        found.push(
          `ROLLBACK_FAILED does not name ${o.region}, which is on ${o.link ?? 'none'} serving ${o.served ?? o.health} (was ${prev ?? 'nothing'})`,
        );
      }
      if (named.has(o.region) && !record.reason?.includes(o.region)) {
        found.push(`ROLLBACK_FAILED's reason does not name ${o.region}`);
      }
      continue;
    }
    if (o.link !== prev) {
      found.push(`${status} but ${o.region}'s current is ${o.link ?? 'none'}, it was ${prev ?? 'nothing'}`);
      continue;
    }
    const rolledBack = record.regions[o.region]?.phase === 'rolled-back';
    if (e.serving && rolledBack && !runsHealthy(o, prev) && !healthIsChancy(e.faults[o.region], 'rollback', prev)) {
      found.push(`${o.region} rolled back to ${prev ?? 'nothing'} but serves ${o.served ?? 'nothing'} (${o.health})`);
    }
  }
  return found;
}
