/**
 * The notifier's three ways of telling a channel about a release (SlackNotifier picks one):
 *
 * - BotMode (a bot token): ONE top-level message per release, posted with chat.postMessage on the
 *   release's first event and edited with chat.update on every later one (the whole view
 *   re-rendered). Its channel and `ts` go to a MessageStore, so a notifier that starts later (a new
 *   Lambda container) edits the same message. Notable detail (core/notable.ts: a gate's failing
 *   signals, a blocked wave, what is rolled back, the rollback's results) is also posted once per
 *   event as a threaded reply under it.
 * - WebhookMode (an incoming webhook): a webhook cannot edit, so each notable event is posted once,
 *   the full view of the release with it, and never twice: deduped by notableKey in memory.
 * - TerminalMode (neither): one plain line per event (core/event-line.ts) to the writer.
 *
 * The HTTP, pacing, retries and redaction are transport.ts's; a failure there is already logged.
 */

import { plainLine } from '../../core/event-line.ts';
import type { Stamped } from '../../core/events.ts';
import { notableKey } from '../../core/notable.ts';
import type { ProgressWriter } from '../../ports/writer.ts';
import { notableHeadline, renderThreadReply, type SlackMessage } from './blocks.ts';
import { keyOf, type MessageStore, type ReleaseKey, type StoredMessage } from './message-store.ts';
import { escapeMrkdwn } from './mrkdwn.ts';
import type { SlackBotSettings } from './settings.ts';
import { messageOf, type SlackTransport } from './transport.ts';
import { foldEvent, type ReleaseView } from './view.ts';

export type SlackMode = 'bot' | 'webhook' | 'terminal';

export interface Mode {
  emit(event: Stamped): void | Promise<void>;
}

/** How many releases are remembered (views, messages) before the oldest finished ones are forgotten. */
const MAX_RELEASES = 200;

/** The releases a mode is following; a long-lived process (a warm Lambda container) forgets the oldest finished ones. */
class Releases<S extends { view: ReleaseView | undefined }> {
  readonly #states = new Map<string, S>();
  readonly #create: (key: ReleaseKey) => S;

  constructor(create: (key: ReleaseKey) => S) {
    this.#create = create;
  }

  of(event: Stamped): S {
    const id = keyOf(event);
    let state = this.#states.get(id);
    if (!state) {
      state = this.#create({ service: event.service, releaseId: event.releaseId });
      this.#states.set(id, state);
      this.#forgetOld();
    }
    return state;
  }

  #forgetOld(): void {
    if (this.#states.size <= MAX_RELEASES) return;
    for (const [id, state] of this.#states) {
      if (this.#states.size <= MAX_RELEASES) break;
      if (state.view && state.view.status !== 'RUNNING') this.#states.delete(id);
    }
  }
}

export class TerminalMode implements Mode {
  readonly #writer: ProgressWriter;

  constructor(writer: ProgressWriter) {
    this.#writer = writer;
  }

  emit(event: Stamped): void {
    this.#writer.write(`${plainLine(event)}\n`);
  }
}

export class WebhookMode implements Mode {
  readonly #transport: SlackTransport;
  readonly #render: (view: ReleaseView) => SlackMessage;
  readonly #releases = new Releases<{ view: ReleaseView | undefined }>(() => ({ view: undefined }));
  /** Notable events already posted. */
  readonly #posted = new Set<string>();

  constructor(transport: SlackTransport, render: (view: ReleaseView) => SlackMessage) {
    this.#transport = transport;
    this.#render = render;
  }

  async emit(event: Stamped): Promise<void> {
    const state = this.#releases.of(event);
    const view = foldEvent(state.view, event);
    state.view = view;
    const key = notableKey(event);
    // Checked and marked before anything is awaited: the same event emitted twice posts once.
    if (key === null || this.#posted.has(key)) return;
    this.#posted.add(key);
    if (this.#transport.disabled) return;
    const rendered = this.#render(view);
    const headline = notableHeadline(view, event);
    // The notification says what happened now; the blocks show the whole release.
    await this.#transport.webhook({ text: headline ? escapeMrkdwn(headline) : rendered.text, blocks: rendered.blocks });
  }
}

interface BotRelease {
  key: ReleaseKey;
  view: ReleaseView | undefined;
  message: { channel: string; ts: string } | null;
  /** The store was read for this release. */
  loaded: boolean;
  notified: Set<string>;
  /** The release's events are applied one after the other (the first one posts; the rest need its ts). */
  chain: Promise<void>;
}

export class BotMode implements Mode {
  readonly #bot: SlackBotSettings;
  readonly #transport: SlackTransport;
  readonly #store: MessageStore;
  readonly #render: (view: ReleaseView) => SlackMessage;
  readonly #releases = new Releases<BotRelease>((key) => ({
    key,
    view: undefined,
    message: null,
    loaded: false,
    notified: new Set(),
    chain: Promise.resolve(),
  }));

