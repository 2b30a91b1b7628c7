/** `flotilla schema`: the JSON Schema of the config, for editors. */
import type { Command } from 'commander';
import { EXIT } from '../exit-codes.ts';
import { handle, subcommand } from '../options.ts';
import { printJson } from '../output.ts';

export function register(program: Command): void {
  const command = subcommand(program, 'schema', 'the JSON Schema of the config, for editors', []);
  handle(command, async () => {
    const { configJsonSchema } = await import('../../config/load.ts');
    printJson(configJsonSchema());
    return EXIT.ok;
  });
}
