/**
 * Slack over HTTP: chat.* Web API calls with the bot token and posts to an incoming webhook.
 *
 * Slack asks for about one message a second per channel: each channel has a queue that sends at
 * most one request per `minIntervalMs`; pending edits of one message are coalesced into one (the
 * latest view wins); a rate-limited answer (`isRateLimited`: HTTP 429 or `ratelimited`) is retried
 * after its Retry-After. Slack's `{ok:false}` answers, HTTP errors and timeouts come back as an
 * Outcome, and are logged once each (redacted) by `report`; nothing here throws. After an error no
 * retry fixes (bad token, no such channel) Slack is not called again. The bot token and the webhook
 * URL (its path is the secret) never appear in a log line or an error message.
 */
import type { ProgressWriter } from '../../ports/writer.ts';
import type { SlackBotSettings, SlackSettings } from './settings.ts';

export interface TransportOptions {
  /** Where the log lines go. */
  writer: ProgressWriter;
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

/** Slack rate-limited the request: HTTP 429 (Web API and webhooks), or a Web API `{ok:false, error:"ratelimited"}`. */
export function isRateLimited(status: number, error?: string): boolean {
  return status === 429 || error === 'ratelimited';
}

export type Outcome =
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

interface HttpAnswer {
  status: number;
  text: string;
  retryAfterMs: number;
}

export class SlackTransport {
  readonly #bot: SlackBotSettings | null;
  readonly #webhookUrl: string | null;
  readonly #apiUrl: string;
  readonly #writer: ProgressWriter;
  readonly #minIntervalMs: number;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #maxRetryAfterMs: number;
  readonly #secrets: string[];
  readonly #queues = new Map<string, ChannelQueue>();
  readonly #logged = new Set<string>();
  /** Set after an error no retry fixes (bad token, no such channel): Slack is not called again. */
  #disabled: string | null = null;

  constructor(settings: SlackSettings | null | undefined, options: TransportOptions) {
    this.#writer = options.writer;
    this.#minIntervalMs = options.minIntervalMs ?? 1000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.#bot = settings && 'botToken' in settings ? settings : null;
    this.#webhookUrl = settings && 'webhookUrl' in settings ? settings.webhookUrl : null;
    this.#apiUrl = (this.#bot?.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, '');
    this.#secrets = secretsOf(settings);
  }

  /** An error no retry fixes has been seen: nothing more is sent. */
  get disabled(): boolean {
    return this.#disabled !== null;
  }

  /**
   * Queues a Web API call on `channel`'s queue. `body` is built when the request is sent (so a
   * coalesced edit sends the latest view); requests with the same `key` still waiting are one.
   * A failure is reported (logged once) and returned.
   */
  async api(
    channel: string,
    label: string,
    method: string,
    body: () => Record<string, unknown>,
    key: string | null = null,
  ): Promise<Outcome> {
    const outcome = await this.#queue(channel).enqueue(label, () => this.#callApi(method, body()), key);
    if (!outcome.ok) this.report(label, outcome);
    return outcome;
  }

  /** Posts to the incoming webhook (one queue: the webhook's channel). A failure is reported and returned. */
  async webhook(body: Record<string, unknown>): Promise<Outcome> {
    const outcome = await this.#queue('webhook').enqueue('webhook', () => this.#postWebhook(body));
    if (!outcome.ok) this.report('webhook', outcome);
    return outcome;
  }

  /** `id` (the channel id chat.postMessage answered with) shares `name`'s queue (the configured channel). */
  alias(id: string, name: string): void {
    if (!this.#queues.has(id)) this.#queues.set(id, this.#queue(name));
  }

  /** Logs a failed outcome once per method and error; one no retry fixes turns Slack off. */
  report(method: string, outcome: Outcome): void {
    if (outcome.ok) return;
    if (outcome.fatal && this.#disabled === null) this.#disabled = outcome.error;
    const off = outcome.fatal ? ' (no retry can fix this: Slack notifications are off until restarted)' : '';
    this.log(`${method}:${outcome.error}`, `${method} failed: ${outcome.error}${off}`);
  }

  /** Writes a log line, once per `key`, with every secret taken out. */
  log(key: string, text: string): void {
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    try {
      this.#writer.write(`flotilla: slack: ${redact(text, this.#secrets)}\n`);
    } catch {
      // A broken log never fails a release either.
    }
  }

  async #callApi(method: string, body: Record<string, unknown>): Promise<Outcome> {
    const bot = this.#bot;
    if (bot === null) return { ok: false, error: 'no bot token', fatal: true };
    const answer = await this.#http(`${this.#apiUrl}/${method}`, body, { authorization: `Bearer ${bot.botToken}` });
    if ('failure' in answer) return { ok: false, error: answer.failure, fatal: false };
    if (isRateLimited(answer.status)) return rateLimited(answer);
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
    if (isRateLimited(answer.status, error)) return rateLimited(answer);
    return { ok: false, error, fatal: FATAL_API_ERRORS.has(error) };
  }

  async #postWebhook(body: Record<string, unknown>): Promise<Outcome> {
    const url = this.#webhookUrl;
    if (url === null) return { ok: false, error: 'no webhook URL', fatal: true };
    const answer = await this.#http(url, body, {});
    if ('failure' in answer) return { ok: false, error: answer.failure, fatal: false };
    if (isRateLimited(answer.status)) return rateLimited(answer);
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

  #queue(channel: string): ChannelQueue {
    let queue = this.#queues.get(channel);
    if (!queue) {
      queue = new ChannelQueue({
        minIntervalMs: this.#minIntervalMs,
        maxAttempts: this.#maxAttempts,
        maxRetryAfterMs: this.#maxRetryAfterMs,
        onRateLimited: (label, ms) =>
          this.log(`ratelimited:${label}`, `Slack rate-limited ${label}; retrying after ${Math.ceil(ms / 1000)} s`),
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
  ): Promise<HttpAnswer | { failure: string }> {
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
}

const rateLimited = (answer: HttpAnswer): Outcome => ({
  ok: false,
  error: 'ratelimited',
  fatal: false,
  retryAfterMs: answer.retryAfterMs,
});

function retryAfterMs(header: string | null): number {
  if (header === null) return 1000;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : 1000;
}

export function messageOf(error: unknown): string {
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
