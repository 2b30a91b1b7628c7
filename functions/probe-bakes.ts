/**
 * ProbeBakes: the scheduled prober on AWS (every minute). Probes every region of every bake in
 * progress (and each wave's new host), health URLs and CloudWatch alarms alike, adds the samples the final check counts, and
 * fails a bake's wait as soon as its gate fails (services/bake-watch.ts). It is also the fallback
 * for an alarm event that never arrived. Locally the backend runs the same service in the background.
 */
import { probeBakes, type WatchOutcome } from '../services/bake-watch.ts';
import type { Deps } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { newHostProberFromEnv } from './runtime/new-hosts.ts';
import { callbacksFromEnv, eventsFromEnv, proberFromEnv } from './runtime/ports.ts';

export const createProbeBakes =
  (
    deps: Pick<Deps, 'ledger' | 'prober' | 'events' | 'now' | 'newHosts'> & {
      callbacks: NonNullable<Deps['callbacks']>;
    },
  ) =>
  async (): Promise<WatchOutcome[]> =>
    probeBakes(deps);

/** The Lambda entry point on AWS (an EventBridge schedule). */
export const handler = lambda(() => {
  const prober = proberFromEnv();
  return createProbeBakes({
    ledger: ledgerFromEnv(),
    prober,
    // A wave's one-off ECS task: is it up yet (DescribeTasks), then its health URL.
    newHosts: newHostProberFromEnv(prober),
    events: eventsFromEnv(),
    now: Date.now,
    callbacks: callbacksFromEnv(),
  });
});
