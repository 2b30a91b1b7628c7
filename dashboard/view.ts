/**
 * What the dashboard shows, as one plain object the page renders: the version × region matrix,
 * the release in flight (or the latest one) wave by wave, and the history with its audit trail.
 * Built by one pure function from the ledger's reads (the CLI's), the config's waves, the gate
 * verdicts the release emitted (when it runs in this process) and the latest health probes;
 * `now` is passed in. Where no gate event was seen (a release run by another process, or on AWS)
 * the ledger says what it can: waves passed, the failing gate's reason, an estimated bake end.
 */
import type { FlotillaConfig } from '../config/types.ts';
import type { Intent } from '../core/control.ts';
import type { Stamped } from '../core/events.ts';
import type { RegionPhase, RegionState, ReleaseHold, ReleaseRecord, ReleaseStatus } from '../core/model.ts';
import type { GateEvaluation } from '../core/types.ts';

export type ReleaseWithIntents = ReleaseRecord & { intents: Intent[] };

/** `changing`: a deploy or rollback is restarting it now. */
export type Health = 'healthy' | 'unhealthy' | 'unknown' | 'changing';

export interface RegionRow {
  region: string;
  wave: number;
  waveName: string;
  version: string | null;
  /** When the ledger last recorded what it runs. */
  since: string | null;
  /** The release that put it there. */
  releaseId: string | null;
  health: Health;
  healthDetail?: string;
}

export interface GateView {
  kind: GateEvaluation['kind'];
  signals: string[];
  /** ms since the epoch: when the bake ends (Baking only). */
  bakeUntil?: number;
  /** The bake's end read from the ledger's times, not from the gate itself. */
  estimated?: boolean;
  at: string;
  /** A release manager decided it (promote, abort). */
  decidedBy?: string;
  /** An adaptive bake that ended early: what the evidence was (core/bake.ts `evidenceIn`). */
  early?: string;
  /** The new hosts it gated on besides the regions, e.g. `new host (eu-west-1)` (core/new-host.ts). */
  newHosts?: string[];
}

export interface WaveView {
  index: number;
  name: string;
  bakeSeconds: number;
  state: 'done' | 'current' | 'waiting';
  regions: { region: string; phase: RegionPhase; message?: string; before: string | null }[];
  gate: GateView | null;
}

/** A release as the live view shows it: its history entry, plus its hold, waves and rollback. */
export interface ReleaseView extends HistoryEntry {
  hold: ReleaseHold | null;
  waves: WaveView[];
  rollback: { regions: string[]; reason: string } | null;
}

export interface HistoryEntry {
  releaseId: string;
  version: string;
  status: ReleaseStatus;
  reason?: string;
  rollbackOf?: string;
  startedAt: string;
  endedAt?: string;
  intents: Intent[];
}

export interface DashboardState {
  service: string;
  backend: 'local' | 'aws';
  /** The server's clock when this was built (ms): the page counts down against it. */
  now: number;
  frozen: Intent | null;
  /** Every version some region runs, newest first: the matrix's columns. */
  versions: string[];
  regions: RegionRow[];
  release: ReleaseView | null;
  history: HistoryEntry[];
  /** Service-wide intents (freeze, unfreeze), oldest first. */
  serviceIntents: Intent[];
}

/** What the release told this process as it ran: per release, each wave's latest gate and the rollback. */
export interface LiveLog {
  gates: Map<string, Map<number, GateView>>;
  rollbacks: Map<string, { regions: string[]; reason: string }>;
}

export const emptyLog = (): LiveLog => ({ gates: new Map(), rollbacks: new Map() });

/** Folds one release event into the log (mutates it; returns whether anything the page shows changed). */
export function recordEvent(log: LiveLog, event: Stamped): boolean {
  if (event.kind === 'gate') {
    const e = event.evaluation;
    const gates = log.gates.get(event.releaseId) ?? new Map<number, GateView>();
    log.gates.set(event.releaseId, gates);
    gates.set(event.wave, {
      kind: e.kind,
      signals: e.kind === 'Failed' || e.kind === 'Inconclusive' ? e.signals : [],
      ...(e.kind === 'Baking' ? { bakeUntil: Date.parse(event.at) + e.remainingMs } : {}),
      at: event.at,
      ...(event.control ? { decidedBy: `${event.control.kind.toLowerCase()} by ${event.control.actor}` } : {}),
      ...(e.kind === 'Passed' && e.early ? { early: e.early.text } : {}),
      ...(event.newHosts && event.newHosts.length > 0 ? { newHosts: [...event.newHosts] } : {}),
    });
    return true;
  }
  if (event.kind === 'rollback-started') {
    log.rollbacks.set(event.releaseId, { regions: event.regions, reason: event.reason });
    return true;
  }
  return event.kind !== 'wave-started';
}

