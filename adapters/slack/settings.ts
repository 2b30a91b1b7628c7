/**
 * Slack settings: a bot token and channel, or an incoming webhook URL, read from the environment
 * (FLOTILLA_SLACK_BOT_TOKEN + FLOTILLA_SLACK_CHANNEL, or FLOTILLA_SLACK_WEBHOOK_URL) or from
 * `<stateDir>/slack.json` (mode 0600: it holds a secret), and checked. No message ever quotes a secret.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { namedError } from '../../core/errors.ts';

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
