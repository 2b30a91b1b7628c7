/**
 * The CLI's conventions, on the real `node cli/flotilla.ts`: per-command help, `help <verb>`,
 * --version, one-line usage errors with a hint, `validate --json`, plurals, an empty history, and
 * the one exit-code table (in --help, and through a command).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { EXIT_CODES, exitCodeOf } from '../../cli/exit-codes.ts';
import { namedError, REFUSALS } from '../../core/errors.ts';
import { VERBS } from '../../core/verbs.ts';
import { runCli, startCli } from '../helpers/cli.ts';
import { e2eConfig, tempDir } from '../helpers/local.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A temp dir holding a valid one-region config (its state dir is `<dir>/.flotilla`). */
async function workspace(waves = [[{ name: 'us-east-1', currency: 'USD' }]]): Promise<string> {
  const t = await tempDir('flotilla-conventions-');
  cleanups.push(t.cleanup);
  await writeFile(join(t.dir, 'flotilla.yml'), stringify(await e2eConfig(waves)));
  return t.dir;
}

const lines = (text: string) => text.trim().split('\n');

describe('help', () => {
  it('`<verb> --help` shows that verb alone, and `help <verb>` the same', async () => {
    const help = await runCli(['pause', '--help'], ROOT);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: flotilla pause \[options\] \[release-id\]/);
    expect(help.stdout).toMatch(/--reason <text>/);
    // Not the global usage: no list of commands, no other verb.
    expect(help.stdout).not.toMatch(/Commands:/);
    expect(help.stdout).not.toMatch(/skip-region/);
    const viaHelp = await runCli(['help', 'pause'], ROOT);
    expect(viaHelp).toEqual(help);
  });

  it('gives each verb of core/verbs.ts its own command with its own usage', async () => {
    for (const verb of VERBS) {
      const { code, stdout } = await runCli([verb, '--help'], ROOT);
      expect(code, verb).toBe(0);
      expect(stdout.split('\n')[0], verb).toMatch(new RegExp(`^Usage: flotilla ${verb} `));
    }
    const skip = await runCli(['skip-region', '--help'], ROOT);
    expect(skip.stdout).toMatch(/^Usage: flotilla skip-region \[options\] <region> \[release-id\]/);
    const freeze = await runCli(['freeze', '--help'], ROOT);
    expect(freeze.stdout.split('\n')[0]).toBe('Usage: flotilla freeze [options]');
  });

  it('documents every exit code of the table in --help', async () => {
    const { code, stdout } = await runCli(['--help'], ROOT);
    expect(code).toBe(0);
    const section = stdout.slice(stdout.indexOf('exit codes:'));
    for (const [name, exit] of Object.entries(EXIT_CODES)) {
      if (exit < 2 || name === 'UsageError' || name === 'InvalidConfig') continue;
      expect(section).toMatch(new RegExp(`^  ${exit}  .*\\b${name}\\b`, 'm'));
    }
    for (const exit of [0, 1, 2, 3, 4, 5, 6]) expect(section).toMatch(new RegExp(`^  ${exit}  \\S`, 'm'));
  });

  it('prints the version of package.json with --version', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const { code, stdout } = await runCli(['--version'], ROOT);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(version);
  });
});