export interface Probed {
  health: Health;
  detail?: string;
  at: number;
}

export interface ViewInput {
  config: FlotillaConfig;
  backend: 'local' | 'aws';
  now: number;
  regionStates: readonly RegionState[];
  /** Newest first. */
  releases: readonly ReleaseWithIntents[];
  serviceIntents: readonly Intent[];
  log: LiveLog;
  /** The latest probe of each region (`at`: when it was sent, ms), when one was made. */
  health: ReadonlyMap<string, Probed>;
}

const FINISHED_BAD: ReadonlySet<RegionPhase> = new Set(['failed', 'rollback-failed']);
const MOVING: ReadonlySet<RegionPhase> = new Set(['deploying', 'rolling-back']);

export function dashboardView(input: ViewInput): DashboardState {
  const { config } = input;
  const states = new Map(input.regionStates.map((s) => [s.region, s]));
  const waveOf = new Map<string, number>();
  config.waves.forEach((w, i) => {
    for (const r of w.regions) waveOf.set(r, i);
  });
  const latestPhase = (region: string) => {
    for (const r of input.releases) {
      const entry = r.regions[region];
      if (entry && entry.phase !== 'pending' && entry.phase !== 'skipped') return { ...entry, release: r };
    }
    return undefined;
  };
  const live =
    input.releases.find((r) => r.status === 'RUNNING') ??
    input.releases.find((r) => r.status === 'QUEUED') ??
    input.releases[0];
  const regions: RegionRow[] = config.regions.map((r) => {
    const state = states.get(r.name);
    const wave = waveOf.get(r.name) ?? 0;
    const last = latestPhase(r.name);
    const lastBad = last && FINISHED_BAD.has(last.phase);
    const moving = live?.status === 'RUNNING' && MOVING.has(live.regions[r.name]?.phase ?? 'pending');
    // A probe sent before the region last changed says nothing about what runs there now.
    const sent = input.health.get(r.name);
    const probed = sent && (!state || sent.at >= Date.parse(state.updatedAt)) ? sent : undefined;
    // Without a probe (no health URL: CodeDeploy behind alarms), what its last release found.
    const passed = last?.phase === 'deployed' && last.release.status === 'SUCCEEDED';
    const recorded: { health: Health; detail?: string } = lastBad
      ? { health: 'unhealthy', ...(last.message ? { detail: last.message } : {}) }
      : passed
        ? { health: 'healthy', detail: `passed the gates of ${last.release.releaseId} (not probed here)` }
        : { health: 'unknown' };
    const health: Health = moving ? 'changing' : (probed?.health ?? recorded.health);
    const detail = moving ? undefined : probed ? probed.detail : recorded.detail;
    return {
      region: r.name,
      wave,
      waveName: config.waves[wave]?.name ?? `wave-${wave + 1}`,
      version: state?.current?.version ?? null,
      since: state?.current ? state.updatedAt : null,
      releaseId: state?.releaseId ?? null,
      health,
      ...(detail ? { healthDetail: detail } : {}),
    };
  });
  const versions = [...new Set(regions.flatMap((r) => (r.version ? [r.version] : [])))].sort((a, b) => {
    const newest = (v: string) =>
      regions.filter((r) => r.version === v).reduce((m, r) => (r.since && r.since > m ? r.since : m), '');
    return newest(b).localeCompare(newest(a));
  });
  const frozen = freezeOfIntents(input.serviceIntents);
  return {
    service: config.service,
    backend: input.backend,
    now: input.now,
    frozen,
    versions,
    regions,
    release: live ? releaseView(live, input) : null,
    history: input.releases.map((r) => ({
      releaseId: r.releaseId,
      version: r.version,
      status: r.status,
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.rollbackOf ? { rollbackOf: r.rollbackOf } : {}),
      startedAt: r.startedAt,
      ...(r.endedAt ? { endedAt: r.endedAt } : {}),
      intents: r.intents,
    })),
    serviceIntents: [...input.serviceIntents],
  };
}

