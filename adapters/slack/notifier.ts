/**
 * EventSink on Slack. Three modes, picked by the settings:
 *
 * - Bot token (`{ botToken, channel, apiUrl? }`): ONE top-level message per release, posted with
 *   chat.postMessage on the release's first event and edited with chat.update on every later one
 *   (the whole view re-rendered, core/slack-message.ts). Its channel and `ts` go to a MessageStore,
 *   so a notifier that starts later (a new Lambda container) edits the same message. Notable detail
 *   (a gate's failing signals, a blocked wave, what is rolled back, the rollback's results) is also
 *   posted once per event as a threaded reply under it.
 * - Incoming webhook (`{ webhookUrl }`): a webhook cannot edit, so each NOTABLE event (gate failed
 *   or inconclusive, wave blocked, rollback started, release finished) is posted once, the full
 *   view of the release with it, and never twice: deduped by (release, kind, wave) in memory.
 * - Neither: one plain line per event to the writer (the terminal), as cli/progress.ts prints.
 *
 * Slack asks for about one message a second per channel: each channel has a queue that sends at
 * most one request per `minIntervalMs`; pending edits of one message are coalesced into one (the
 * latest view wins); a 429 is retried after its Retry-After. Slack's `{ok:false}` answers, HTTP
 * errors and timeouts are logged once each (redacted) and swallowed: emit never rejects, and a
 * dead Slack never fails or slows a release. The bot token and the webhook URL (its path is the
 * secret) never appear in a log line or an error message.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ProgressWriter, plainLine } from '../../cli/progress.ts';
import { namedError } from '../../core/errors.ts';
import {
  escapeMrkdwn,
  foldEvent,
  notableHeadline,
  notableKey,
  type ReleaseLinks,
  type ReleaseView,
  releaseActions,
  renderReleaseMessage,
  renderThreadReply,
  type SlackMessage,
} from '../../core/slack-message.ts';
import type { EventSink, Stamped } from '../../ports/events.ts';

export interface SlackBotSettings {
  botToken: string;
  /** A channel id (C…) or name; chat.update needs the id, which chat.postMessage returns. */
  channel: string;
  /** Default https://slack.com/api. */
  apiUrl?: string;
}

export interface SlackWebhookSettings {
  webhookUrl: string;
}

export type SlackSettings = SlackBotSettings | SlackWebhookSettings;

/** Names of the errors thrown on purpose here (only while reading settings; emitting never throws). */
export const SlackSettingsInvalid = 'SlackSettingsInvalid';
export const SlackSettingsRefused = 'SlackSettingsRefused';

// ---------------------------------------------------------------------------------------------
// Where the release's message is

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

const keyOf = (release: ReleaseKey) => `${release.service}\u0000${release.releaseId}`;

// ---------------------------------------------------------------------------------------------
// Options

export interface SlackNotifierOptions {
  /** The terminal: one line per event when Slack is not configured, and the notifier's own log lines. */
  writer: ProgressWriter;
  /** Bot mode: where each release's message is kept. Default: in memory. */
  messages?: MessageStore;
  /** Links shown in the message (execution, commit). */
  links?: (view: ReleaseView) => ReleaseLinks;
  /**
   * The buttons that apply to the release (promote, pause, resume, abort, roll back: releaseActions).
   * Default true. They need the Slack app's Interactivity Request URL to point at a
   * slack-interactivity handler (the AWS stack deploys one); without it, turn them off.
   */
  buttons?: boolean;
  /** At most one request per channel per this many ms. Default 1000 (Slack: ~1 message/s per channel). */
  minIntervalMs?: number;
  /** A request with no answer within this many ms is given up (and logged). Default 10 s. */
  timeoutMs?: number;
  /** Tries of one request that Slack answers 429, before it is given up. Default 5. */
  maxAttempts?: number;
  /** A Retry-After longer than this is not waited for (the request is given up). Default 60 s. */
  maxRetryAfterMs?: number;
}

