/** `flotilla status [release-id]` and `flotilla history`: releases, region by region, with their intents. */
import type { Command } from 'commander';
import type { ReleaseWithIntents } from '../../control/client.ts';
import { freezeOf } from '../../core/control.ts';
import { refused } from '../../core/errors.ts';
import type { Context } from '../context.ts';
import { EXIT, releaseExit, rollbackExit } from '../exit-codes.ts';
import { COMMON, handle, subcommand } from '../options.ts';
import { auditLine, print, printIntents, printJson, printOutcome, releaseSummary, warn } from '../output.ts';
import { type Reads, releaseTarget } from '../release-target.ts';

/** How many releases `history` lists. */
const HISTORY_LIMIT = 50;

const WATCH_HELP = `
With --watch (or as \`flotilla watch\`): follows the release (with no release-id: the running one, else
the latest) wherever it runs (\`flotilla up\`, a \`release\` in another terminal, AWS) with the live
progress \`release\` shows, and exits with the release's exit code once it ends (0: SUCCEEDED).
Ctrl-C stops following only.`;

/** The release to follow: the one named, else the one running (or queued), else the latest. */
async function watchedRelease(reads: Reads, wanted: string | undefined): Promise<ReleaseWithIntents> {
  if (wanted) {
    const record = await reads.release(wanted);
    if (!record) throw refused('NotFound', `no release ${wanted}`);
    return record;
  }
  const recent = await reads.releases(HISTORY_LIMIT);
  const record = recent.find((r) => r.status === 'RUNNING') ?? recent.find((r) => r.status === 'QUEUED') ?? recent[0];
  if (!record) throw refused('NotFound', 'no releases yet: nothing to watch');
  return record;
}

/** `status --watch` and `watch`: follows the release to its end; its exit code is the release's. */
async function watch(ctx: Context, wanted?: string): Promise<number> {
  const config = await ctx.loadConfig();
  const target = await releaseTarget(ctx, config);
  const reads = await target.reads();
  let record: ReleaseWithIntents;
  try {
    record = await watchedRelease(reads, wanted);
  } finally {
    await reads.close();
  }
  if (!ctx.json) warn(`following ${record.releaseId} (${record.status}); Ctrl-C stops following only`);
  const outcome = await target.watch(record.releaseId);
  if (ctx.json) printJson(outcome);
  else printOutcome(outcome);
  return record.rollbackOf ? rollbackExit(outcome) : releaseExit(outcome);
}

export function register(program: Command): void {
  const status = subcommand(
    program,
    'status [release-id]',
    'the latest (or given) release, region by region, and who steered it',
    [...COMMON, 'watch'],
  );
  status.addHelpText('after', WATCH_HELP);
  handle(status, async (ctx, wanted?: string) => {
    if (ctx.options.watch) return watch(ctx, wanted);
    const config = await ctx.loadConfig();
    const reads = await (await releaseTarget(ctx, config)).reads();
    try {
      const frozen = freezeOf(await reads.globalIntents());
      if (frozen && !ctx.json) print(`${config.service} is FROZEN: ${auditLine(frozen)}`);
      const record = wanted ? await reads.release(wanted) : (await reads.releases(1))[0];
      if (!record) {
        if (wanted) throw refused('NotFound', `no release ${wanted}`);
        warn(`flotilla: ${config.service} has no releases yet`);
        return EXIT.ok;
      }
      const execution = await reads.execution?.(record.releaseId).catch(() => undefined);
      const summary = {
        ...releaseSummary(record),
        intents: record.intents,
        frozen,
        ...(execution ? { execution } : {}),
      };
      if (ctx.json) {
        printJson(summary);
        return EXIT.ok;
      }
      const where = summary.hold
        ? `wave ${summary.hold.wave}/${summary.waveCount} HELD since ${summary.hold.since}`
        : `wave ${summary.wave}/${summary.waveCount}`;
      print(`${summary.releaseId}: ${summary.status} (${where}) ${summary.reason ?? ''}`.trimEnd());
      for (const reason of summary.hold?.reasons ?? []) print(`  held: ${reason.text}`);
      if (execution) print(`  execution ${execution.status}: ${execution.consoleUrl}`);
      for (const r of summary.regions) {
        print(
          `  ${r.region.padEnd(16)} wave ${r.wave}  ${r.phase.padEnd(16)} before: ${r.before ?? '-'}${r.message ? `  ${r.message}` : ''}`,
        );
      }
      if (record.intents.length > 0) {
        print('  intents:');
        printIntents(record.intents, '    ');
      }
      return EXIT.ok;
    } finally {
      await reads.close();
    }
  });

  const watchCommand = subcommand(
    program,
    'watch [release-id]',
    'follow a release live until it ends (status --watch)',
  );
  watchCommand.addHelpText('after', WATCH_HELP);
  handle(watchCommand, watch);

  const history = subcommand(program, 'history', 'past releases, newest first, each with its intents');
  handle(history, async (ctx) => {
    const config = await ctx.loadConfig();
    const reads = await (await releaseTarget(ctx, config)).reads();
    try {
      const releases = await reads.releases(HISTORY_LIMIT);
      // Service-wide intents (freeze, unfreeze) belong to no release: they go in the history by time.
      const oldest = releases.at(-1)?.startedAt ?? '';
      const service = (await reads.globalIntents()).filter((i) => releases.length < HISTORY_LIMIT || i.at >= oldest);
      const entries = [
        ...releases.map((r) => ({ at: r.startedAt, release: r })),
        ...service.map((i) => ({ at: i.at, intent: i })),
      ].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
      if (ctx.json) {
        printJson(
          entries.map((e) =>
            'release' in e
              ? { kind: 'release', ...releaseSummary(e.release), intents: e.release.intents }
              : { kind: 'service-intent', ...e.intent },
          ),
        );
      } else if (entries.length === 0) print(`no releases of ${config.service} yet`);
      else {
        for (const e of entries) {
          if ('intent' in e) {
            print(`${e.at}  ${`every ${config.service} release`.padEnd(28)} ${auditLine(e.intent, false)}`);
            continue;
          }
          const r = e.release;
          const review = r.emergency
            ? `  [EMERGENCY, review: asked by ${r.emergency.actor}: ${r.emergency.reason}]`
            : '';
          print(`${r.startedAt}  ${r.releaseId.padEnd(28)} ${r.status.padEnd(16)} ${r.reason ?? ''}${review}`);
          printIntents(r.intents, '    ');
        }
      }
      return EXIT.ok;
    } finally {
      await reads.close();
    }
  });
}
