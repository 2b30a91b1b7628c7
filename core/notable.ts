/**
 * Which release events are notable: the ones a human should hear about. A gate that failed or was
 * inconclusive, a wave that asked for a new host and has none (its platform has none here: said
 * once per wave, never a silent no-op), an adaptive bake that ended early (its evidence, for the record), an emergency release waiting for its second approver, a blocked wave, a rollback starting, a release ending. The one rule for every
 * consumer: the SNS sink publishes exactly these (so the AWS notifier only ever sees these), the
 * Slack webhook mode posts each of them once, the bot mode threads a reply under the message for
 * them. Progress events (a wave starting, a region deploying, a gate baking or passing) are not.
 * Pure.
 */
import type { Stamped } from './events.ts';

export function isNotable(event: Stamped): boolean {
  switch (event.kind) {
    case 'gate':
      return (
        event.evaluation.kind === 'Failed' ||
        event.evaluation.kind === 'Inconclusive' ||
        // An adaptive bake that ended early: the audit of why the wave went on before its max.
        (event.evaluation.kind === 'Passed' && event.evaluation.early !== undefined) ||
        event.noNewHost !== undefined
      );
    case 'wave-held':
      // An emergency release waiting for its second approver: the people who may approve must hear of it.
      return event.emergency?.awaitingApprover === true;
    case 'wave-blocked':
    case 'rollback-started':
    case 'release-finished':
      return true;
    default:
      return false;
  }
}

/**
 * The dedupe key of a notable event (the same event delivered twice has the same key), or null
 * for an event that is not notable.
 */
export function notableKey(event: Stamped): string | null {
  if (!isNotable(event)) return null;
  switch (event.kind) {
    case 'gate':
      // A wave's missing new host is said once, however many of its gate events carry it.
      if (
        event.noNewHost !== undefined &&
        event.evaluation.kind !== 'Failed' &&
        event.evaluation.kind !== 'Inconclusive'
      )
        return `${event.releaseId}|no-new-host|${event.wave}`;
      return `${event.releaseId}|gate-${event.evaluation.kind}|${event.wave}`;
    case 'wave-blocked':
      return `${event.releaseId}|wave-blocked|${event.wave}`;
    case 'wave-held':
      return `${event.releaseId}|emergency-approval|${event.wave}`;
    default:
      return `${event.releaseId}|${event.kind}|`;
  }
}