const DEFAULT_API_URL = 'https://slack.com/api';

/**
 * Web API errors that no retry will fix (bad token, missing channel or scope): after one of them
 * the notifier stops calling Slack, rather than failing the same way on every event.
 */
const FATAL_API_ERRORS: ReadonlySet<string> = new Set([
  'not_authed',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'restricted_action',
  'ekm_access_denied',
  'team_access_not_granted',
]);

/** Incoming webhooks answer these HTTP statuses for a removed webhook, channel or permission. */
const FATAL_WEBHOOK_STATUSES: ReadonlySet<number> = new Set([401, 403, 404, 410]);

/** How many releases are remembered (views, messages) before the oldest finished ones are forgotten. */
const MAX_RELEASES = 200;

// ---------------------------------------------------------------------------------------------
// The per-channel queue

type Outcome =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; error: string; fatal: boolean; retryAfterMs?: number };

interface Task {
  label: string;
  /** Tasks with the same key (edits of one message) are coalesced while they wait. */
  key: string | null;
  run: () => Promise<Outcome>;
  attempts: number;
  promise: Promise<Outcome>;
  resolve: (outcome: Outcome) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface QueueSettings {
  minIntervalMs: number;
  maxAttempts: number;
  maxRetryAfterMs: number;
  onRateLimited: (label: string, retryAfterMs: number) => void;
}

/** One Slack channel: requests go out one at a time, at most one per minIntervalMs, in order. */
class ChannelQueue {
  readonly #settings: QueueSettings;
  readonly #tasks: Task[] = [];
  readonly #waiting = new Map<string, Task>();
  #nextAt = 0;
  #running = false;

  constructor(settings: QueueSettings) {
    this.#settings = settings;
  }

