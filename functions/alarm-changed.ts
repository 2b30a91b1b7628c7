/**
 * AlarmChanged: EventBridge's "CloudWatch Alarm State Change" (forwarded from each target region
 * by the relay rule, infra/region-relay.yml) for an alarm that went to ALARM fails the bake wait of
 * every release whose deployed regions that alarm gates, at once (services/bake-watch.ts). The
 * release's final check then rolls back. Other states change nothing: recovery is the final check's
 * to judge.
 */
import { namedError } from '../core/errors.ts';
import { alarmChanged, type WatchOutcome } from '../services/bake-watch.ts';
import type { Deps } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { callbacksFromEnv, eventsFromEnv } from './runtime/ports.ts';

export interface AlarmStateChangeEvent {
  source?: string;
  'detail-type'?: string;
  region?: string;
  detail?: { alarmName?: string; state?: { value?: string; reason?: string } };
}

/** Reads what the handler needs from the event; anything else is a clear error, never a guess. */
export function parseAlarmEvent(event: AlarmStateChangeEvent): {
  alarmName: string;
  awsRegion: string;
  state: string;
  reason?: string;
} {
  const alarmName = event.detail?.alarmName;
  const state = event.detail?.state?.value;
  if (event['detail-type'] !== 'CloudWatch Alarm State Change' || !alarmName || !state || !event.region) {
    throw namedError('InvalidEvent', 'not a CloudWatch Alarm State Change event with an alarm name, state and region');
  }
  const reason = event.detail?.state?.reason;
  return { alarmName, awsRegion: event.region, state, ...(reason ? { reason } : {}) };
}

export const createAlarmChanged =
  (deps: Pick<Deps, 'ledger' | 'events' | 'now'> & { callbacks: NonNullable<Deps['callbacks']> }) =>
  async (event: AlarmStateChangeEvent): Promise<WatchOutcome[]> =>
    alarmChanged(deps, parseAlarmEvent(event));

/** The Lambda entry point on AWS (an EventBridge rule on the orchestrator's bus). */
export const handler = lambda(() =>
  createAlarmChanged({
    ledger: ledgerFromEnv(),
    events: eventsFromEnv(),
    now: Date.now,
    callbacks: callbacksFromEnv(),
  }),
);
