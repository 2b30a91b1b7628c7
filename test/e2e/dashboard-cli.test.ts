/**
 * `flotilla dashboard` on the local backend, as a user runs it: with no server for the state dir it
 * serves the backend itself (as `up` does) and prints a login URL; a second `flotilla dashboard`
 * then asks that server for a new URL. Each URL logs in once. No browser needed.
 */
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Background, runCli, startCli } from '../helpers/cli.ts';
import { e2eConfig, tempDir } from '../helpers/local.ts';

const running: Background[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop();
  for (const c of cleanups.splice(0)) await c();
});

function get(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; cookie: string | undefined }>((ok, bad) => {
    const req = request(url, { headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => ok({ status: res.statusCode ?? 0, cookie: res.headers['set-cookie']?.[0] }));
    });
    req.on('error', bad);
    req.end();
  });
}

describe('flotilla dashboard', () => {
  it('serves the local backend when nothing does, and a second one prints a new URL of that server', async () => {
    const t = await tempDir('flotilla-dashboard-cli-');
    cleanups.push(t.cleanup);
    await writeFile(
      join(t.dir, 'flotilla.yml'),
      stringify(await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]])),
    );
    const served = startCli(['dashboard'], t.dir);
    running.push(served);
    await served.waitForOutput(/flotilla dashboard: http:\/\/127\.0\.0\.1:\d+\/login\?token=[0-9a-f]{64}/, 60_000);
    const first = /flotilla dashboard: (http\S+)/.exec(served.output().stdout)?.[1] ?? '';

    const again = await runCli(['dashboard'], t.dir);
    expect(again.code, again.stderr).toBe(0);
    const second = /flotilla dashboard: (http\S+)/.exec(again.stdout)?.[1] ?? '';
    expect(new URL(second).origin).toBe(new URL(first).origin);
    expect(second).not.toBe(first);

    for (const url of [first, second]) {
      const login = await get(url);
      expect(login.status).toBe(303);
      expect(login.cookie).toMatch(/; HttpOnly; SameSite=Strict/);
      expect((await get(url)).status).toBe(401);
      const cookie = (login.cookie ?? '').split(';')[0] ?? '';
      expect((await get(`${new URL(url).origin}/api/state`, { cookie })).status).toBe(200);
    }
    // The control API it serves is the one the CLI uses: a read goes through it.
    const where = await runCli(['where', '--json'], t.dir);
    expect(where.code, where.stderr).toBe(0);
  });
});
