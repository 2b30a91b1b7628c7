/** `flotilla validate`: check the config; one line per problem, with its path (or JSON with --json). */
import type { Command } from 'commander';
import { EXIT } from '../exit-codes.ts';
import { handle, subcommand } from '../options.ts';
import { plural, print, printJson, warn } from '../output.ts';

export function register(program: Command): void {
  const command = subcommand(program, 'validate', 'check the config; one line per problem, with its path', [
    'config',
    'json',
  ]);
  handle(command, async (ctx) => {
    const path = ctx.configPath();
    const result = await ctx.readConfig();
    if (!result.ok) {
      const { formatProblems } = await import('../../config/load.ts');
      if (ctx.json) printJson({ ok: false, config: path, problems: result.problems });
      else {
        warn(`${path}: ${plural(result.problems.length, 'problem')}\n${formatProblems(result.problems)}`);
      }
      return EXIT.usage;
    }
    const { config } = result;
    if (ctx.json) {
      printJson({ ok: true, service: config.service, regions: config.regions.length, waves: config.waves.length });
    } else {
      print(
        `${path}: ok (${config.service}: ${plural(config.regions.length, 'region')} in ${plural(config.waves.length, 'wave')})`,
      );
    }
    return EXIT.ok;
  });
}