/** The freeze in force: the latest freeze with no unfreeze after it. */
function freezeOfIntents(intents: readonly Intent[]): Intent | null {
  let frozen: Intent | null = null;
  for (const i of intents) {
    if (i.verb === 'freeze') frozen = i;
    if (i.verb === 'unfreeze') frozen = null;
  }
  return frozen;
}

function releaseView(record: ReleaseWithIntents, input: ViewInput): ReleaseView {
  const { config } = input;
  const entries = Object.values(record.regions).sort((a, b) => a.wave - b.wave || a.region.localeCompare(b.region));
  const waveCount = Math.max(record.waveCount, ...entries.map((e) => e.wave + 1));
  const gates = input.log.gates.get(record.releaseId);
  const waves: WaveView[] = [];
  for (let index = 0; index < waveCount; index++) {
    const regions = entries
      .filter((e) => e.wave === index)
      .map((e) => ({
        region: e.region,
        phase: e.phase,
        ...(e.message ? { message: e.message } : {}),
        before: e.before?.version ?? null,
      }));
    const configured = config.waves[index];
    const sameRegions =
      configured &&
      configured.regions.length === regions.length &&
      regions.every((r) => configured.regions.includes(r.region));
    const bakeSeconds = configured?.bakeSeconds ?? config.gate.bakeSeconds;
    const state: WaveView['state'] =
      index < record.wave || (index === record.wave && record.status === 'SUCCEEDED')
        ? 'done'
        : index === record.wave
          ? 'current'
          : 'waiting';
    const gate = gates?.get(index) ?? ledgerGate(record, index, state, regions, bakeSeconds);
    waves.push({
      index,
      name: sameRegions ? configured.name : `wave-${index + 1}`,
      bakeSeconds,
      state,
      regions,
      gate,
    });
  }
  const rollingBack = entries.filter(
    (e) => e.phase === 'rolling-back' || e.phase === 'rolled-back' || e.phase === 'rollback-failed',
  );
  const rollback =
    input.log.rollbacks.get(record.releaseId) ??
    (rollingBack.length > 0
      ? { regions: rollingBack.map((e) => e.region), reason: record.reason ?? 'rolling back' }
      : null);
  return {
    releaseId: record.releaseId,
    version: record.version,
    status: record.status,
    ...(record.reason ? { reason: record.reason } : {}),
    ...(record.rollbackOf ? { rollbackOf: record.rollbackOf } : {}),
    startedAt: record.startedAt,
    ...(record.endedAt ? { endedAt: record.endedAt } : {}),
    hold: record.hold ?? null,
    waves,
    rollback,
    intents: record.intents,
  };
}

/**
 * A wave's gate as far as the ledger tells: passed once the release went past it (or succeeded),
 * failed with the release's reason when it ended rolled back there, baking (its end estimated from
 * when the last of its regions was recorded deployed) while it is the current wave.
 */
function ledgerGate(
  record: ReleaseRecord,
  index: number,
  state: WaveView['state'],
  regions: WaveView['regions'],
  bakeSeconds: number,
): GateView | null {
  const at = record.endedAt ?? record.startedAt;
  if (state === 'done') return { kind: 'Passed', signals: [], at };
  if (state !== 'current' || regions.length === 0) return null;
  if (record.status === 'ROLLED_BACK' || record.status === 'ROLLBACK_FAILED') {
    if (/gate|inconclusive/i.test(record.reason ?? '')) {
      return {
        kind: /inconclusive/i.test(record.reason ?? '') ? 'Inconclusive' : 'Failed',
        signals: [record.reason ?? ''],
        at,
      };
    }
    return null;
  }
  if (record.status !== 'RUNNING') return null;
  const deployed = regions.filter((r) => r.phase === 'deployed' || r.phase === 'skipped');
  if (deployed.length !== regions.length) return null;
  const times = Object.values(record.regions)
    .filter((r) => r.wave === index && r.phase === 'deployed')
    .map((r) => Date.parse(r.updatedAt));
  if (times.length === 0) return null;
  return { kind: 'Baking', signals: [], bakeUntil: Math.max(...times) + bakeSeconds * 1000, estimated: true, at };
}
