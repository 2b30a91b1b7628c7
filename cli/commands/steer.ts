/**
 * The steering verbs, one command per verb of core/verbs.ts: each records an intent (who, when,
 * why) that the release acts on at its next safe point. `rollback` starts a release of its own
 * (commands/rollback.ts).
 */
import type { Command } from 'commander';
import type { IntentBody } from '../../control/server.ts';
import { VERB_INFO, VERBS, type Verb } from '../../core/verbs.ts';
import { EXIT } from '../exit-codes.ts';
import { COMMON, handle, subcommand } from '../options.ts';
import { auditLine, print, printJson } from '../output.ts';
import { releaseTarget } from '../release-target.ts';
import { register as registerRollback } from './rollback.ts';

const STEERING_HELP = `
An intent is recorded with who and why, and the release acts on it at its next safe point. With
no release-id: the running release. With \`flotilla up\` (or a \`release\`) running for the state dir
it goes through its control API; otherwise to the state dir (or, with --backend aws, to AWS).`;

export function register(program: Command): void {
  for (const verb of VERBS) {
    if (verb === 'rollback') registerRollback(program);
    else registerIntentVerb(program, verb);
  }
}

function registerIntentVerb(program: Command, verb: Exclude<Verb, 'rollback'>): void {
  const info = VERB_INFO[verb];
  const operands = info.scope === 'service' ? '' : info.needsRegion ? ' <region> [release-id]' : ' [release-id]';
  const command = subcommand(program, `${verb}${operands}`, info.summary, [...COMMON, 'reason', 'actor']);
  command.addHelpText('after', STEERING_HELP);
  handle(command, async (ctx, ...args) => {
    const [region, releaseId] = info.needsRegion ? args : [undefined, args[0]];
    const body: IntentBody = {
      verb,
      ...(releaseId ? { releaseId } : {}),
      ...(region ? { region } : {}),
      ...ctx.who(verb),
    };
    const config = await ctx.loadConfig();
    const intent = await (await releaseTarget(ctx, config)).intent(body);
    if (ctx.json) printJson(intent);
    else print(`recorded for ${intent.releaseId ?? `every ${intent.service} release`}: ${auditLine(intent)}`);
    return EXIT.ok;
  });
}
