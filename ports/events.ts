/**
 * Port: release events, as they happen. The CLI renders them as live progress locally;
 * on AWS the notable ones go to SNS for the notifier. Emitting must never fail a release.
 */
import type { ControlAction, GateEvaluation, ReleaseOutcome } from '../core/types.ts';

export type RegionProgress =
  | 'deploying'
  | 'deployed'
  | 'deploy-failed'
  | 'rolling-back'
  | 'rolled-back'
  | 'rollback-failed';

export type ReleaseEvent =
  | { kind: 'release-started'; version: string; waves: { name: string; regions: string[] }[] }
  | { kind: 'wave-started'; wave: number; name: string; regions: string[] }
  | { kind: 'wave-blocked'; wave: number; signals: string[] }
  /** The wave waits: paused, frozen, outside a window, or for an approval. */
  | { kind: 'wave-held'; wave: number; reasons: string[] }
  | { kind: 'region'; wave: number; region: string; state: RegionProgress; version: string | null; message?: string }
  | { kind: 'gate'; wave: number; regions: string[]; evaluation: GateEvaluation; control?: ControlAction }
  | { kind: 'rollback-started'; regions: string[]; reason: string }
  | { kind: 'release-finished'; outcome: ReleaseOutcome };

export type Stamped = ReleaseEvent & { service: string; releaseId: string; at: string };

export interface EventSink {
  /** May be async (SNS); callers await it, and a failure never fails the release. */
  emit(event: Stamped): void | Promise<void>;
}
