/**
 * The Slack app manifest in docs/ is true to the code: its one scope covers every Web API method
 * the notifier calls, its Interactivity Request URL is the path serverless.yml serves the
 * slackInteractivity function on, and docs/slack.md names the settings the code reads.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFile(join(ROOT, path), 'utf8');

interface Manifest {
  oauth_config: { scopes: { bot: string[] } };
  settings: { interactivity: { is_enabled: boolean; request_url: string } };
}

/** The Web API methods each bot scope allows (https://api.slack.com/scopes). */
const METHODS_OF: Record<string, string[]> = { 'chat:write': ['chat.postMessage', 'chat.update', 'chat.delete'] };

describe('the Slack app manifest', () => {
  it('asks for the scopes the notifier needs, and no more', async () => {
    const manifest = parse(await read('docs/slack-app-manifest.yml')) as Manifest;
    const sources = await Promise.all(
      (await readdir(join(ROOT, 'adapters/slack')))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => read(`adapters/slack/${f}`)),
    );
    const called = new Set(sources.flatMap((s) => [...s.matchAll(/'(chat\.[a-zA-Z]+)'/g)].map((m) => m[1] as string)));
    expect(called.size).toBeGreaterThan(0);
    const allowed = manifest.oauth_config.scopes.bot.flatMap((scope) => METHODS_OF[scope] ?? []);
    for (const method of called) expect(allowed, method).toContain(method);
    for (const scope of manifest.oauth_config.scopes.bot) {
      expect(
        METHODS_OF[scope]?.some((m) => called.has(m)),
        `${scope} is used`,
      ).toBe(true);
    }
  });

  it('points interactivity at the path serverless.yml serves slackInteractivity on', async () => {
    const manifest = parse(await read('docs/slack-app-manifest.yml')) as Manifest;
    const serverless = parse(await read('serverless.yml')) as {
      functions: Record<string, { events?: { httpApi?: { method: string; path: string } }[] }>;
    };
    const http = serverless.functions.slackInteractivity?.events?.[0]?.httpApi;
    expect(http?.method).toBe('POST');
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(new URL(manifest.settings.interactivity.request_url).pathname).toBe(http?.path);
  });

  it('is what docs/slack.md tells a team to set up, with the names the code reads', async () => {
    const doc = await read('docs/slack.md');
    expect(doc).toContain('docs/slack-app-manifest.yml');
    for (const name of [
      'FLOTILLA_SLACK_BOT_TOKEN',
      'FLOTILLA_SLACK_CHANNEL',
      'FLOTILLA_SLACK_WEBHOOK_URL',
      'slackTokenParam',
      'slackChannel',
      'slackSigningSecretParam',
      'githubConfigJson',
      'teamId',
      'allow',
      '/slack/interactivity',
    ]) {
      expect(doc, name).toContain(name);
    }
    const settings = await read('adapters/slack/settings.ts');
    for (const env of doc.match(/FLOTILLA_SLACK_[A-Z_]+/g) ?? []) {
      const known = settings.includes(env) || (await read('serverless.yml')).includes(env);
      expect(known, `${env} is read by the code`).toBe(true);
    }
  });
});
