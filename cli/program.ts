/**
 * The `flotilla` program: its global options, its commands (cli/commands/), its help (with the
 * exit codes), and `run`, which parses argv, runs the command and gives its exit code. Errors of
 * every command map to exit codes through cli/exit-codes.ts.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { register as completion } from './commands/completion.ts';
import { register as dashboard } from './commands/dashboard.ts';
import { register as doctor } from './commands/doctor.ts';
import { register as down } from './commands/down.ts';
import { register as plan } from './commands/plan.ts';
import { register as release } from './commands/release.ts';
import { register as schema } from './commands/schema.ts';
import { register as status } from './commands/status.ts';
import { register as steer } from './commands/steer.ts';
import { register as unlock } from './commands/unlock.ts';
import { register as up } from './commands/up.ts';
import { register as validate } from './commands/validate.ts';
import { register as where } from './commands/where.ts';
import { EXIT, exitCodeOf, exitCodesHelp, isExpected, UsageError } from './exit-codes.ts';
import { exitCodeSet, OPTIONS, type OptionName, usageErrors } from './options.ts';
import { warn } from './output.ts';

const PROGRAM = 'flotilla';

/** Options the program takes before the command (each command takes those that apply to it after it). */
const GLOBAL: readonly OptionName[] = ['config', 'stateDir', 'backend', 'json', 'attempt', 'noWait', 'reason', 'actor'];

const ABOUT = `
With \`flotilla up\` (or a \`release\`) running for the state dir, release, verbs and reads go
through its control API; otherwise they open the state dir themselves. \`release\` serves the same
API while it runs, so it can be steered from another terminal. Steering verbs record an intent
(who and why; --reason is required, --actor defaults to $USER@host) that the release acts on at
its next safe point; with no release-id they steer the running release.
`;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

export function buildProgram(): Command {
  const program = new Command(PROGRAM)
    .description('ship a service to many regions in waves, with health gates and automatic rollback')
    .usage('<command> [options]')
    .version(packageVersion(), '-V, --version', 'print the version of flotilla')
    .enablePositionalOptions()
    // Errors are printed once, by run(), as one line with a hint.
    .configureOutput({ outputError: () => {} })
    .addHelpText('after', `${ABOUT}\n${exitCodesHelp()}`);
  for (const name of GLOBAL) program.addOption(OPTIONS[name]());
  usageErrors(program, PROGRAM);
  validate(program);
  plan(program);
  release(program);
  status(program);
  where(program);
  schema(program);
  up(program);
  dashboard(program);
  down(program);
  steer(program);
  completion(program);
  doctor(program);
  unlock(program);
  return program;
}

/** Runs the command argv names; resolves with its exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.usage;
  }
  let current = PROGRAM;
  program.hook('preAction', (_program, command) => {
    current = command.name();
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCodeSet(program) ?? EXIT.ok;
  } catch (error) {
    // --help, help <command> and --version, already printed.
    if (error instanceof CommanderError && error.exitCode === 0) return EXIT.ok;
    if (error instanceof UsageError) {
      const command = error.command ?? current;
      const help = command === PROGRAM ? `${PROGRAM} --help` : `${PROGRAM} ${command} --help`;
      warn(`${PROGRAM}: ${error.message} (see ${help})`);
      return EXIT.usage;
    }
    if ((error as Error | undefined)?.name === 'CredentialsProviderError') {
      // The SDK's own error is a stack trace of its provider chain: what the user needs is what to set.
      warn(
        `${PROGRAM}: --backend aws: no AWS credentials found; set AWS_PROFILE (after \`aws sso login\`), ` +
          'or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role provides them',
      );
      return EXIT.usage;
    }
    const message = isExpected(error) ? (error as Error).message : ((error as Error).stack ?? String(error));
    warn(`${PROGRAM}: ${message}`);
    return exitCodeOf(error);
  }
}
