/**
 * EventSink on SNS: publishes the notable events (core/notable.ts: a gate that failed or was
 * inconclusive, a blocked wave, a rollback starting, a release ending) to one topic, for the
 * notifier and for anyone subscribed. Progress events (wave started, region deploying, gate baking
 * or passed) are not published.
 *
 * Message: the stamped event as JSON. MessageAttributes (for subscription filter policies): kind,
 * service, releaseId, and status on release-finished. Subject: short and human, e.g.
 * `shop 1.1.0: ROLLED_BACK` (SNS requires it under 100 characters, no line breaks).
 *
 * Emitting never fails a release: a failed Publish is reported to `onError` and swallowed.
 */
import { type MessageAttributeValue, PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { isNotable } from '../../core/notable.ts';
import type { EventSink, Stamped } from '../../ports/events.ts';

/** SNS: "Subjects must be ... less than 100 characters long". */
export const MAX_SUBJECT_CHARS = 99;

export interface SnsEventSinkOptions {
  client: SNSClient;
  topicArn: string;
  /** Told about a failed Publish; defaults to a console warning. */
  onError?: (error: unknown, event: Stamped) => void;
}

export class SnsEventSink implements EventSink {
  readonly #client: SNSClient;
  readonly #topicArn: string;
  readonly #onError: (error: unknown, event: Stamped) => void;

  constructor(options: SnsEventSinkOptions) {
    this.#client = options.client;
    this.#topicArn = options.topicArn;
    this.#onError =
      options.onError ??
      ((error, event) =>
        console.warn(
          `flotilla: could not publish ${event.kind} to SNS: ${error instanceof Error ? error.message : error}`,
        ));
  }

  async emit(event: Stamped): Promise<void> {
    const subject = subjectOf(event);
    if (subject === null) return;
    try {
      await this.#client.send(
        new PublishCommand({
          TopicArn: this.#topicArn,
          Subject: subject,
          Message: JSON.stringify(event),
          MessageAttributes: attributesOf(event),
        }),
      );
    } catch (error) {
      this.#onError(error, event);
    }
  }
}

/** The Subject for a notable event, or null when the event is not published (not notable). */
export function subjectOf(event: Stamped): string | null {
  if (!isNotable(event)) return null;
  const who = `${event.service} ${event.releaseId}`;
  switch (event.kind) {
    case 'gate':
      return fitSubject(
        `${who}: wave ${event.wave + 1} gate ${event.evaluation.kind.toUpperCase()}${event.evaluation.kind === 'Passed' && event.evaluation.early ? ' early' : ''}`,
      );
    case 'wave-blocked':
      return fitSubject(`${who}: wave ${event.wave + 1} BLOCKED`);
    case 'wave-held':
      return fitSubject(`${who}: EMERGENCY release waits for a second approver`);
    case 'rollback-started':
      return fitSubject(`${who}: ROLLING BACK ${event.regions.length} region${event.regions.length === 1 ? '' : 's'}`);
    case 'release-finished':
      return fitSubject(`${event.service} ${event.outcome.version}: ${event.outcome.status}`);
    default:
      return null;
  }
}

function attributesOf(event: Stamped): Record<string, MessageAttributeValue> {
  const attributes: Record<string, MessageAttributeValue> = {};
  // SNS rejects empty attribute values, so an empty string is left out rather than sent.
  const put = (name: string, value: string) => {
    if (value !== '') attributes[name] = { DataType: 'String', StringValue: value };
  };
  put('kind', event.kind);
  put('service', event.service);
  put('releaseId', event.releaseId);
  if (event.kind === 'release-finished') put('status', event.outcome.status);
  return attributes;
}

/** One line of printable text, under SNS's subject limit (ASCII ellipsis: older SNS docs ask for ASCII). */
function fitSubject(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length <= MAX_SUBJECT_CHARS ? flat : `${flat.slice(0, MAX_SUBJECT_CHARS - 3)}...`;
}
