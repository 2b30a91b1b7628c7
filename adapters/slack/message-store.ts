/**
 * Where each release's one Slack message is (bot mode): its channel and `ts`, the view it shows and
 * the replies already threaded under it, so a notifier that starts later (a new Lambda container)
 * edits the same message. InMemoryMessageStore here; DynamoMessageStore keeps them in the ledger table.
 */
import type { ReleaseView } from './view.ts';

export interface ReleaseKey {
  service: string;
  releaseId: string;
}

/** The release's one top-level message, and what the notifier needs to go on editing it. */
export interface StoredMessage {
  /** The channel id chat.postMessage answered with. */
  channel: string;
  ts: string;
  /** The view the message shows: a notifier that starts later folds the next event into it. */
  view?: ReleaseView;
  /** notableKey()s already posted as threaded replies. */
  notified?: string[];
}

/**
 * Where each release's message is kept. `put` records it; the first message recorded for a
 * release wins: if another one (a different `ts`) is already there, `put` leaves it and returns
 * it, so two notifiers that raced to post the first message agree on one (the loser deletes its own).
 * Puts with the same `ts` replace the record (a newer view).
 */
export interface MessageStore {
  get(release: ReleaseKey): Promise<StoredMessage | undefined>;
  put(release: ReleaseKey, message: StoredMessage): Promise<StoredMessage>;
}

/** For one process (the local backend, tests). DynamoMessageStore keeps them across Lambda invocations. */
export class InMemoryMessageStore implements MessageStore {
  readonly #messages = new Map<string, StoredMessage>();

  async get(release: ReleaseKey): Promise<StoredMessage | undefined> {
    const stored = this.#messages.get(keyOf(release));
    return stored === undefined ? undefined : structuredClone(stored);
  }

  async put(release: ReleaseKey, message: StoredMessage): Promise<StoredMessage> {
    const key = keyOf(release);
    const existing = this.#messages.get(key);
    if (existing !== undefined && existing.ts !== message.ts) return structuredClone(existing);
    this.#messages.set(key, structuredClone(message));
    return structuredClone(message);
  }
}

export const keyOf = (release: ReleaseKey) => `${release.service}\u0000${release.releaseId}`;
