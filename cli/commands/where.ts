/** `flotilla where`: which version runs in each region, since when, by which release, and whether it is up. */
import type { Command } from 'commander';
import type { WhereAnswer } from '../../control/server.ts';
import { EXIT } from '../exit-codes.ts';
import { handle, subcommand } from '../options.ts';
import { print, printJson } from '../output.ts';
import { releaseTarget } from '../release-target.ts';

type WhereRegion = WhereAnswer['regions'][number];

export function register(program: Command): void {
  const command = subcommand(program, 'where', 'which version runs in each region, since when, and whether it is up');
  command.addHelpText(
    'after',
    `
It reads the ledger and looks at each region's recorded process and port: it starts nothing.
A region whose process is down says so; the next release, rollback or \`flotilla up\` starts it
again from its current release.`,
  );
  handle(command, async (ctx) => {
    const config = await ctx.loadConfig();
    const reads = await (await releaseTarget(ctx, config)).reads();
    try {
      const answer = await reads.where();
      if (ctx.json) printJson(answer);
      else
        for (const r of answer.regions)
          print(
            whereLine(
              r,
              config.regions.find((c) => c.name === r.region),
            ),
          );
      return EXIT.ok;
    } finally {
      await reads.close();
    }
  });
}

/** `us-east-1   1.0.0   since 2026-12-01T13:20:01Z by shop-1.0.0   up (pid 4242)` */
function whereLine(r: WhereRegion, configured: { target: { kind: string; port?: number } } | undefined): string {
  const head = `${r.region.padEnd(16)} ${(r.version ?? '(nothing deployed)').padEnd(12)}`;
  const since = r.since ? ` since ${r.since.replace(/\.\d+Z$/, 'Z')}${r.releaseId ? ` by ${r.releaseId}` : ''}` : '';
  return `${head}${since}${r.process ? `  ${processText(r, configured?.target.port)}` : ''}`.trimEnd();
}

function processText(r: WhereRegion, port: number | undefined): string {
  const p = r.process;
  if (!p) return '';
  const other = 'version' in p && r.version !== null && p.version !== r.version ? `, runs ${p.version}` : '';
  switch (p.state) {
    case 'serving':
      return `up (pid ${p.pid}${other})${p.healthy ? '' : ', health check failing'}`;
    case 'not-answering':
      return `NOT ANSWERING on port ${port ?? '?'} (pid ${p.pid}${other})`;
    case 'down':
      if (p.portTaken) return `DOWN: port ${port ?? '?'} is held by another program`;
      return r.version === null ? '' : 'DOWN: its process is not running';
  }
}
