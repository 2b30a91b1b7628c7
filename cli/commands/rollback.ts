/**
 * `flotilla rollback <release-id>`: put back what a finished release changed, as a rollback release;
 * after ROLLBACK_FAILED, the retry of the regions not back yet (core/rollback.ts planRollbackOf).
 */
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
Puts every region <release-id> changed that still runs its build back to what ran there before,
as a release named <release-id>-rollback (-2, -3, ... for a retry), and leaves regions already
back alone. It applies to a finished release: SUCCEEDED, FAILED (interrupted), and ROLLBACK_FAILED,
where it retries the regions the release's own rollback could not put back (a region stuck on the
bad build blocks every later release at wave entry); run it again until every region is back.
What each region runs is read from the region itself where it can be (locally its current release).
The audit records who (--actor), why (--reason) and which regions.

Exits 0 once every region is back; 1 if a region could not be put back (run it again); refused in
one line: 3 while another release holds the lock, 5 for a running release (abort it) or a region
that moved on since, 6 with nothing left to put back or when already rolled back.`,
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
