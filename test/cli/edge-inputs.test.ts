/**
 * Inputs refused at the edge by the real CLI, before anything is opened or deployed: a state dir
 * that is a file, a region the local backend cannot run; and names and reasons from outside are
 * printed escaped, never as raw terminal sequences.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.ts';
import { e2eConfig, GOOD_BUILD, tempDir } from '../helpers/local.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for what must not be printed.
const RAW_ESCAPE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const STACK = /\n\s+at /;

async function workspace(edit: (config: Awaited<ReturnType<typeof e2eConfig>>) => void = () => {}) {
  const t = await tempDir('flotilla-edges-');
  cleanups.push(t.cleanup);
  const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }], [{ name: 'eu-west-1', currency: 'EUR' }]]);
  edit(config);
  await writeFile(join(t.dir, 'flotilla.yml'), stringify(config));
  return t.dir;
}

describe('--state-dir', () => {
  it.each([['status'], ['where'], ['release', GOOD_BUILD], ['freeze', '--reason', 'x']])(
    '%s: a file is a clear error, exit 2, no stack trace',
    async (...args) => {
      const dir = await workspace();
      const file = join(dir, 'not-a-dir');
      await writeFile(file, 'x');
      const { code, stderr } = await runCli([...args, '--state-dir', file], dir);
      expect(code, stderr).toBe(2);
      expect(stderr).toContain(`--state-dir ${file} is a file, not a directory`);
      expect(stderr).not.toMatch(STACK);
    },
  );

  it('a file on the way to it, or FLOTILLA_STATE_DIR naming a file, too', async () => {
    const dir = await workspace();
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    const below = await runCli(['status', '--state-dir', join(file, 'state')], dir);
    expect(below.code, below.stderr).toBe(2);
    expect(below.stderr).toContain(`is not a directory: ${file} is a file`);
    const env = await runCli(['status'], dir, { FLOTILLA_STATE_DIR: file });
    expect(env.code, env.stderr).toBe(2);
    expect(env.stderr).toContain(`FLOTILLA_STATE_DIR ${file} is a file, not a directory`);
  });
});

describe('a codedeploy region on the local backend', () => {
  it('is refused before anything deploys, naming --backend aws', async () => {
    const dir = await workspace((config) => {
      const region = config.regions[1];
      if (region)
        region.target = {
          kind: 'codedeploy',
          awsRegion: 'eu-west-1',
          application: 'shop',
          deploymentGroup: 'shop-eu',
          platform: 'Server',
          alarms: { names: [] },
        };
    });
    const { code, stderr } = await runCli(['release', GOOD_BUILD], dir);
    expect(code, stderr).toBe(2);
    expect(stderr).toMatch(/regions\[1\]\.target\.kind: .*--backend aws/);
    expect(stderr).toMatch(/nothing was deployed/);
    expect(existsSync(join(dir, '.flotilla'))).toBe(false);
  });
});

describe('names and reasons from outside', () => {
  it('are printed escaped: a wave name in plan, a freeze reason and actor in history', async () => {
    const dir = await workspace((config) => {
      const wave = config.waves[0];
      if (wave) wave.name = 'canary\u001b[2J\u001b]0;pwned\u0007';
    });
    const plan = await runCli(['plan'], dir);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).not.toMatch(RAW_ESCAPE);
    expect(plan.stdout).toContain('canary\\x1b[2J\\x1b]0;pwned\\x07');

    const freeze = await runCli(['freeze', '--reason', 'incident\u001b[2J', '--actor', 'eve\u009b31m'], dir);
    expect(freeze.code, freeze.stderr).toBe(0);
    expect(`${freeze.stdout}${freeze.stderr}`).not.toMatch(RAW_ESCAPE);
    const history = await runCli(['history'], dir);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).not.toMatch(RAW_ESCAPE);
    expect(history.stdout).toContain('incident\\x1b[2J');
    expect(history.stdout).toContain('eve\\x9b31m');
    const json = await runCli(['history', '--json'], dir);
    expect(json.stdout).not.toMatch(RAW_ESCAPE);
    // The same value for a program reading it, escaped in the text.
    expect(json.stdout).toContain('eve\\u009b31m');
    expect(JSON.parse(json.stdout)).toContainEqual(expect.objectContaining({ actor: 'eve\u009b31m' }));
  });
});

describe('release --emergency', () => {
  it('needs a reason, said before anything is read or started: exit 2', async () => {
    const dir = await workspace();
    const { code, stderr } = await runCli(['release', GOOD_BUILD, '--emergency'], dir);
    expect(code, stderr).toBe(2);
    expect(stderr).toMatch(/release --emergency needs --reason/);
    expect(existsSync(join(dir, '.flotilla'))).toBe(false);
  });
});