  constructor(
    bot: SlackBotSettings,
    transport: SlackTransport,
    store: MessageStore,
    render: (view: ReleaseView) => SlackMessage,
  ) {
    this.#bot = bot;
    this.#transport = transport;
    this.#store = store;
    this.#render = render;
  }

  async emit(event: Stamped): Promise<void> {
    const state = this.#releases.of(event);
    const step = state.chain.then(() => this.#apply(state, event));
    state.chain = step.then(
      () => {},
      () => {},
    );
    const { pending } = await step;
    await Promise.all(pending);
  }

  /** Folds the event in; posts the message if there is none yet, else queues an edit; queues a reply if notable. */
  async #apply(state: BotRelease, event: Stamped): Promise<{ pending: Promise<unknown>[] }> {
    const pending: Promise<unknown>[] = [];
    if (!state.loaded) {
      state.loaded = true;
      try {
        const stored = await this.#store.get(state.key);
        if (stored) this.#adopt(state, stored);
      } catch (error) {
        this.#transport.log(
          'store-get',
          `could not read the release's Slack message from the store: ${messageOf(error)}`,
        );
      }
    }
    state.view = foldEvent(state.view, event);
    if (this.#transport.disabled) return { pending };

    if (state.message === null) {
      const posted = await this.#postTopLevel(state);
      if (posted === null) return { pending }; // logged; the next event tries again, with the whole view
      state.message = posted;
      const stored = await this.#persist(state);
      if (stored && stored.ts !== posted.ts) {
        // Another notifier (a concurrent Lambda) posted this release's message first: its one stays.
        pending.push(this.#deleteMessage(posted));
        state.message = null;
        this.#adopt(state, stored);
        state.view = foldEvent(state.view, event);
        pending.push(this.#update(state));
      }
    } else {
      pending.push(this.#update(state));
    }

    const key = notableKey(event);
    if (key !== null && !state.notified.has(key)) {
      const reply = renderThreadReply(state.view, event);
      if (reply !== null) {
        state.notified.add(key);
        pending.push(this.#reply(state, reply));
      }
    }
    await this.#persist(state);
    return { pending };
  }

  #adopt(state: BotRelease, stored: StoredMessage): void {
    state.message = { channel: stored.channel, ts: stored.ts };
    if (stored.view) state.view = stored.view;
    for (const key of stored.notified ?? []) state.notified.add(key);
  }

  async #persist(state: BotRelease): Promise<StoredMessage | undefined> {
    if (state.message === null) return undefined;
    try {
      return await this.#store.put(state.key, {
        ...state.message,
        ...(state.view ? { view: state.view } : {}),
        notified: [...state.notified],
      });
    } catch (error) {
      this.#transport.log(
        'store-put',
        `could not record the release's Slack message in the store: ${messageOf(error)}`,
      );
      return undefined;
    }
  }

  async #postTopLevel(state: BotRelease): Promise<{ channel: string; ts: string } | null> {
    const channel = this.#bot.channel;
    const outcome = await this.#transport.api(channel, 'chat.postMessage', 'chat.postMessage', () => ({
      channel,
      unfurl_links: false,
      ...this.#render(state.view as ReleaseView),
    }));
    if (!outcome.ok) return null;
    const ts = outcome.body.ts;
    const id = typeof outcome.body.channel === 'string' ? outcome.body.channel : channel;
    if (typeof ts !== 'string') {
      this.#transport.log(
        'chat.postMessage:no-ts',
        'chat.postMessage answered ok without a ts: the message cannot be edited',
      );
      return null;
    }
    // chat.update needs the channel id; the configured channel may be a name: both are one queue.
    this.#transport.alias(id, channel);
    return { channel: id, ts };
  }

  async #update(state: BotRelease): Promise<void> {
    const message = state.message;
    if (message === null) return;
    await this.#transport.api(
      message.channel,
      'chat.update',
      'chat.update',
      () => ({ channel: message.channel, ts: message.ts, ...this.#render(state.view as ReleaseView) }),
      `update:${message.channel}:${message.ts}`,
    );
  }

  async #reply(state: BotRelease, reply: SlackMessage): Promise<void> {
    const message = state.message;
    if (message === null) return;
    await this.#transport.api(message.channel, 'chat.postMessage (reply)', 'chat.postMessage', () => ({
      channel: message.channel,
      thread_ts: message.ts,
      unfurl_links: false,
      ...reply,
    }));
  }

  async #deleteMessage(message: { channel: string; ts: string }): Promise<void> {
    await this.#transport.api(message.channel, 'chat.delete', 'chat.delete', () => ({
      channel: message.channel,
      ts: message.ts,
    }));
  }
}
