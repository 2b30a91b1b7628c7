/**
 * `flotilla release` tells the team channel. Slack's Web API is a local HTTP server standing in
 * for slack.com here (no network): it records each call and answers like Slack does.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { BROKEN_BUILD, e2eConfig, tempDir } from '../helpers/local.ts';

const CLI = resolve(import.meta.dirname, '../../cli/flotilla.ts');
const TOKEN = 'xoxb-test-secret-token-0123456789';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function fakeSlack() {
  const calls: { method: string; body: Record<string, unknown>; auth: string | undefined }[] = [];
  const read = (req: IncomingMessage) =>
    new Promise<string>((ok) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => ok(body));
    });
  const server = createServer(async (req, res) => {
    const body = JSON.parse((await read(req)) || '{}') as Record<string, unknown>;
    const method = (req.url ?? '').split('/').pop() ?? '';
    calls.push({ method, body, auth: req.headers.authorization });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, channel: 'C123', ts: '1700000000.000100' }));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  cleanups.push(() => new Promise((ok) => server.close(() => ok())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, calls };
}

describe('flotilla release with Slack configured', () => {
  it('posts one message for the release, updates it to the rollback, and never prints the token', async () => {
    const slack = await fakeSlack();
    const t = await tempDir('flotilla-slack-');
    cleanups.push(t.cleanup);
    const config = await e2eConfig([[{ name: 'eu-central-1', currency: 'EUR' }]]);
    await writeFile(join(t.dir, 'flotilla.yml'), stringify(config));
    const child = spawn(process.execPath, [CLI, 'release', BROKEN_BUILD], {
      cwd: t.dir,
      env: {
        ...process.env,
        FLOTILLA_SLACK_BOT_TOKEN: TOKEN,
        FLOTILLA_SLACK_CHANNEL: 'C123',
        FLOTILLA_SLACK_API_URL: slack.url,
      },
    });
    let output = '';
    child.stdout.on('data', (c) => {
      output += c;
    });
    child.stderr.on('data', (c) => {
      output += c;
    });
    const code = await new Promise((ok) => child.on('close', ok));
    expect(code).toBe(1);
    const posts = slack.calls.filter((c) => c.method === 'chat.postMessage' && c.body.thread_ts === undefined);
    expect(posts).toHaveLength(1);
    const updates = slack.calls.filter((c) => c.method === 'chat.update');
    expect(updates.length).toBeGreaterThan(0);
    expect(JSON.stringify(updates.at(-1)?.body)).toContain('ROLLED_BACK');
    expect(slack.calls.every((c) => c.auth === `Bearer ${TOKEN}`)).toBe(true);
    expect(output).not.toContain(TOKEN);
  });
});