  /**
   * Queues a request. With a `key`, a request with that key still waiting is reused instead (its
   * `run` builds the body when it is sent, so it sends the latest view): N edits become one.
   */
  enqueue(label: string, run: () => Promise<Outcome>, key: string | null = null): Promise<Outcome> {
    if (key !== null) {
      const waiting = this.#waiting.get(key);
      if (waiting) return waiting.promise;
    }
    let resolve: (outcome: Outcome) => void = () => {};
    const promise = new Promise<Outcome>((r) => {
      resolve = r;
    });
    const task: Task = { label, key, run, attempts: 0, promise, resolve };
    this.#tasks.push(task);
    if (key !== null) this.#waiting.set(key, task);
    this.#pump().catch(() => {
      // #pump catches what a request throws; nothing else in it can.
    });
    return promise;
  }

  async #pump(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (let task = this.#tasks.shift(); task !== undefined; task = this.#tasks.shift()) {
        // Back in the queue for the wait, so that edits arriving meanwhile still coalesce into it.
        const wait = this.#nextAt - Date.now();
        if (wait > 0) {
          this.#tasks.unshift(task);
          await sleep(wait);
          continue;
        }
        if (task.key !== null && this.#waiting.get(task.key) === task) this.#waiting.delete(task.key);
        let outcome: Outcome;
        try {
          outcome = await task.run();
        } catch (error) {
          // Building the request failed (a bug, a links function that threw): that request only.
          outcome = { ok: false, error: messageOf(error), fatal: false };
        }
        // Counted from the answer, not the start: then Slack sees them at least this far apart too.
        this.#nextAt = Date.now() + this.#settings.minIntervalMs;
        task.attempts += 1;
        if (!outcome.ok && outcome.retryAfterMs !== undefined) {
          this.#nextAt = Math.max(this.#nextAt, Date.now() + outcome.retryAfterMs);
          const newer = task.key === null ? undefined : this.#waiting.get(task.key);
          if (newer) {
            // A newer edit of the same message is waiting: it carries the latest view, this one is moot.
            newer.promise.then(task.resolve);
            continue;
          }
          if (task.attempts < this.#settings.maxAttempts && outcome.retryAfterMs <= this.#settings.maxRetryAfterMs) {
            this.#settings.onRateLimited(task.label, outcome.retryAfterMs);
            this.#tasks.unshift(task);
            if (task.key !== null) this.#waiting.set(task.key, task);
            continue;
          }
        }
        task.resolve(outcome);
      }
    } finally {
      this.#running = false;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The notifier

interface ReleaseState {
  key: ReleaseKey;
  view: ReleaseView | undefined;
  message: { channel: string; ts: string } | null;
  /** The store was read for this release (bot mode). */
  loaded: boolean;
  notified: Set<string>;
  /** The release's events are applied one after the other (the first one posts; the rest need its ts). */
  chain: Promise<void>;
}

export type SlackMode = 'bot' | 'webhook' | 'terminal';

export class SlackNotifier implements EventSink {
  readonly mode: SlackMode;
  readonly #bot: SlackBotSettings | null;
  readonly #webhookUrl: string | null;
  readonly #apiUrl: string;
  readonly #writer: ProgressWriter;
  readonly #store: MessageStore;
  readonly #links: (view: ReleaseView) => ReleaseLinks;
  readonly #buttons: boolean;
  readonly #minIntervalMs: number;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #maxRetryAfterMs: number;
  readonly #secrets: string[];
  readonly #queues = new Map<string, ChannelQueue>();
  readonly #releases = new Map<string, ReleaseState>();
  /** Webhook mode: notable events already posted. */
  readonly #posted = new Set<string>();
  readonly #logged = new Set<string>();
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Set after an error no retry fixes (bad token, no such channel): Slack is not called again. */
  #disabled: string | null = null;

  constructor(settings: SlackSettings | null | undefined, options: SlackNotifierOptions) {
    this.#writer = options.writer;
    this.#store = options.messages ?? new InMemoryMessageStore();
    this.#links = options.links ?? (() => ({}));
    this.#buttons = options.buttons ?? true;
    this.#minIntervalMs = options.minIntervalMs ?? 1000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.#bot = settings && 'botToken' in settings ? settings : null;
    this.#webhookUrl = settings && 'webhookUrl' in settings ? settings.webhookUrl : null;
    this.#apiUrl = (this.#bot?.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, '');
    this.mode = this.#bot ? 'bot' : this.#webhookUrl ? 'webhook' : 'terminal';
    this.#secrets = secretsOf(settings);
  }

  emit(event: Stamped): void | Promise<void> {
    try {
      if (this.mode === 'terminal') {
        this.#writer.write(`${plainLine(event)}\n`);
        return;
      }
      const work = this.mode === 'bot' ? this.#emitBot(event) : this.#emitWebhook(event);
      const settled = work.catch((error: unknown) => this.#log('emit', `could not notify Slack: ${messageOf(error)}`));
      this.#inFlight.add(settled);
      void settled.finally(() => this.#inFlight.delete(settled));
      return settled;
    } catch (error) {
      this.#log('emit', `could not notify Slack: ${messageOf(error)}`);
    }
  }

  /** Resolves when every request for the events emitted so far has been answered or given up. */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  // --- bot token mode ---

  async #emitBot(event: Stamped): Promise<void> {
    const state = this.#releaseState(event);
    const step = state.chain.then(() => this.#applyBot(state, event));
    state.chain = step.then(
      () => {},
      () => {},
    );
    const { pending } = await step;
    await Promise.all(pending);
  }

  /** Folds the event in; posts the message if there is none yet, else queues an edit; queues a reply if notable. */
  async #applyBot(state: ReleaseState, event: Stamped): Promise<{ pending: Promise<unknown>[] }> {
    const pending: Promise<unknown>[] = [];
    if (!state.loaded) {
      state.loaded = true;
      try {
        const stored = await this.#store.get(state.key);
        if (stored) this.#adopt(state, stored);
      } catch (error) {
        this.#log('store-get', `could not read the release's Slack message from the store: ${messageOf(error)}`);
      }
    }
    state.view = foldEvent(state.view, event);
    if (this.#disabled !== null) return { pending };

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

  #adopt(state: ReleaseState, stored: StoredMessage): void {
    state.message = { channel: stored.channel, ts: stored.ts };
    if (stored.view) state.view = stored.view;
    for (const key of stored.notified ?? []) state.notified.add(key);
  }

  async #persist(state: ReleaseState): Promise<StoredMessage | undefined> {
    if (state.message === null) return undefined;
    try {
      return await this.#store.put(state.key, {
        ...state.message,
        ...(state.view ? { view: state.view } : {}),
        notified: [...state.notified],
      });
    } catch (error) {
      this.#log('store-put', `could not record the release's Slack message in the store: ${messageOf(error)}`);
      return undefined;
    }
  }

  #render(state: ReleaseState): SlackMessage {
    return this.#renderView(state.view as ReleaseView);
  }

  #renderView(view: ReleaseView): SlackMessage {
    const actions = this.#buttons ? releaseActions(view) : undefined;
    return renderReleaseMessage(view, this.#links(view), actions ? { actions } : {});
  }

  async #postTopLevel(state: ReleaseState): Promise<{ channel: string; ts: string } | null> {
    const bot = this.#bot as SlackBotSettings;
    const outcome = await this.#queue(bot.channel).enqueue('chat.postMessage', () =>
      this.#api('chat.postMessage', { channel: bot.channel, unfurl_links: false, ...this.#render(state) }),
    );
    if (!outcome.ok) {
      this.#report('chat.postMessage', outcome);
      return null;
    }
    const ts = outcome.body.ts;
    const channel = typeof outcome.body.channel === 'string' ? outcome.body.channel : bot.channel;
    if (typeof ts !== 'string') {
      this.#log('chat.postMessage:no-ts', 'chat.postMessage answered ok without a ts: the message cannot be edited');
      return null;
    }
    // chat.update needs the channel id; the configured channel may be a name: both are one queue.
    if (!this.#queues.has(channel)) this.#queues.set(channel, this.#queue(bot.channel));
    return { channel, ts };
  }

  async #update(state: ReleaseState): Promise<void> {
    const message = state.message;
    if (message === null) return;
    const outcome = await this.#queue(message.channel).enqueue(
      'chat.update',
      () => this.#api('chat.update', { channel: message.channel, ts: message.ts, ...this.#render(state) }),
      `update:${message.channel}:${message.ts}`,
    );
    if (!outcome.ok) this.#report('chat.update', outcome);
  }

  async #reply(state: ReleaseState, reply: SlackMessage): Promise<void> {
    const message = state.message;
    if (message === null) return;
    const outcome = await this.#queue(message.channel).enqueue('chat.postMessage (reply)', () =>
      this.#api('chat.postMessage', { channel: message.channel, thread_ts: message.ts, unfurl_links: false, ...reply }),
    );
    if (!outcome.ok) this.#report('chat.postMessage (reply)', outcome);
  }

  async #deleteMessage(message: { channel: string; ts: string }): Promise<void> {
    const outcome = await this.#queue(message.channel).enqueue('chat.delete', () =>
      this.#api('chat.delete', { channel: message.channel, ts: message.ts }),
    );
    if (!outcome.ok) this.#report('chat.delete', outcome);
  }

  async #api(method: string, body: Record<string, unknown>): Promise<Outcome> {
    const bot = this.#bot as SlackBotSettings;
    const answer = await this.#http(`${this.#apiUrl}/${method}`, body, { authorization: `Bearer ${bot.botToken}` });
    if ('failure' in answer) return { ok: false, error: answer.failure, fatal: false };
    if (answer.status === 429)
      return { ok: false, error: 'ratelimited', fatal: false, retryAfterMs: answer.retryAfterMs };
    if (answer.status < 200 || answer.status >= 300) {
      return { ok: false, error: `HTTP ${answer.status}`, fatal: answer.status === 401 || answer.status === 403 };
    }
    let json: unknown;
    try {
      json = JSON.parse(answer.text);
    } catch {
      return { ok: false, error: `HTTP ${answer.status} with an answer that is not JSON`, fatal: false };
    }
    if (typeof json !== 'object' || json === null)
      return { ok: false, error: 'an answer that is not an object', fatal: false };
    const result = json as Record<string, unknown>;
    if (result.ok === true) return { ok: true, body: result };
    const error = typeof result.error === 'string' ? result.error : 'unknown_error';
    if (error === 'ratelimited') return { ok: false, error, fatal: false, retryAfterMs: answer.retryAfterMs };
    return { ok: false, error, fatal: FATAL_API_ERRORS.has(error) };
  }

  // --- incoming webhook mode ---

  async #emitWebhook(event: Stamped): Promise<void> {
    const state = this.#releaseState(event);
    state.view = foldEvent(state.view, event);
    const key = notableKey(event);
    // Checked and marked before anything is awaited: the same event emitted twice posts once.
    if (key === null || this.#posted.has(key)) return;
    this.#posted.add(key);
    if (this.#disabled !== null) return;
    const view = state.view;
    const rendered = this.#renderView(view);
    const headline = notableHeadline(view, event);
    // The notification says what happened now; the blocks show the whole release.
    const body = { text: headline ? escapeMrkdwn(headline) : rendered.text, blocks: rendered.blocks };
    const outcome = await this.#queue('webhook').enqueue('webhook', () => this.#postWebhook(body));
    if (!outcome.ok) this.#report('webhook', outcome);
  }

  async #postWebhook(body: Record<string, unknown>): Promise<Outcome> {
    const answer = await this.#http(this.#webhookUrl as string, body, {});
    if ('failure' in answer) return { ok: false, error: answer.failure, fatal: false };
    if (answer.status === 429)
      return { ok: false, error: 'ratelimited', fatal: false, retryAfterMs: answer.retryAfterMs };
    if (answer.status >= 200 && answer.status < 300) return { ok: true, body: {} };
    // Webhooks answer errors as a short plain-text code (invalid_payload, channel_not_found, no_service, …).
    const code = answer.text
      .trim()
      .slice(0, 80)
      .replace(/[^\w .:-]/g, '');
    return {
      ok: false,
      error: `HTTP ${answer.status}${code ? ` ${code}` : ''}`,
      fatal: FATAL_WEBHOOK_STATUSES.has(answer.status),
    };
  }

  // --- shared ---

  #releaseState(event: Stamped): ReleaseState {
    const id = keyOf(event);
    let state = this.#releases.get(id);
    if (!state) {
      state = {
        key: { service: event.service, releaseId: event.releaseId },
        view: undefined,
        message: null,
        loaded: false,
        notified: new Set(),
        chain: Promise.resolve(),
      };
      this.#releases.set(id, state);
      this.#forgetOldReleases();
    }
    return state;
  }

  /** A long-lived process (a warm Lambda container) forgets the oldest finished releases; the store remembers. */
  #forgetOldReleases(): void {
    if (this.#releases.size <= MAX_RELEASES) return;
    for (const [id, state] of this.#releases) {
      if (this.#releases.size <= MAX_RELEASES) break;
      if (state.view && state.view.status !== 'RUNNING') this.#releases.delete(id);
    }
  }

  #queue(channel: string): ChannelQueue {
    let queue = this.#queues.get(channel);
    if (!queue) {
      queue = new ChannelQueue({
        minIntervalMs: this.#minIntervalMs,
        maxAttempts: this.#maxAttempts,
        maxRetryAfterMs: this.#maxRetryAfterMs,
        onRateLimited: (label, ms) =>
          this.#log(`ratelimited:${label}`, `Slack rate-limited ${label}; retrying after ${Math.ceil(ms / 1000)} s`),
      });
      this.#queues.set(channel, queue);
    }
    return queue;
  }

  /** POST JSON with a timeout. Never throws: a failure comes back as text (not yet redacted). */
  async #http(
    url: string,
    body: Record<string, unknown>,
    headers: Record<string, string>,
  ): Promise<{ status: number; text: string; retryAfterMs: number } | { failure: string }> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
        redirect: 'error',
      });
      const text = await response.text();
      return { status: response.status, text, retryAfterMs: retryAfterMs(response.headers.get('retry-after')) };
    } catch (error) {
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
        return { failure: `no answer within ${this.#timeoutMs} ms` };
      }
      return { failure: messageOf(error) };
    }
  }

  #report(method: string, outcome: Outcome): void {
    if (outcome.ok) return;
    if (outcome.fatal && this.#disabled === null) this.#disabled = outcome.error;
    const off = outcome.fatal ? ' (no retry can fix this: Slack notifications are off until restarted)' : '';
    this.#log(`${method}:${outcome.error}`, `${method} failed: ${outcome.error}${off}`);
  }

  /** Writes a log line, once per `key`, with every secret taken out. */
  #log(key: string, text: string): void {
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    try {
      this.#writer.write(`flotilla: slack: ${redact(text, this.#secrets)}\n`);
    } catch {
      // A broken log never fails a release either.
    }
  }
}