describe('usage errors', () => {
  it('an unknown flag: one line naming it, a hint to the verb’s help, exit 2', async () => {
    const dir = await workspace();
    const { code, stdout, stderr } = await runCli(['pause', '--frobnicate', '--reason', 'r'], dir);
    expect(code).toBe(2);
    expect(lines(stderr)).toEqual([expect.stringMatching(/--frobnicate.*see flotilla pause --help/)]);
    expect(stdout).toBe('');
  });

  it('a missing argument, too many, or an unknown command: one line and a hint, never the whole usage', async () => {
    const cases: [string[], RegExp][] = [
      [['rollback', '--reason', 'r'], /release-id.*see flotilla rollback --help/],
      [['freeze', 'shop-1.0.0', '--reason', 'r'], /too many arguments.*see flotilla freeze --help/],
      [['pause', '--reason'], /--reason.*see flotilla pause --help/],
      [['deploy'], /unknown command 'deploy'.*see flotilla --help/],
      [['release', 'no-such-build'], /does not exist.*see flotilla release --help/],
      [['pause'], /needs --reason.*see flotilla pause --help/],
    ];
    const dir = await workspace();
    for (const [args, message] of cases) {
      const { code, stderr } = await runCli(args, dir);
      expect(code, args.join(' ')).toBe(2);
      expect(lines(stderr), args.join(' ')).toEqual([expect.stringMatching(message)]);
    }
  });

  it('takes the global options before the command too', async () => {
    const { code, stdout } = await runCli(['--config', join(ROOT, 'flotilla.yml'), '--json', 'validate'], '/');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, service: 'shop' });
  });
});

describe('validate', () => {
  it('--json prints {ok, service, regions, waves}', async () => {
    const { code, stdout } = await runCli(['validate', '--json', '--config', join(ROOT, 'flotilla.yml')], ROOT);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ ok: true, service: 'shop', regions: 6, waves: 3 });
  });

  it('--json prints the problems as JSON, and exits 2', async () => {
    const dir = await workspace();
    await writeFile(join(dir, 'flotilla.yml'), 'service: shop\nregions: []\nwaves: []\ncolour: blue\n');
    const { code, stdout } = await runCli(['validate', '--json'], dir);
    expect(code).toBe(2);
    const answer = JSON.parse(stdout) as { ok: boolean; problems: { path: string; message: string }[] };
    expect(answer.ok).toBe(false);
    expect(answer.problems.length).toBeGreaterThan(0);
    expect(answer.problems).toContainEqual({ path: 'colour', message: expect.stringMatching(/unknown key/) });
  });

  it('says 1 region in 1 wave, and 1 problem, in the singular', async () => {
    const dir = await workspace();
    const ok = await runCli(['validate'], dir);
    expect(ok.stdout).toMatch(/\(shop: 1 region in 1 wave\)/);
    const plan = await runCli(['plan'], dir);
    expect(plan.stdout).toMatch(/^shop: 1 region in 1 wave$/m);
    const config = (await readFile(join(dir, 'flotilla.yml'), 'utf8')).replace(/bakeSeconds: 1/, 'bakeSeconds: -1');
    await writeFile(join(dir, 'flotilla.yml'), config);
    const bad = await runCli(['validate'], dir);
    expect(bad.code).toBe(2);
    // validate deploys nothing in any case: it says how many problems, not what did not happen.
    expect(bad.stderr).toMatch(/flotilla\.yml: 1 problem$/m);
    expect(bad.stderr).not.toMatch(/deployed/);
    const two = await workspace([[{ name: 'us-east-1', currency: 'USD' }], [{ name: 'eu-west-1', currency: 'EUR' }]]);
    expect((await runCli(['validate'], two)).stdout).toMatch(/\(shop: 2 regions in 2 waves\)/);
  });
});

describe('reads of a state dir with no releases', () => {
  it('history says so; status of an unknown release is not found (exit 4)', async () => {
    const dir = await workspace();
    const history = await runCli(['history'], dir);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout.trim()).toBe('no releases of shop yet');
    const json = await runCli(['history', '--json'], dir);
    expect(JSON.parse(json.stdout)).toEqual([]);
    const status = await runCli(['status', 'shop-9.9.9'], dir);
    expect(status.code).toBe(4);
    expect(lines(status.stderr)).toEqual(['flotilla: no release shop-9.9.9']);
  });
});

