/** Hand-built event sequences of a release, as the local backend emits them. */
import type { ReleaseEvent, Stamped } from '../../ports/events.ts';

export const SIGNAL =
  'eu-central-1: 3/3 probes of /health failed (100% > 5% allowed); last: HTTP 500: TypeError: cannot format EUR <price>';
export const ALARM_SIGNAL =
  'eu-central-1: 2/2 probes of /health failed (100% > 5% allowed); last: alarm shop-eu-central-1-5xx is ALARM: Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0)';

/** Stamps events one second apart, from 10:00:00. */
export function stamper(service = 'shop', releaseId = 'shop-1.1.0') {
  let second = 0;
  return (event: ReleaseEvent): Stamped => {
    const at = new Date(Date.UTC(2026, 0, 1, 10, 0, second)).toISOString();
    second += 1;
    return { ...event, service, releaseId, at } as Stamped;
  };
}

/**
 * shop 1.1.0 in three waves (us-east-1 | eu-central-1, us-west-2 | ap-southeast-2): wave 2's gate
 * fails in eu-central-1, and waves 1 and 2 roll back to 1.0.0.
 */
export function rolledBackRelease(signal = SIGNAL, releaseId = 'shop-1.1.0'): Stamped[] {
  const s = stamper('shop', releaseId);
  const touched = ['us-east-1', 'eu-central-1', 'us-west-2'];
  const reason = `gate failed in wave 2: ${signal}`;
  return [
    s({
      kind: 'release-started',
      version: '1.1.0',
      waves: [
        { name: 'canary', regions: ['us-east-1'] },
        { name: 'europe-west', regions: ['eu-central-1', 'us-west-2'] },
        { name: 'rest', regions: ['ap-southeast-2'] },
      ],
    }),
    s({ kind: 'wave-started', wave: 0, name: 'canary', regions: ['us-east-1'] }),
    s({ kind: 'region', wave: 0, region: 'us-east-1', state: 'deploying', version: '1.1.0' }),
    s({ kind: 'region', wave: 0, region: 'us-east-1', state: 'deployed', version: '1.1.0' }),
    s({ kind: 'gate', wave: 0, regions: ['us-east-1'], evaluation: { kind: 'Baking', remainingMs: 1000 } }),
    s({ kind: 'gate', wave: 0, regions: ['us-east-1'], evaluation: { kind: 'Passed' } }),
    s({ kind: 'wave-started', wave: 1, name: 'europe-west', regions: ['eu-central-1', 'us-west-2'] }),
    s({ kind: 'region', wave: 1, region: 'eu-central-1', state: 'deploying', version: '1.1.0' }),
    s({ kind: 'region', wave: 1, region: 'us-west-2', state: 'deploying', version: '1.1.0' }),
    s({ kind: 'region', wave: 1, region: 'eu-central-1', state: 'deployed', version: '1.1.0' }),
    s({ kind: 'region', wave: 1, region: 'us-west-2', state: 'deployed', version: '1.1.0' }),
    s({ kind: 'gate', wave: 1, regions: touched, evaluation: { kind: 'Baking', remainingMs: 1000 } }),
    s({ kind: 'gate', wave: 1, regions: touched, evaluation: { kind: 'Failed', signals: [signal] } }),
    s({ kind: 'rollback-started', regions: touched, reason }),
    ...touched.map((region, i) =>
      s({ kind: 'region', wave: i === 0 ? 0 : 1, region, state: 'rolling-back', version: '1.0.0' }),
    ),
    ...touched.map((region, i) =>
      s({ kind: 'region', wave: i === 0 ? 0 : 1, region, state: 'rolled-back', version: '1.0.0' }),
    ),
    s({
      kind: 'release-finished',
      outcome: {
        releaseId,
        service: 'shop',
        version: '1.1.0',
        status: 'ROLLED_BACK',
        reason: `rolled back ${touched.join(', ')} after ${reason}`,
        regions: [
          ...touched.map((region) => ({ region, version: '1.0.0', phase: 'rolled-back' as const })),
          { region: 'ap-southeast-2', version: '1.0.0', phase: 'pending' as const },
        ],
      },
    }),
  ];
}

/** The events of rolledBackRelease that reach SNS on AWS (core/notable.ts isNotable; an independent list, so a test can check the rule). */
export function notableOnly(events: Stamped[]): Stamped[] {
  return events.filter(
    (e) =>
      (e.kind === 'gate' && (e.evaluation.kind === 'Failed' || e.evaluation.kind === 'Inconclusive')) ||
      e.kind === 'wave-blocked' ||
      e.kind === 'rollback-started' ||
      e.kind === 'release-finished',
  );
}
