/** `flotilla rollback <release-id>`: put back what a SUCCEEDED release changed, as a rollback release. */
import type { Command } from 'commander';
import { VERB_INFO } from '../../core/verbs.ts';
import { rollbackExit } from '../exit-codes.ts';
import { COMMON, handle, subcommand } from '../options.ts';
import { printJson, printOutcome } from '../output.ts';
import { releaseTarget } from '../release-target.ts';

export function register(program: Command): void {
  const command = subcommand(program, 'rollback <release-id>', VERB_INFO.rollback.summary, [
    ...COMMON,
    'reason',
    'actor',
    'noWait',
  ]);
  command.addHelpText(
    'after',
    `
Records the intent (the release must have SUCCEEDED) and runs a release named
<release-id>-rollback that puts every region it changed back to what ran there before. Exits 0
once every region is back.`,
  );
  handle(command, async (ctx, releaseId: string) => {
    const person = ctx.who('rollback');
    const config = await ctx.loadConfig();
    const outcome = await (await releaseTarget(ctx, config)).rollback(releaseId, person);
    if (ctx.json) printJson(outcome);
    else printOutcome(outcome);
    return rollbackExit(outcome);
  });
}