describe('the exit-code table', () => {
  it('maps each refusal and each busy name to its code, and anything else to 1', () => {
    const expected: Record<string, number> = {
      InvalidInput: 2,
      UsageError: 2,
      InvalidConfig: 2,
      ServiceLocked: 3,
      StateDirLocked: 3,
      ReleaseExists: 3,
      Busy: 3,
      NotFound: 4,
      NotApplicable: 5,
      Unauthorized: 5,
      NoChange: 6,
    };
    for (const [name, code] of Object.entries(expected)) expect(exitCodeOf(namedError(name, 'x')), name).toBe(code);
    for (const name of Object.keys(REFUSALS)) expect(EXIT_CODES[name], name).toBeDefined();
    expect(exitCodeOf(new TypeError('a bug'))).toBe(1);
    expect(exitCodeOf(undefined)).toBe(1);
  });
});

describe('completion', () => {
  it('prints a bash script that completes commands and their options', async () => {
    const { code, stdout } = await runCli(['completion', 'bash'], ROOT);
    expect(code).toBe(0);
    const complete = async (...words: string[]) => {
      const script = `${stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _flotilla; echo "\${COMPREPLY[*]}"`;
      const { stdout: out } = await promisify(execFile)('bash', ['-c', script]);
      return out.trim().split(/\s+/);
    };
    expect(await complete('flotilla', 'pa')).toEqual(['pause']);
    expect(await complete('flotilla', 'st')).toEqual(['status']);
    expect(await complete('flotilla', 'status', '--w')).toEqual(['--watch']);
    expect(await complete('flotilla', 'completion', '')).toEqual(['bash', 'zsh', 'fish']);
    const all = await complete('flotilla', '');
    for (const verb of [...VERBS, 'validate', 'release', 'watch', 'completion', 'help']) expect(all).toContain(verb);
  });

  it('prints zsh and fish scripts naming every command', async () => {
    const zsh = await runCli(['completion', 'zsh'], ROOT);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout.split('\n')[0]).toBe('#compdef flotilla');
    const fish = await runCli(['completion', 'fish'], ROOT);
    expect(fish.code).toBe(0);
    for (const verb of [...VERBS, 'status', 'watch']) {
      expect(zsh.stdout, verb).toContain(`'${verb}:`);
      expect(fish.stdout, verb).toMatch(new RegExp(`complete -c flotilla .*-a ${verb} `));
    }
    expect(fish.stdout).toMatch(/__fish_seen_subcommand_from status.* -l watch/);
  });

  it('refuses another shell in one line', async () => {
    const { code, stderr } = await runCli(['completion', 'powershell'], ROOT);
    expect(code).toBe(2);
    expect(lines(stderr)).toEqual([expect.stringMatching(/bash, zsh or fish.*see flotilla completion --help/)]);
  });
});

describe('--backend aws without credentials', () => {
  it('is one line naming what to set, exit 2, not a stack trace', async () => {
    const dir = await workspace();
    const config = await readFile(join(dir, 'flotilla.yml'), 'utf8');
    await writeFile(
      join(dir, 'flotilla.yml'),
      `${config}aws:\n  region: us-east-1\n  stateMachineArn: arn:aws:states:us-east-1:123456789012:stateMachine:rel\n  table: flotilla-ledger\n`,
    );
    const env = Object.fromEntries(
      Object.keys(process.env)
        .filter((k) => k.startsWith('AWS_'))
        .map((k) => [k, '']),
    );
    const { code, stderr } = await runCli(['where', '--backend', 'aws'], dir, {
      ...env,
      AWS_CONFIG_FILE: join(dir, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    expect(code).toBe(2);
    expect(lines(stderr)).toEqual([expect.stringMatching(/^flotilla: --backend aws: no AWS credentials found/)]);
    expect(stderr).not.toMatch(/CredentialsProviderError|\bat /);
  });
});

describe('up --json', () => {
  it('says where it serves as one JSON line', async () => {
    const dir = await workspace();
    const up = startCli(['up', '--json'], dir);
    try {
      await up.waitForOutput(/\n/, 60_000);
      const first = JSON.parse(up.output().stdout.split('\n')[0] as string) as Record<string, unknown>;
      expect(first).toMatchObject({
        controlApi: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        tokenFile: join(dir, '.flotilla', 'control-token'),
        github: { enabled: false },
      });
    } finally {
      await up.stop();
    }
  });
});
