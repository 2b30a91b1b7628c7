/** `flotilla doctor` and `flotilla repair`: how the local ledger stands, and rebuilding a damaged one. */
import type { Command } from 'commander';
import type { Context } from '../context.ts';
import { EXIT, UsageError } from '../exit-codes.ts';
import { handle, subcommand } from '../options.ts';
import { print, printJson } from '../output.ts';

function localOnly(ctx: Context, command: string): void {
  if (ctx.backend() !== 'local')
    throw new UsageError(`${command} checks the local ledger; on AWS the ledger is DynamoDB`);
}

export function register(program: Command): void {
  const doctor = subcommand(
    program,
    'doctor',
    'local: how the ledger stands (whole, damaged), its copy, and what each region runs, read from the region',
  );
  doctor.addHelpText(
    'after',
    '\nExit 0 when the ledger is whole (or new), 1 when it is damaged or lost: see `flotilla repair`.',
  );
  handle(doctor, async (ctx) => {
    localOnly(ctx, 'doctor');
    const config = await ctx.loadConfig();
    const { doctor: check } = await import('../../backends/local/repair.ts');
    const { lostLedger } = await import('../../backends/local/ledger-copy.ts');
    const report = await check(ctx.stateDir(), config);
    const lost = report.ledger.state === 'new' ? await lostLedger(ctx.stateDir()) : undefined;
    const ledger = lost ? { state: 'damaged' as const, problem: lost, dir: report.ledger.dir } : report.ledger;
    if (ctx.json) printJson({ ...report, ledger });
    else {
      const l = ledger;
      print(
        `ledger   ${l.dir}: ${
          l.state === 'whole'
            ? `whole, ${l.releases} release${l.releases === 1 ? '' : 's'}`
            : l.state === 'new'
              ? 'none yet'
              : `${l.state}: ${l.problem}`
        }`,
      );
      const c = report.copy;
      print(
        `copy     ${c === null ? 'none yet' : 'problem' in c ? `${c.file}: ${c.problem}` : `${c.file}: ${c.items} items, taken ${c.takenAt}`}`,
      );
      for (const r of report.regions) {
        print(
          `region   ${r.region.padEnd(16)} ${r.current ?? '(nothing deployed)'}${
            r.pid === null ? '' : r.running ? ` (pid ${r.pid} running)` : ` (pid ${r.pid} gone)`
          }`,
        );
      }
      if (l.state === 'damaged') print('run `flotilla repair` to rebuild the ledger from its copy and the regions');
    }
    return ledger.state === 'damaged' ? EXIT.failed : EXIT.ok;
  });

  const repair = subcommand(
    program,
    'repair',
    'local: rebuild a damaged or lost ledger from its copy and from what each region runs',
  );
  repair.addHelpText(
    'after',
    `
The damaged files are moved to <state-dir>/ledger.damaged-<time>, never deleted. A release the copy
shows running is closed as interrupted by the next command. Exit 6 when the ledger is whole.`,
  );
  handle(repair, async (ctx) => {
    localOnly(ctx, 'repair');
    const config = await ctx.loadConfig();
    const { repairLedger } = await import('../../backends/local/repair.ts');
    const report = await repairLedger(ctx.stateDir(), config, Date.now());
    if (ctx.json) printJson(report);
    else {
      if (report.movedTo) print(`moved the damaged ledger to ${report.movedTo}`);
      print(
        report.restored
          ? `restored ${report.restored.items} items from the copy taken ${report.restored.takenAt}`
          : 'no copy to restore from: the history is lost; the regions are read back',
      );
      for (const r of report.regions) print(`region   ${r.region.padEnd(16)} ${r.version ?? '(nothing deployed)'}`);
    }
    return EXIT.ok;
  });
}
