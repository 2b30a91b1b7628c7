/**
 * Release events, as they happen: the CLI renders them as live progress, the notifier as Slack
 * messages, the SNS sink forwards them. Plain data.
 */
import type { RegionPhase } from './model.ts';
import type { ControlAction, GateEvaluation, ReleaseOutcome } from './types.ts';

/** A region's progress in an event: its phase in the ledger (core/model.ts), once it is touched. One vocabulary. */
export type RegionProgress = Exclude<RegionPhase, 'pending' | 'skipped'>;

/** An emergency release (the break-glass lane) as its events say it: marked for review, whoever sees it. */
export interface EmergencyEvent {
  /** Who asked for it (its first approval). */
  requester: string;
  reason: string;
}

export type ReleaseEvent =
  | {
      kind: 'release-started';
      version: string;
      waves: { name: string; regions: string[] }[];
      emergency?: EmergencyEvent;
    }
  | { kind: 'wave-started'; wave: number; name: string; regions: string[] }
  | { kind: 'wave-blocked'; wave: number; signals: string[] }
  /** The wave waits: paused, frozen, outside a window, or for an approval. */
  | {
      kind: 'wave-held';
      wave: number;
      reasons: string[];
      /** An emergency release; `awaitingApprover`: it waits for its second, distinct approver now. */
      emergency?: EmergencyEvent & { awaitingApprover: boolean };
    }
  | { kind: 'region'; wave: number; region: string; state: RegionProgress; version: string | null; message?: string }
  | {
      kind: 'gate';
      wave: number;
      regions: string[];
      evaluation: GateEvaluation;
      control?: ControlAction;
      /** The new hosts the gate counted besides its regions (core/new-host.ts), e.g. `new host (eu-west-1)`. */
      newHosts?: string[];
      /** Why the wave has no new host although it asked for one (its platform has none on this backend). */
      noNewHost?: string;
    }
  | { kind: 'rollback-started'; regions: string[]; reason: string }
  | { kind: 'release-finished'; outcome: ReleaseOutcome };

export type Stamped = ReleaseEvent & { service: string; releaseId: string; at: string };
