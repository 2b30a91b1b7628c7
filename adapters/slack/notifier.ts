/**
 * EventSink on Slack. Three modes (modes.ts), picked by the settings (settings.ts):
 *
 * - Bot token (`{ botToken, channel, apiUrl? }`): one message per release, edited in place, with a
 *   threaded reply for each notable event.
 * - Incoming webhook (`{ webhookUrl }`): each notable event posted once, with the release's view.
 * - Neither: one plain line per event to the writer (the terminal).
 *
 * The message is view.ts folded from the events, rendered by blocks.ts with buttons.ts's buttons;
 * transport.ts sends it, about one message a second per channel. Emit never rejects, and a dead
 * Slack never fails or slows a release: whatever fails is logged once (redacted) and swallowed.
 */
import type { EventSink, Stamped } from '../../ports/events.ts';
import type { ProgressWriter } from '../../ports/writer.ts';
import { type ReleaseLinks, renderReleaseMessage, type SlackMessage } from './blocks.ts';
import { releaseActions } from './buttons.ts';
import { InMemoryMessageStore, type MessageStore } from './message-store.ts';
import { BotMode, type Mode, type SlackMode, TerminalMode, WebhookMode } from './modes.ts';
import { type SlackSettings, slackSettingsFromEnv } from './settings.ts';
import { messageOf, SlackTransport, type TransportOptions } from './transport.ts';
import type { ReleaseView } from './view.ts';

export type { SlackMode };

export interface SlackNotifierOptions extends TransportOptions {
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
}

export class SlackNotifier implements EventSink {
  readonly mode: SlackMode;
  readonly #transport: SlackTransport;
  readonly #sink: Mode;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(settings: SlackSettings | null | undefined, options: SlackNotifierOptions) {
    this.#transport = new SlackTransport(settings, options);
    const links = options.links ?? (() => ({}));
    const buttons = options.buttons ?? true;
    const render = (view: ReleaseView): SlackMessage => {
      const actions = buttons ? releaseActions(view) : undefined;
      return renderReleaseMessage(view, links(view), actions ? { actions } : {});
    };
    if (settings && 'botToken' in settings) {
      this.mode = 'bot';
      const store = options.messages ?? new InMemoryMessageStore();
      this.#sink = new BotMode(settings, this.#transport, store, render);
    } else if (settings && 'webhookUrl' in settings && settings.webhookUrl) {
      this.mode = 'webhook';
      this.#sink = new WebhookMode(this.#transport, render);
    } else {
      this.mode = 'terminal';
      this.#sink = new TerminalMode(options.writer);
    }
  }

  emit(event: Stamped): void | Promise<void> {
    try {
      const work = this.#sink.emit(event);
      if (work === undefined) return;
      const settled = work.catch((error: unknown) =>
        this.#transport.log('emit', `could not notify Slack: ${messageOf(error)}`),
      );
      this.#inFlight.add(settled);
      void settled.finally(() => this.#inFlight.delete(settled));
      return settled;
    } catch (error) {
      this.#transport.log('emit', `could not notify Slack: ${messageOf(error)}`);
    }
  }

  /** Resolves when every request for the events emitted so far has been answered or given up. */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }
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
