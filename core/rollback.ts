/**
 * The rollback decision: which regions go back, and to what. Pure.
 * Every region this release touched goes back, earlier waves included, each to the revision it
 * ran before the release (its last-known-good). Re-running it gives the same plan: idempotent.
 */
import type { ReleaseRecord } from './model.ts';
import type { RegionTask, ReleasePlan, RollbackCause, RollbackPlan } from './types.ts';

/** A region counts as touched once it was marked for deploying, whatever came of it; skipped ones never are. */
export function touchedRegions(record: ReleaseRecord): string[] {
  return Object.values(record.regions)
    .filter((r) => r.phase !== 'pending' && r.phase !== 'skipped')
    .sort((a, b) => a.wave - b.wave || a.region.localeCompare(b.region))
    .map((r) => r.region);
}

export function planRollback(plan: ReleasePlan, record: ReleaseRecord, cause: RollbackCause): RollbackPlan {
  const tasks = new Map<string, RegionTask>();
  for (const wave of plan.waves) for (const task of wave.regions) tasks.set(task.region, task);
  const steps: RegionTask[] = [];
  for (const region of touchedRegions(record)) {
    const task = tasks.get(region);
    const entry = record.regions[region];
    if (!task || !entry) continue;
    steps.push({ ...task, action: 'rollback', revision: entry.before });
  }
  return { cause, steps };
}

export function describeCause(cause: RollbackCause): string {
  const wave = `wave ${cause.wave + 1}`;
  switch (cause.kind) {
    case 'Aborted':
      return `aborted in ${wave} by ${cause.actor}: ${cause.reason}`;
    case 'Requested':
      return `rollback of ${cause.of} requested`;
    case 'GateFailed':
      return `gate failed in ${wave}: ${cause.signals.join('; ')}`;
    case 'GateInconclusive':
      return `gate inconclusive in ${wave} (missing data is never a pass): ${cause.signals.join('; ')}`;
    case 'WaveBlocked':
      return `${wave} blocked before deploying: ${cause.signals.join('; ')}`;
    case 'Error':
      return `error in ${wave}: ${cause.error}: ${cause.cause}`;
  }
}
