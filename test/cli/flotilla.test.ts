/** The CLI as a user runs it: a real `node cli/flotilla.ts` process, real files, real regions. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { asLocal } from '../helpers/fixtures.ts';
import { e2eConfig, GOOD_BUILD, servedVersion, tempDir } from '../helpers/local.ts';

const CLI = resolve(import.meta.dirname, '../../cli/flotilla.ts');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function run(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('close', (code) => ok({ code: code ?? -1, stdout, stderr }));
  });
}

async function workspace() {
  const t = await tempDir('flotilla-cli-');
  cleanups.push(t.cleanup);
  return t.dir;
}

const FOUR_MISTAKES = `
service: shop
regions:
  - name: us-east-1
    target: { kind: local-process, port: 7201, command: [node, server.js] }
  - name: eu-west-1
    target: { kind: local-process, port: 7202, command: [node, server.js], colour: blue }
waves:
  - name: canary
    regions: [us-east-1]
    bakeSeconds: -5
  - name: main
    regions: [eu-west-1, us-east-1]
  - name: empty
    regions: []
`;

describe('flotilla validate', () => {
  it('lists every mistake on its own line with its path, and exits non-zero', async () => {
    const dir = await workspace();
    await writeFile(join(dir, 'flotilla.yml'), FOUR_MISTAKES);
    const { code, stderr } = await run(['validate'], dir);
    expect(code).toBe(2);
    const lines = stderr.trim().split('\n').slice(1);
    expect(lines).toHaveLength(4);
    expect(lines.find((l) => l.startsWith('regions[1].target.colour:'))).toMatch(/unknown key/);
    expect(lines.find((l) => l.startsWith('waves[0].bakeSeconds:'))).toMatch(/>= 0/);
    expect(lines.find((l) => l.startsWith('waves[1].regions[1]:'))).toMatch(/us-east-1/);
    expect(lines.find((l) => l.startsWith('waves[2].regions:'))).toMatch(/no regions/);
  });

  it('accepts the default config', async () => {
    const { code, stdout } = await run(
      ['validate', '--config', resolve(import.meta.dirname, '../../flotilla.yml')],
      process.cwd(),
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/6 regions in 3 waves/);
  });
});

describe('flotilla release', () => {
  it('deploys nothing when the config is invalid', async () => {
    const dir = await workspace();
    await writeFile(join(dir, 'flotilla.yml'), FOUR_MISTAKES);
    const { code, stderr } = await run(['release', GOOD_BUILD], dir);
    expect(code).toBe(2);
    expect(stderr).toMatch(/nothing was deployed/);
    expect(existsSync(join(dir, '.flotilla'))).toBe(false);
    expect(await servedVersion(7201)).toBeNull();
  });

  it('ships a build, exits 0, and `where --json` then lists every region on it', async () => {
    const dir = await workspace();
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'EUR' }],
    ]);
    await writeFile(join(dir, 'flotilla.yml'), stringify(config));
    const release = await run(['release', GOOD_BUILD, '--json'], dir);
    expect(release.code, release.stderr).toBe(0);
    expect(JSON.parse(release.stdout)).toMatchObject({ status: 'SUCCEEDED', version: '1.0.0' });

    const where = await run(['where', '--json'], dir);
    expect(where.code).toBe(0);
    expect(JSON.parse(where.stdout)).toMatchObject({
      service: 'shop',
      regions: [
        {
          region: 'us-east-1',
          version: '1.0.0',
          releaseId: 'shop-1.0.0',
          process: { state: 'serving', healthy: true },
        },
        {
          region: 'eu-west-1',
          version: '1.0.0',
          releaseId: 'shop-1.0.0',
          process: { state: 'serving', healthy: true },
        },
      ],
    });
    const status = JSON.parse((await run(['status', '--json'], dir)).stdout);
    expect(status).toMatchObject({ status: 'SUCCEEDED', releaseId: 'shop-1.0.0' });
    // Processes outlive the command: they serve until `flotilla down`.
    expect(await servedVersion(asLocal(config.regions[0]?.target).port)).toBe('1.0.0');
  });

  it('exits 1 and prints plain progress lines when the release does not succeed', async () => {
    const dir = await workspace();
    const config = await e2eConfig([[{ name: 'eu-central-1', currency: 'EUR' }]]);
    await writeFile(join(dir, 'flotilla.yml'), stringify(config));
    const broken = resolve(import.meta.dirname, '../../examples/shop/builds/broken');
    const { code, stdout } = await run(['release', broken], dir);
    expect(code).toBe(1);
    expect(stdout).toMatch(/eu-central-1: deploying 1\.1\.0/);
    expect(stdout).toMatch(/ROLLED_BACK/);
    expect(stdout).not.toContain('\u001b[');
  });

  it('refuses a missing build directory with a usage error', async () => {
    const dir = await workspace();
    const { code, stderr } = await run(['release', join(dir, 'nope')], dir);
    expect(code).toBe(2);
    expect(stderr).toMatch(/does not exist/);
  });
});

describe('flotilla plan', () => {
  it('prints the waves in order and the minimum duration', async () => {
    const { code, stdout } = await run(
      ['plan', '--json', '--config', resolve(import.meta.dirname, '../../flotilla.yml')],
      process.cwd(),
    );
    expect(code).toBe(0);
    const plan = JSON.parse(stdout);
    expect(plan.waves.map((w: { name: string }) => w.name)).toEqual(['canary', 'wave-2', 'wave-3']);
    expect(plan.minimumSeconds).toBe(7);
  });
});

describe('the example service', () => {
  it('ships a good and a broken build whose package.json versions differ', async () => {
    const good = JSON.parse(await readFile(join(GOOD_BUILD, 'package.json'), 'utf8'));
    const broken = JSON.parse(await readFile(resolve(GOOD_BUILD, '../broken/package.json'), 'utf8'));
    expect(good.version).not.toBe(broken.version);
  });
});

describe('an interrupted release', () => {
  it('is closed as FAILED (interrupted) by the next command, which frees the lock and knows what runs where', async () => {
    const dir = await workspace();
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'USD' }],
    ]);
    for (const wave of config.waves) wave.bakeSeconds = 30;
    config.gate.bakeSeconds = 30;
    await writeFile(join(dir, 'flotilla.yml'), stringify(config));

    const child = spawn(process.execPath, [CLI, 'release', GOOD_BUILD], { cwd: dir });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    await new Promise<void>((ok) => {
      const timer = setInterval(() => {
        if (/us-east-1: deployed/.test(out)) {
          clearInterval(timer);
          ok();
        }
      }, 50);
    });
    const exited = new Promise((ok) => child.on('close', ok));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    // Its region processes keep serving (they outlive every command, until `flotilla down`).
    expect(await servedVersion(asLocal(config.regions[0]?.target).port)).toBe('1.0.0');

    const status = await run(['status', '--json'], dir);
    expect(status.stderr).toMatch(/interrupted/);
    expect(JSON.parse(status.stdout)).toMatchObject({ status: 'FAILED', reason: expect.stringMatching(/interrupted/) });
    const where = JSON.parse((await run(['where', '--json'], dir)).stdout);
    expect(where.regions).toMatchObject([
      { region: 'us-east-1', version: '1.0.0', releaseId: 'shop-1.0.0', process: { state: 'serving' } },
      { region: 'eu-west-1', version: null, since: null, releaseId: null, process: { state: 'down' } },
    ]);
    // The lock is free again: a new release runs (shortened bakes) and succeeds.
    for (const wave of config.waves) wave.bakeSeconds = 1;
    await writeFile(join(dir, 'flotilla.yml'), stringify(config));
    const again = await run(['release', GOOD_BUILD, '--version', '1.0.1'], dir);
    expect(again.code, again.stderr + again.stdout).toBe(0);
  });
});
