/**
 * ExecutionEnded: EventBridge's "Step Functions Execution Status Change" for a release execution
 * that ended FAILED, TIMED_OUT or ABORTED (the rule in serverless.yml matches only those, only of
 * the release state machine). A States.Runtime, States.DataLimitExceeded, the history limit, an
 * operator's StopExecution or a timeout ends it without FinishRelease: services/recovery.ts closes
 * the record, frees the lock, stops a new host it left mid-gate, wakes the next queued release and
 * alerts. A release that ended through
 * its own Fail states (rolled back, say) also ends FAILED: the recovery sees it closed and only
 * makes sure the lock is free.
 */

import { namedError } from '../core/errors.ts';
import type { AbnormalEnd } from '../core/recovery.ts';
import { type Recovered, recoverRelease } from '../services/recovery.ts';
import type { Deps } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { newHostSweeperFromEnv } from './runtime/new-hosts.ts';
import { callbacksFromEnv, eventsFromEnv } from './runtime/ports.ts';

export interface ExecutionStatusChangeEvent {
  'detail-type'?: string;
  detail?: { name?: string; status?: string; input?: string | null; error?: string | null; cause?: string | null };
}

const ABNORMAL: ReadonlySet<string> = new Set(['FAILED', 'TIMED_OUT', 'ABORTED']);

/** The release (its execution is named after it), its service (from its input) and how it ended. */
export function parseExecutionEnd(
  event: ExecutionStatusChangeEvent,
): (AbnormalEnd & { service: string; releaseId: string }) | undefined {
  const detail = event.detail;
  if (event['detail-type'] !== 'Step Functions Execution Status Change' || !detail?.name || !detail.status) {
    throw namedError('InvalidEvent', 'not a Step Functions Execution Status Change event with a name and status');
  }
  if (!ABNORMAL.has(detail.status)) return undefined;
  let service: unknown;
  try {
    service = (JSON.parse(detail.input ?? '') as { config?: { service?: unknown } }).config?.service;
  } catch {
    service = undefined;
  }
  if (typeof service !== 'string' || service === '') {
    throw namedError('InvalidEvent', `execution ${detail.name}: its input names no service (config.service)`);
  }
  return {
    service,
    releaseId: detail.name,
    status: detail.status as AbnormalEnd['status'],
    ...(detail.error ? { error: detail.error } : {}),
    ...(detail.cause ? { cause: detail.cause } : {}),
  };
}

export const createExecutionEnded =
  (deps: Pick<Deps, 'ledger' | 'events' | 'now' | 'newHosts'> & { callbacks: NonNullable<Deps['callbacks']> }) =>
  async (event: ExecutionStatusChangeEvent): Promise<Recovered | { ignored: string }> => {
    const end = parseExecutionEnd(event);
    if (!end) return { ignored: `status ${event.detail?.status}` };
    return recoverRelease(deps, end);
  };

/** The Lambda entry point on AWS (an EventBridge rule on the release state machine's status changes). */
export const handler = lambda(() =>
  createExecutionEnded({
    ledger: ledgerFromEnv(),
    // A one-off ECS task the dead execution left mid-gate.
    newHosts: newHostSweeperFromEnv(),
    events: eventsFromEnv(),
    now: Date.now,
    callbacks: callbacksFromEnv(),
  }),
);