function retryAfterMs(header: string | null): number {
  if (header === null) return 1000;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : 1000;
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = cause && typeof cause === 'object' ? (cause.code ?? cause.message) : undefined;
  return typeof detail === 'string' && !error.message.includes(detail) ? `${error.message}: ${detail}` : error.message;
}

// ---------------------------------------------------------------------------------------------
// Secrets

/** The strings that must never be written: the token, the webhook URL and its path, in plain and encoded forms. */
function secretsOf(settings: SlackSettings | null | undefined): string[] {
  const secrets: string[] = [];
  if (settings && 'botToken' in settings) secrets.push(settings.botToken);
  if (settings && 'webhookUrl' in settings) {
    secrets.push(settings.webhookUrl);
    try {
      const url = new URL(settings.webhookUrl);
      secrets.push(url.pathname + url.search, url.pathname);
      for (const part of url.pathname.split('/')) if (part.length >= 8) secrets.push(part);
    } catch {
      // Not a URL: the whole string is already listed.
    }
  }
  const all = secrets.flatMap((s) => [s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1)]);
  // Longest first, so a URL goes as a whole before its path does; very short strings would blank out everything.
  return [...new Set(all)].filter((s) => s.length >= 8).sort((a, b) => b.length - a.length);
}

/** Takes every secret out of a text, and anything that looks like a Slack token or webhook path. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out
    .replace(/xox[a-z]-[A-Za-z0-9-]+/g, '[redacted]')
    .replace(/(hooks\.slack(?:-gov)?\.com\/)[^\s"'<>]+/g, '$1[redacted]');
}

// ---------------------------------------------------------------------------------------------
// Settings: environment, or <stateDir>/slack.json

/** Bot token and channel, or a webhook URL, from the environment; null when neither is set. */
export function slackSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): SlackSettings | null {
  const botToken = env.FLOTILLA_SLACK_BOT_TOKEN?.trim();
  const channel = env.FLOTILLA_SLACK_CHANNEL?.trim();
  const webhookUrl = env.FLOTILLA_SLACK_WEBHOOK_URL?.trim();
  const apiUrl = env.FLOTILLA_SLACK_API_URL?.trim();
  if (botToken) {
    if (!channel) {
      throw namedError(
        SlackSettingsInvalid,
        'FLOTILLA_SLACK_BOT_TOKEN is set but FLOTILLA_SLACK_CHANNEL is not: the bot needs a channel to post to',
      );
    }
    return checkSettings({ botToken, channel, ...(apiUrl ? { apiUrl } : {}) }, 'the environment');
  }
  if (webhookUrl) return checkSettings({ webhookUrl }, 'FLOTILLA_SLACK_WEBHOOK_URL');
  return null;
}

