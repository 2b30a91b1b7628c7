/** `flotilla release <build>`: ship a build through every wave, with live progress. */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { checkVersion } from '../../core/version.ts';
import type { Context } from '../context.ts';
import { releaseExit, UsageError } from '../exit-codes.ts';
import { COMMON, handle, subcommand } from '../options.ts';
import { printJson, printOutcome } from '../output.ts';
import { releaseTarget } from '../release-target.ts';

export function register(program: Command): void {
  const command = subcommand(program, 'release <build>', 'ship a build through every wave', [
    ...COMMON,
    'version',
    'attempt',
    'noWait',
    'emergency',
    'reason',
    'actor',
  ]);
  command.addHelpText(
    'after',
    `
<build> is, locally, a build directory (--version V, default: its package.json version); on AWS,
s3://bucket/key (Server platforms) or an AppSpec file (Lambda, ECS), with --version V.
With \`flotilla up\` running for the state dir the release runs there and this command follows it;
otherwise it runs here, serving the control API meanwhile so another terminal can steer it.
--emergency --reason R: the break-glass lane. It waits before its first wave until a second,
distinct person runs \`flotilla approve <release> --reason R\`; its bakes are
emergency.minBakeSeconds; with both approvals it passes freezes and closed windows; it stays
marked for review in \`history\`.`,
  );
  handle(command, async (ctx, build: string) => {
    // The break-glass lane names who asks and why before anything is read: the approval needs both.
    const emergency = ctx.options.emergency ? ctx.who('release --emergency') : undefined;
    const { artifact, version } = await releaseArtifact(ctx, build);
    const config = await ctx.loadConfig();
    const outcome = await (await releaseTarget(ctx, config)).release({
      version,
      artifact,
      ...(emergency ? { emergency } : {}),
    });
    if (ctx.json) printJson(outcome);
    else printOutcome(outcome);
    return releaseExit(outcome);
  });
}

/** What `release` ships: a build directory locally; an S3 bundle or an AppSpec file on AWS. */
async function releaseArtifact(ctx: Context, build: string): Promise<{ artifact: string; version: string }> {
  // Checked here, before the config is read or a lock taken: a bad version deploys nothing (exit 2).
  const wanted = ctx.options.version === undefined ? undefined : checkVersion(ctx.options.version, '--version');
  if (ctx.backend() === 'aws') {
    if (wanted === undefined) throw new UsageError('--backend aws needs --version');
    if (build.startsWith('s3://')) return { artifact: build, version: wanted };
    const file = resolve(build);
    if (!(await stat(file).catch(() => undefined))?.isFile()) {
      throw new UsageError(`${build} is neither an s3:// bundle nor an AppSpec file`);
    }
    return { artifact: `appspec:${await readFile(file, 'utf8')}`, version: wanted };
  }
  const artifact = resolve(build);
  if (!(await stat(artifact).catch(() => undefined))?.isDirectory()) {
    throw new UsageError(`build directory ${artifact} does not exist`);
  }
  return { artifact, version: wanted ?? (await buildVersion(artifact)) };
}

async function buildVersion(dir: string): Promise<string> {
  const pkg = resolve(dir, 'package.json');
  if (!existsSync(pkg)) throw new UsageError(`${dir} has no package.json: pass --version`);
  const { version } = JSON.parse(await readFile(pkg, 'utf8')) as { version?: unknown };
  if (version === undefined || version === '') throw new UsageError(`${pkg} has no version: pass --version`);
  return checkVersion(version, `${pkg}: version`);
}
