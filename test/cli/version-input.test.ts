/**
 * A bad version is refused at the edge (exit 2, the rule named) before a config is read, a lock
 * taken or a region touched: from `--version`, from a build's package.json, with `flotilla up`
 * serving the regions and without it.
 */
import { existsSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Background, runCli, startCli } from '../helpers/cli.ts';
import { asLocal } from '../helpers/fixtures.ts';
import { e2eConfig, GOOD_BUILD, servedVersion, tempDir } from '../helpers/local.ts';

const running: Background[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop();
  for (const c of cleanups.splice(0)) await c();
});

const BAD = ['../x', 'a b', '$(touch pwned)', 'a\nb', 'x'.repeat(300), '', '-rc1', '.hidden', 'a/b'];
const RULE = /1-64 characters of \[A-Za-z0-9\]\[A-Za-z0-9\._\+-\]\*/;

async function workspace() {
  const t = await tempDir('flotilla-version-');
  cleanups.push(t.cleanup);
  const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
  await writeFile(join(t.dir, 'flotilla.yml'), stringify(config));
  return { dir: t.dir, port: asLocal(config.regions[0]?.target).port };
}

describe('release --version', () => {
  it('refuses a bad version with exit 2 naming the rule, and opens no state dir', async () => {
    const { dir } = await workspace();
    for (const version of BAD) {
      const { code, stderr } = await runCli(['release', GOOD_BUILD, '--version', version], dir);
      expect(code, `${JSON.stringify(version)}: ${stderr}`).toBe(2);
      expect(stderr).toMatch(/--version/);
      expect(stderr).toMatch(RULE);
      expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    // Nothing was opened, so nothing was locked or recorded.
    expect(existsSync(join(dir, '.flotilla'))).toBe(false);
  });

  it('refuses a build whose package.json version breaks the rule, naming the file', async () => {
    const { dir } = await workspace();
    const build = join(dir, 'build');
    await cp(GOOD_BUILD, build, { recursive: true });
    const pkg = JSON.parse(await readFile(join(build, 'package.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(build, 'package.json'), JSON.stringify({ ...pkg, version: '../../etc' }));
    const { code, stderr } = await runCli(['release', build], dir);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain(join(build, 'package.json'));
    expect(stderr).toMatch(RULE);
    expect(existsSync(join(dir, '.flotilla'))).toBe(false);
  });

  it('leaves a serving region untouched while `flotilla up` runs: no restart, no release recorded', async () => {
    const { dir, port } = await workspace();
    const up = startCli(['up'], dir);
    running.push(up);
    await up.waitForOutput(/control API on/);
    const good = await runCli(['release', GOOD_BUILD, '--json'], dir);
    expect(good.code, good.stderr).toBe(0);
    expect(await servedVersion(port)).toBe('1.0.0');
    const log = join(dir, '.flotilla', 'regions', 'us-east-1', 'logs', '1.0.0.log');
    const before = await readFile(log, 'utf8');

    for (const version of ['../x', '', 'a b']) {
      const { code, stderr } = await runCli(['release', GOOD_BUILD, '--version', version], dir);
      expect(code, stderr).toBe(2);
      expect(stderr).toMatch(RULE);
    }
    // Straight to the control API too: a 400 naming the field, before the backend sees it.
    const control = JSON.parse(await readFile(join(dir, '.flotilla', 'control.json'), 'utf8')) as { port: number };
    const token = (await readFile(join(dir, '.flotilla', 'control-token'), 'utf8')).trim();
    const response = await fetch(`http://127.0.0.1:${control.port}/v1/releases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ artifact: GOOD_BUILD, version: '../x' }),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/version/);

    expect(await servedVersion(port)).toBe('1.0.0');
    // The serving process was never restarted (a restart appends its start-up line to the log).
    expect(await readFile(log, 'utf8')).toBe(before);
    const history = await runCli(['history', '--json'], dir);
    expect(history.code, history.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(history.stdout))).not.toContain('../x');
    expect(
      (JSON.parse(history.stdout) as { releases?: unknown[] }).releases ?? JSON.parse(history.stdout),
    ).toHaveLength(1);
  }, 60_000);
});
