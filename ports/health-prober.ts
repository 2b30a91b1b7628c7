/**
 * Port: samples a region's health. Locally: HTTP GETs against the region's process.
 * On AWS: the region's CloudWatch alarms (one sample per alarm: OK, ALARM, INSUFFICIENT_DATA = missing)
 * plus HTTP probes of its health URL when one is configured.
 */
import type { GateSettings, RegionTarget } from '../core/config.ts';
import type { ProbeSample } from '../core/model.ts';

export type { ProbeSample };

export interface ProbeRequest {
  region: string;
  target: RegionTarget;
  /** The version the region must report; a different one is an error sample. Null: any version. */
  expectedVersion: string | null;
  gate: GateSettings;
  /** How many probes to send (sequentially, ~probeSpacingMs apart). */
  count: number;
  /**
   * 'immediate' leaves out lagging signals (CloudWatch alarms, which take their evaluation
   * periods to clear): used right after a rollback, where a still-firing alarm says nothing yet.
   * Default 'all'.
   */
  signals?: 'all' | 'immediate';
}

export interface HealthProber {
  probe(request: ProbeRequest): Promise<ProbeSample[]>;
}
