/** `flotilla release <build>`: ship a build through every wave, with live progress. */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { FlotillaConfig } from '../../config/types.ts';
import { type ArtifactRequest, formatArtifactProblems, resolveArtifacts } from '../../core/artifacts.ts';
import { checkVersion } from '../../core/version.ts';
import type { Context } from '../context.ts';
import { releaseExit, UsageError } from '../exit-codes.ts';
import { COMMON, handle, subcommand } from '../options.ts';
import { printJson, printOutcome } from '../output.ts';
import { releaseTarget } from '../release-target.ts';

export function register(program: Command): void {
  const command = subcommand(program, 'release [build]', 'ship a build through every wave', [
    ...COMMON,
    'version',
    'artifacts',
    'copyFrom',
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
Per region: {awsRegion} and {region} in <build> (or in the AppSpec) are filled in for each
region (s3://shop-builds-{awsRegion}/shop/1.4.0.zip); --artifacts FILE maps region names to
their own builds (then <build> is the default, or may be left out if the map names every region).
--copy-from s3://ci/shop/1.4.0.zip (aws, Server groups): copy that one bundle into each
region's location (staged before the waves start). Every region's build is checked against its
platform (S3 bundle for Server; task definition and Lambda ARNs in the group's own AWS region)
before anything runs: a problem is exit 2, naming the region.
With \`flotilla up\` running for the state dir the release runs there and this command follows it;
otherwise it runs here, serving the control API meanwhile so another terminal can steer it.
--emergency --reason R: the break-glass lane. It waits before its first wave until a second,
distinct person runs \`flotilla approve <release> --reason R\`; its bakes are
emergency.minBakeSeconds; with both approvals it passes freezes and closed windows; it stays
marked for review in \`history\`.`,
  );
  handle(command, async (ctx, build: string | undefined) => {
    // The break-glass lane names who asks and why before anything is read: the approval needs both.
    const emergency = ctx.options.emergency ? ctx.who('release --emergency') : undefined;
    if (build === undefined && ctx.options.artifacts === undefined) {
      throw new UsageError("missing required argument 'build' (or --artifacts FILE naming every region's)");
    }
    if (ctx.options.copyFrom !== undefined && ctx.backend() !== 'aws') {
      throw new UsageError('--copy-from copies S3 bundles between buckets: it needs --backend aws');
    }
    const { artifact, version } =
      build === undefined ? { artifact: '', version: await mapVersion(ctx) } : await releaseArtifact(ctx, build);
    const artifacts = ctx.options.artifacts === undefined ? undefined : await artifactMap(ctx, ctx.options.artifacts);
    const config = await ctx.loadConfig();
    const request: ArtifactRequest = {
      artifact,
      ...(artifacts ? { artifacts } : {}),
      ...(ctx.options.copyFrom !== undefined ? { copyFrom: ctx.options.copyFrom } : {}),
    };
    await checkArtifacts(config, version, request);
    const outcome = await (await releaseTarget(ctx, config)).release({
      version,
      ...request,
      ...(emergency ? { emergency } : {}),
    });
    if (ctx.json) printJson(outcome);
    else printOutcome(outcome);
    return releaseExit(outcome);
  });
}

/**
 * Every region's build checked against its platform (core/artifacts.ts), before a lock is taken or
 * a region touched: exit 2 naming each region and its problem. PlanRelease checks it again.
 */
async function checkArtifacts(config: FlotillaConfig, version: string, request: ArtifactRequest): Promise<void> {
  const resolved = resolveArtifacts(config, version, request);
  const problems = resolved.ok ? [] : [...resolved.problems];
  if (resolved.ok) {
    // A templated local build (`builds/{region}`) names one directory per region: each must exist.
    for (const { name, target } of config.regions) {
      const dir = resolved.revisions.get(name)?.artifact;
      if (target.kind !== 'local-process' || dir === undefined) continue;
      if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
        problems.push({ region: name, message: `build directory ${dir} does not exist` });
      }
    }
  }
  if (problems.length > 0) {
    throw new UsageError(`the release's builds cannot ship; nothing was deployed\n${formatArtifactProblems(problems)}`);
  }
}

/** What `release` ships: a build directory locally; an S3 bundle or an AppSpec file on AWS. */
async function releaseArtifact(ctx: Context, build: string): Promise<{ artifact: string; version: string }> {
  // Checked here, before the config is read or a lock taken: a bad version deploys nothing (exit 2).
  const wanted = ctx.options.version === undefined ? undefined : checkVersion(ctx.options.version, '--version');
  if (ctx.backend() === 'aws') {
    if (wanted === undefined) throw new UsageError('--backend aws needs --version');
    return { artifact: await awsArtifact(build, process.cwd()), version: wanted };
  }
  const artifact = await localBuild(build, process.cwd());
  return { artifact, version: wanted ?? (await buildVersion(artifact)) };
}

/** With only --artifacts, the version must be given (a map has no one package.json). */
async function mapVersion(ctx: Context): Promise<string> {
  if (ctx.options.version === undefined) throw new UsageError('--artifacts without a <build> needs --version');
  return checkVersion(ctx.options.version, '--version');
}

/** An AWS build as an artifact string: an s3:// or github: revision as is, else an AppSpec file's content. */
async function awsArtifact(build: string, base: string): Promise<string> {
  if (build.startsWith('s3://') || build.startsWith('github:')) return build;
  const file = resolve(base, build);
  if (!(await stat(file).catch(() => undefined))?.isFile()) {
    throw new UsageError(`${build} is neither an s3:// bundle nor an AppSpec file`);
  }
  return `appspec:${await readFile(file, 'utf8')}`;
}

/** A local build directory, absolute. Its templated form (`{region}`) is checked per region later. */
async function localBuild(build: string, base: string): Promise<string> {
  const artifact = resolve(base, build);
  if (artifact.includes('{region}')) return artifact;
  if (!(await stat(artifact).catch(() => undefined))?.isDirectory()) {
    throw new UsageError(`build directory ${artifact} does not exist`);
  }
  return artifact;
}

/**
 * --artifacts FILE: a YAML (or JSON) mapping of region name to that region's build, each read as
 * <build> is (an s3:// bundle or an AppSpec file on AWS, a build directory locally), paths relative
 * to the file.
 */
async function artifactMap(ctx: Context, file: string): Promise<Record<string, string>> {
  const path = resolve(file);
  const text = await readFile(path, 'utf8').catch(() => {
    throw new UsageError(`--artifacts ${file}: no such file`);
  });
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new UsageError(`--artifacts ${file}: not YAML or JSON (${(error as Error).message.split('\n')[0]})`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new UsageError(`--artifacts ${file}: must map region names to builds (us-east-1: s3://…)`);
  }
  const base = dirname(path);
  const out: Record<string, string> = {};
  for (const [region, value] of Object.entries(data)) {
    if (typeof value !== 'string' || value.trim() === '') {
      throw new UsageError(`--artifacts ${file}: ${region}: must be a build (a string)`);
    }
    out[region] = ctx.backend() === 'aws' ? await awsArtifact(value, base) : await localBuild(value, base);
  }
  return out;
}

async function buildVersion(dir: string): Promise<string> {
  const pkg = resolve(dir, 'package.json');
  if (!existsSync(pkg)) throw new UsageError(`${dir} has no package.json: pass --version`);
  const { version } = JSON.parse(await readFile(pkg, 'utf8')) as { version?: unknown };
  if (version === undefined || version === '') throw new UsageError(`${pkg} has no version: pass --version`);
  return checkVersion(version, `${pkg}: version`);
}
