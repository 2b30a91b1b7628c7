/**
 * `flotilla unlock`: the operator's way out of a lock a dead release still holds (its execution
 * failed, timed out or was stopped and nothing freed it). Refused while that release runs; audited
 * with who and why; the record is closed and the next queued release woken (services/unlock.ts).
 */
import type { Command } from 'commander';
import { EXIT } from '../exit-codes.ts';
import { COMMON, handle, subcommand } from '../options.ts';
import { auditLine, print, printJson } from '../output.ts';
import { releaseTarget } from '../release-target.ts';

export function register(program: Command): void {
  const command = subcommand(program, 'unlock', "free the service's lock held by a release that no longer runs", [
    ...COMMON,
    'reason',
    'actor',
  ]);
  command.addHelpText(
    'after',
    `
Refused (exit code of Busy) while the release holding the lock still runs: abort it instead. On
AWS "runs" is what DescribeExecution says; locally, whether a flotilla process still runs it.`,
  );
  handle(command, async (ctx) => {
    const person = ctx.who('unlock');
    const config = await ctx.loadConfig();
    const answer = await (await releaseTarget(ctx, config)).unlock(person);
    if (ctx.json) printJson(answer);
    else {
      print(`unlocked ${config.service}: ${auditLine(answer.intent)}`);
      if (answer.closed) print(`${answer.intent.releaseId} closed as FAILED`);
      for (const id of answer.woken) print(`woke queued release ${id}`);
    }
    return EXIT.ok;
  });
}
