/** `flotilla where`: which version runs in each region. */
import type { Command } from 'commander';
import { EXIT } from '../exit-codes.ts';
import { handle, subcommand } from '../options.ts';
import { print, printJson } from '../output.ts';
import { releaseTarget } from '../release-target.ts';

export function register(program: Command): void {
  handle(subcommand(program, 'where', 'which version runs in each region'), async (ctx) => {
    const config = await ctx.loadConfig();
    const reads = await (await releaseTarget(ctx, config)).reads();
    try {
      const answer = await reads.where();
      if (ctx.json) printJson(answer);
      else for (const r of answer.regions) print(`${r.region.padEnd(16)} ${r.version ?? '(nothing deployed)'}`);
      return EXIT.ok;
    } finally {
      await reads.close();
    }
  });
}
