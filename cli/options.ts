/**
 * The CLI's options, each defined once, and how a subcommand is made: its options, usage errors
 * that name it (`see flotilla <command> --help`), and an action whose exit code `run` returns.
 */
import { type Command, type CommanderError, Option } from 'commander';
import { type CliOptions, type Context, contextOf } from './context.ts';
import { UsageError } from './exit-codes.ts';

export const OPTIONS = {
  config: () => new Option('--config <file>', 'release config (default: $FLOTILLA_CONFIG or ./flotilla.yml)'),
  stateDir: () => new Option('--state-dir <dir>', 'local backend state (default: $FLOTILLA_STATE_DIR or ./.flotilla)'),
  backend: () =>
    new Option(
      '--backend <local|aws>',
      "where releases run (default: $FLOTILLA_BACKEND or local); aws uses the config's aws: section (the deployed stack) and your AWS credentials",
    ),
  json: () => new Option('--json', 'machine-readable output'),
  version: () =>
    new Option('--version <version>', "the version to ship (local default: the build's package.json version)"),
  attempt: () => new Option('--attempt <n>', 'aws: release the same version again under a new execution name'),
  noWait: () => new Option('--no-wait', 'aws, or through a control server: return once the release has started'),
  watch: () => new Option('--watch', 'follow the release live until it ends, then exit with its exit code'),
  reason: () => new Option('--reason <text>', 'why (required; kept in the audit trail)'),
  actor: () => new Option('--actor <name>', 'who (default: $USER@<hostname>)'),
  artifacts: () =>
    new Option(
      '--artifacts <file>',
      "YAML or JSON map of region name -> that region's build (wins over <build> there); relative paths are from the file",
    ),
  copyFrom: () =>
    new Option(
      '--copy-from <s3-url>',
      "aws, Server groups: the one bundle to copy into each region's bucket (<build> names where, e.g. s3://builds-{awsRegion}/k.zip)",
    ),
  emergency: () =>
    new Option(
      '--emergency',
      'the break-glass lane: short bakes (emergency.minBakeSeconds), a second person approves before wave 1 (needs --reason)',
    ),
} as const;

export type OptionName = keyof typeof OPTIONS;

/** What every command that reads the config and the state takes. */
export const COMMON: readonly OptionName[] = ['config', 'stateDir', 'backend', 'json'];

/** The exit code each program's action set, keyed by the program. */
const exitCodes = new WeakMap<Command, number>();

export function rootOf(command: Command): Command {
  let root = command;
  while (root.parent) root = root.parent;
  return root;
}

export function exitCodeSet(program: Command): number | undefined {
  return exitCodes.get(program);
}

/** A commander error as the CLI shows it: help and --version pass (exit 0), the rest are usage errors. */
export function usageErrors(command: Command, name: string): Command {
  return command.exitOverride((error: CommanderError) => {
    if (error.exitCode === 0) throw error;
    const message = error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
    throw new UsageError(message, name);
  });
}

/** A subcommand with the named options, whose usage errors point at its own --help. */
export function subcommand(
  parent: Command,
  nameAndArgs: string,
  summary: string,
  options: readonly OptionName[] = COMMON,
): Command {
  const command = parent.command(nameAndArgs).description(summary);
  for (const name of options) command.addOption(OPTIONS[name]());
  return usageErrors(command, command.name());
}

/** The options of the command and of every command above it; the nearest one given wins over defaults. */
function mergedOptions(command: Command): CliOptions {
  const chain: Command[] = [];
  for (let c: Command | null = command; c; c = c.parent) chain.unshift(c);
  const merged: Record<string, unknown> = {};
  for (const c of chain) {
    for (const [key, value] of Object.entries(c.opts())) {
      if (value === undefined) continue;
      if (c.getOptionValueSource(key) === 'default' && key in merged) continue;
      merged[key] = value;
    }
  }
  return merged as CliOptions;
}

/** Runs `handler` for the command, with its arguments (declared order) and context; keeps its exit code. */
export function handle(command: Command, handler: (ctx: Context, ...args: string[]) => Promise<number>): Command {
  return command.action(async (...params: unknown[]) => {
    const self = params.at(-1) as Command;
    const args = params.slice(0, -2) as string[];
    exitCodes.set(rootOf(self), await handler(contextOf(mergedOptions(self)), ...args));
  });
}
