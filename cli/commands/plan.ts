/** `flotilla plan`: the waves in order and the minimum duration they imply. */
import type { Command } from 'commander';
import { minimumDuration } from '../../core/plan.ts';
import { EXIT } from '../exit-codes.ts';
import { handle, subcommand } from '../options.ts';
import { plural, print, printJson } from '../output.ts';

export function register(program: Command): void {
  const command = subcommand(program, 'plan', 'the waves in order and the minimum duration they imply', [
    'config',
    'json',
  ]);
  handle(command, async (ctx) => {
    const config = await ctx.loadConfig();
    const estimate = minimumDuration(config);
    if (ctx.json) {
      printJson({ service: config.service, ...estimate });
      return EXIT.ok;
    }
    print(`${config.service}: ${plural(config.regions.length, 'region')} in ${plural(estimate.waves.length, 'wave')}`);
    estimate.waves.forEach((w, i) => {
      const bake =
        w.bakeMinSeconds === undefined
          ? `bake ${w.bakeSeconds}s`
          : `bake ${w.bakeMinSeconds}–${w.bakeSeconds}s, ends at ${w.bakeMinSeconds}s once the evidence is in`;
      print(`  wave ${i + 1} ${w.name}: ${w.regions.join(', ')} (${bake})`);
    });
    print(`minimum duration: ${estimate.minimumSeconds}s of bakes, plus the slowest region's deploy per wave`);
    return EXIT.ok;
  });
}
