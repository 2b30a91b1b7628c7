/**
 * What a region's process sees of the orchestrator's environment, end to end: `flotilla` run as a
 * real process with Flotilla's secrets and an arbitrary secret in its environment deploys, restarts
 * (at start-up of the next command) and rolls back a tiny service that reports its own
 * process.env keys, and none of those secrets ever reaches it; the allow-list and a passEnv name do.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.ts';
import { freePorts, tempDir } from '../helpers/local.ts';
import { startFakeSlack } from '../slack/fake-slack.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Answers /health with its version; at every start it appends its own process.env to ENV_REPORT. */
const SERVER = `
const http = require('node:http');
const fs = require('node:fs');
fs.appendFileSync(process.env.ENV_REPORT, JSON.stringify({ version: process.env.FLOTILLA_VERSION, env: process.env }) + '\\n');
http
  .createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 'ok', version: process.env.FLOTILLA_VERSION }));
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

const SECRETS = {
  FLOTILLA_GITHUB_SECRET: 'gh-secret-value',
  FLOTILLA_SLACK_BOT_TOKEN: 'xoxb-secret-value',
  FLOTILLA_SLACK_WEBHOOK_URL: 'https://hooks.slack.example/secret-value',
  SECRET_X: 'x-secret-value',
};

describe('a region process gets a clean environment', () => {
  it('never sees the orchestrator’s secrets on deploy, start-up or rollback; sees the allow-list and passEnv', async () => {
    const t = await tempDir('flotilla-env-');
    cleanups.push(t.cleanup);
    const build = join(t.dir, 'build');
    await mkdir(build);
    await writeFile(join(build, 'server.js'), SERVER);
    await writeFile(join(build, 'package.json'), JSON.stringify({ name: 'envsvc', version: '1.0.0' }));
    const report = join(t.dir, 'env-report.jsonl');
    const [port] = await freePorts(1);
    const config = {
      service: 'shop',
      regions: [
        {
          name: 'us-east-1',
          target: {
            kind: 'local-process',
            port,
            command: [process.execPath, 'server.js'],
            env: { ENV_REPORT: report, CURRENCY: 'USD' },
            passEnv: ['PASSED_ON'],
          },
        },
      ],
      waves: [{ regions: ['us-east-1'], bakeSeconds: 1 }],
      gate: { probes: 2, intervalSeconds: 1, minSamples: 1, probeTimeoutMs: 1000, bakeSeconds: 1 },
      deploy: { readinessTimeoutSeconds: 10, pollSeconds: 1, maxPollSeconds: 2 },
    };
    const configFile = join(t.dir, 'flotilla.yml');
    await writeFile(configFile, stringify(config));
    // The Slack token needs a channel; a stand-in Slack on 127.0.0.1 takes the messages.
    const slack = await startFakeSlack();
    cleanups.push(() => slack.close());
    const flotillaOwn = { FLOTILLA_SLACK_CHANNEL: 'C0FAKECHAN', FLOTILLA_SLACK_API_URL: slack.apiUrl };
    const flotilla = (...args: string[]) =>
      runCli([...args, '--config', configFile, '--state-dir', join(t.dir, 'state')], t.dir, {
        ...SECRETS,
        ...flotillaOwn,
        PASSED_ON: 'passed-value',
        NOT_NAMED: 'not-named-value',
      });

    const first = await flotilla('release', build, '--version', '1.0.0');
    expect(first.code, first.stderr + first.stdout).toBe(0);
    // Regions keep serving between commands; `down` makes the next command bring the region back up.
    expect((await flotilla('down')).code).toBe(0);
    const second = await flotilla('release', build, '--version', '2.0.0');
    expect(second.code, second.stderr + second.stdout).toBe(0);
    expect((await flotilla('down')).code).toBe(0);
    const back = await flotilla('rollback', 'shop-2.0.0', '--reason', 'env test');
    expect(back.code, back.stderr + back.stdout).toBe(0);
    // The orchestrator did hold and use the secrets: it posted to Slack with the bot token.
    expect(slack.requests.some((r) => r.authorization === `Bearer ${SECRETS.FLOTILLA_SLACK_BOT_TOKEN}`)).toBe(true);

    const starts = (await readFile(report, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { version: string; env: Record<string, string> });
    // The region's: deploy 1.0.0; start-up of 1.0.0, deploy 2.0.0; start-up of 2.0.0, rollback to 1.0.0.
    const own = starts.filter((s) => s.env.PORT === String(port));
    expect(own.map((s) => s.version)).toEqual(['1.0.0', '1.0.0', '2.0.0', '2.0.0', '1.0.0']);
    // Each release's new host (core/new-host.ts), on a port of its own, with the same clean environment.
    const fresh = starts.filter((s) => s.env.PORT !== String(port));
    expect(fresh.map((s) => s.version)).toEqual(['1.0.0', '2.0.0']);
    for (const { version, env } of starts) {
      for (const name of [...Object.keys(SECRETS), ...Object.keys(flotillaOwn), 'NOT_NAMED'])
        expect(env, name).not.toHaveProperty(name);
      const values = Object.values(env);
      for (const secret of Object.values(SECRETS)) expect(values).not.toContain(secret);
      expect(env).toMatchObject({
        PORT: expect.stringMatching(/^\d+$/),
        FLOTILLA_VERSION: version,
        FLOTILLA_REGION: 'us-east-1',
        FLOTILLA_SERVICE: 'shop',
        CURRENCY: 'USD',
        PASSED_ON: 'passed-value',
        PATH: process.env.PATH,
      });
    }
  }, 180_000);
});
