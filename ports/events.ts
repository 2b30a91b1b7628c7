/**
 * Port: release events, as they happen. The CLI renders them as live progress locally;
 * on AWS the notable ones go to SNS for the notifier. Emitting must never fail a release.
 */
import type { RegionProgress, ReleaseEvent, Stamped } from '../core/events.ts';

export type { RegionProgress, ReleaseEvent, Stamped };

export interface EventSink {
  /** May be async (SNS); callers await it, and a failure never fails the release. */
  emit(event: Stamped): void | Promise<void>;
}
