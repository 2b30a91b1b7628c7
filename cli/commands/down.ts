/** `flotilla down`: stops the local region processes that keep serving after each command. */
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { refused } from '../../core/errors.ts';
import { EXIT, UsageError } from '../exit-codes.ts';
import { handle, subcommand } from '../options.ts';
import { print, printJson } from '../output.ts';
import { findControl } from '../release-target.ts';
import { openLocal } from '../targets/local.ts';

export function register(program: Command): void {
  const command = subcommand(program, 'down', 'local: stop every region process Flotilla started for the state dir');
  command.addHelpText(
    'after',
    `
Region processes keep serving after release, rollback and up end (as \`docker compose up -d\`
leaves its services). down stops each one whose pid is recorded under <state-dir>/regions/ and
verified as that region's process (it runs from the region's releases/); any other program is
left alone. Each region's log records the stop. The next release, rollback or up starts them again.`,
  );
  handle(command, async (ctx) => {
    if (ctx.backend() !== 'local') throw new UsageError('down stops local region processes; there are none on AWS');
    const running = await findControl(ctx);
    if (running) {
      throw refused(
        'Busy',
        `a release or \`flotilla up\` is using ${ctx.stateDir()} (control API at ${running.url}): stop it first, then \`flotilla down\``,
      );
    }
    const config = await ctx.loadConfig();
    // The state dir is held (StateDirLocked otherwise) while the processes are stopped.
    const backend = await openLocal(ctx, config, undefined, 'read');
    try {
      const who = `${process.env.USER || userInfo().username}@${hostname()}`;
      const stopped = await backend.stopRegions(who);
      if (ctx.json) printJson({ service: config.service, stopped });
      else if (stopped.length === 0) print(`flotilla down: no region process of ${config.service} was running`);
      else {
        for (const s of stopped) {
          print(
            `stopped ${s.region.padEnd(16)} ${s.version.padEnd(12)} pid ${s.pid}${s.how === 'killed' ? ' (SIGKILL)' : ''}`,
          );
        }
        print(
          `flotilla down: stopped ${stopped.length} region ${stopped.length === 1 ? 'process' : 'processes'} of ${config.service}`,
        );
      }
      return EXIT.ok;
    } finally {
      await backend.close();
    }
  });
}
