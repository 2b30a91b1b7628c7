/**
 * Terminal states. Every release ends in one of them, and says region by region what runs there now.
 */
import type { RegionState, ReleaseRecord, ReleaseRegionPatch, ReleaseStatus, Revision } from './model.ts';
import { describeCause, touchedRegions } from './rollback.ts';
import type { RegionResult, ReleaseOutcome, RollbackCause } from './types.ts';

/**
 * A wave's (or a rollback's) results as one ledger write: each region's phase and message. The
 * parent writes them once per wave (StartBake, FinishRelease) rather than each child its own.
 */
export function resultPatches(results: readonly RegionResult[], updatedAt: string): ReleaseRegionPatch[] {
  return results.map((r) => ({
    region: r.region,
    phase: r.outcome,
    updatedAt,
    ...(r.message ? { message: r.message } : {}),
    ...(r.untouched ? { untouched: true } : {}),
  }));
}

export type Conclusion =
  | { kind: 'Succeeded' }
  | { kind: 'RolledBack'; cause: RollbackCause; results: readonly RegionResult[] };

/**
 * Decides the terminal status.
 * - SUCCEEDED: every wave passed its gate.
 * - ROLLED_BACK: something failed and every touched region is back on its last-known-good and healthy.
 * - ROLLBACK_FAILED: at least one region could not be put back; the reason names each one.
 * - ABORTED: a release manager aborted it, and every touched region is back (as ROLLED_BACK otherwise).
 * - BLOCKED: the first blocked wave came before anything was touched; nothing changed.
 * - FAILED: an error stopped the release before anything was touched; nothing changed.
 */
export function concludeRelease(
  record: ReleaseRecord,
  conclusion: Conclusion,
  currentVersions: Readonly<Record<string, string | null>>,
): ReleaseOutcome {
  const regions = Object.values(record.regions)
    .sort((a, b) => a.wave - b.wave || a.region.localeCompare(b.region))
    .map((r) => ({
      region: r.region,
      version: currentVersions[r.region] ?? null,
      phase: r.phase,
      ...(r.message ? { message: r.message } : {}),
    }));
  const base = { releaseId: record.releaseId, service: record.service, version: record.version, regions };
  if (conclusion.kind === 'Succeeded') {
    const skipped = regions.filter((r) => r.phase === 'skipped');
    const deployed = regions.length - skipped.length;
    const left =
      skipped.length > 0
        ? `; skipped ${skipped.map((r) => `${r.region} (stays on ${r.version ?? 'nothing'})`).join(', ')}`
        : '';
    return { ...base, status: 'SUCCEEDED', reason: `all ${deployed} regions run ${record.version}${left}` };
  }
  const { cause, results } = conclusion;
  const why = describeCause(cause);
  if (results.length === 0) {
    const status =
      cause.kind === 'WaveBlocked'
        ? 'BLOCKED'
        : cause.kind === 'Error'
          ? 'FAILED'
          : cause.kind === 'Aborted'
            ? 'ABORTED'
            : 'ROLLED_BACK';
    return { ...base, status, reason: `${why}; no region had been touched` };
  }
  const failed = results.filter((r) => r.outcome !== 'rolled-back');
  if (failed.length > 0) {
    const names = failed.map((r) => `${r.region} (${r.message ?? r.outcome})`).join(', ');
    return { ...base, status: 'ROLLBACK_FAILED', reason: `rollback failed in ${names}; after ${why}` };
  }
  const rolled = results.map((r) => r.region).join(', ');
  return {
    ...base,
    status: cause.kind === 'Aborted' ? 'ABORTED' : 'ROLLED_BACK',
    reason: `rolled back ${rolled} after ${why}`,
  };
}

/**
 * What the regions whose deployment succeeded now run, for the ledger: the new revision after a
 * deploy, the last-known-good after a rollback (`revisionOf` says which for each region).
 */
export function resultStates(
  results: readonly RegionResult[],
  revisionOf: (result: RegionResult) => Revision | null,
  context: { service: string; releaseId: string; updatedAt: string },
): RegionState[] {
  return results.filter((r) => r.changed).map((r) => ({ ...context, region: r.region, current: revisionOf(r) }));
}

/**
 * The region states a release's end writes: for each region it touched, what the deployer reads
 * back from the region itself, wherever that differs from what the ledger holds. A deployment
 * that failed half-way (a rollback whose restart missed the readiness timeout switched `current`
 * back, then stopped) leaves the region on a version no result reported; the ledger follows the
 * region, never the other way round. A region the deployer could not read (`undefined`) keeps its
 * recorded state.
 */
export function observedStates(
  recorded: ReadonlyMap<string, Revision | null>,
  observed: ReadonlyMap<string, Revision | null | undefined>,
  context: { service: string; releaseId: string; updatedAt: string },
): RegionState[] {
  const states: RegionState[] = [];
  for (const [region, current] of observed) {
    if (current === undefined) continue;
    const had = recorded.get(region) ?? null;
    if ((had?.version ?? null) === (current?.version ?? null)) continue;
    states.push({ ...context, region, current });
  }
  return states;
}

/**
 * `observedStates` for the regions one release touched, written in its name: where a release whose
 * end nobody recorded (an execution that died, a rollback asked for later) left the regions, as they
 * say it themselves. A region it never touched is not its to write.
 */
export function observedStatesOf(
  record: Pick<ReleaseRecord, 'service' | 'releaseId' | 'regions'>,
  recorded: ReadonlyMap<string, Revision | null>,
  observed: ReadonlyMap<string, Revision | null | undefined>,
  updatedAt: string,
): RegionState[] {
  const touched = new Set(touchedRegions(record));
  return observedStates(recorded, new Map([...observed].filter(([region]) => touched.has(region))), {
    service: record.service,
    releaseId: record.releaseId,
    updatedAt,
  });
}

/** A release as it stands in the ledger, as an outcome: its status and, region by region, what runs there. */
export function outcomeOfRecord(
  record: ReleaseRecord,
  currentVersions: ReadonlyMap<string, string | null>,
): ReleaseOutcome {
  return {
    releaseId: record.releaseId,
    service: record.service,
    version: record.version,
    status: record.status,
    reason: record.reason ?? '',
    regions: Object.values(record.regions)
      .sort((a, b) => a.wave - b.wave || a.region.localeCompare(b.region))
      .map((r) => ({
        region: r.region,
        version: currentVersions.get(r.region) ?? null,
        phase: r.phase,
        ...(r.message ? { message: r.message } : {}),
      })),
  };
}

/** Whether a release has ended: RUNNING and QUEUED are on their way (a queued one still runs later). */
export const isFinished = (status: ReleaseStatus): boolean => status !== 'RUNNING' && status !== 'QUEUED';

/** Next poll delay while a deployment runs: doubles from `first` up to `max`. */
export function nextPollSeconds(previous: number, first: number, max: number): number {
  if (previous < first) return first;
  return Math.min(max, previous * 2);
}