/**
 * The notifier for a process: Slack settings from the environment (FLOTILLA_SLACK_BOT_TOKEN and
 * FLOTILLA_SLACK_CHANNEL, or FLOTILLA_SLACK_WEBHOOK_URL), else `fallback` (e.g. what
 * slackSettingsFromStateDir read), else the terminal.
 */
export function slackNotifierFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  writer: ProgressWriter,
  fallback: SlackSettings | null = null,
  options: Omit<SlackNotifierOptions, 'writer'> = {},
): SlackNotifier {
  return new SlackNotifier(slackSettingsFromEnv(env) ?? fallback, { ...options, writer });
}

/**
 * `<stateDir>/slack.json`: `{"botToken": "...", "channel": "..."}` or `{"webhookUrl": "..."}`
 * (`apiUrl` optional with a bot token). Null when there is no such file. It holds a secret, so it
 * is refused unless only its owner can read it (mode 0600 or 0400).
 */
export async function slackSettingsFromStateDir(stateDir: string): Promise<SlackSettings | null> {
  const path = join(stateDir, 'slack.json');
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw namedError(SlackSettingsInvalid, `cannot read ${path}: ${(error as Error).message}`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw namedError(
      SlackSettingsRefused,
      `${path} holds a Slack secret but is mode ${octal}, readable by others: run \`chmod 600 ${path}\` (it must be 0600)`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    // Not the parser's message: it quotes the file, secret included.
    throw namedError(SlackSettingsInvalid, `${path} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw namedError(SlackSettingsInvalid, `${path} must be a JSON object`);
  }
  const record = parsed as Record<string, unknown>;
  const known = new Set(['botToken', 'channel', 'apiUrl', 'webhookUrl']);
  const unknown = Object.keys(record).filter((k) => !known.has(k));
  if (unknown.length > 0) throw namedError(SlackSettingsInvalid, `${path}: unknown key(s) ${unknown.join(', ')}`);
  const str = (key: string): string | undefined => {
    const value = record[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.trim() === '') {
      throw namedError(SlackSettingsInvalid, `${path}: ${key} must be a non-empty string`);
    }
    return value.trim();
  };
  const botToken = str('botToken');
  const channel = str('channel');
  const apiUrl = str('apiUrl');
  const webhookUrl = str('webhookUrl');
  if (botToken !== undefined && webhookUrl !== undefined) {
    throw namedError(SlackSettingsInvalid, `${path}: give either botToken and channel, or webhookUrl, not both`);
  }
  if (botToken !== undefined) {
    if (channel === undefined) throw namedError(SlackSettingsInvalid, `${path}: botToken needs a channel`);
    return checkSettings({ botToken, channel, ...(apiUrl ? { apiUrl } : {}) }, path);
  }
  if (webhookUrl !== undefined) {
    if (channel !== undefined || apiUrl !== undefined) {
      throw namedError(
        SlackSettingsInvalid,
        `${path}: a webhook posts to its own channel; channel and apiUrl go with botToken`,
      );
    }
    return checkSettings({ webhookUrl }, path);
  }
  throw namedError(SlackSettingsInvalid, `${path}: give botToken and channel, or webhookUrl`);
}

/** URLs must be http(s) (https unless on this machine); the message never quotes a secret. */
function checkSettings<S extends SlackSettings>(settings: S, where: string): S {
  const check = (value: string, what: string) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw namedError(SlackSettingsInvalid, `${where}: ${what} is not a URL`);
    }
    const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
      throw namedError(SlackSettingsInvalid, `${where}: ${what} must be an https URL`);
    }
  };
  if ('webhookUrl' in settings) check(settings.webhookUrl, 'the webhook URL');
  if ('botToken' in settings && settings.apiUrl !== undefined) check(settings.apiUrl, 'the API URL');
  return settings;
}
