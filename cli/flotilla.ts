#!/usr/bin/env node
/**
 * flotilla: validate and plan a release config, ship a build through its waves, and ask what runs where.
 * Exit codes: 0 ok / release SUCCEEDED; 1 release did not succeed (rolled back, blocked, failed);
 * 2 bad usage or invalid config (nothing deployed); 3 the service or state directory is busy.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { configJsonSchema, formatProblems, loadConfigFile } from '../config/load.ts';
import type { FlotillaConfig } from '../config/types.ts';
import { minimumDuration } from '../core/plan.ts';
import type { ReleaseOutcome } from '../core/types.ts';
import type { EventSink } from '../ports/events.ts';
import type { Ledger, ReleaseRecord } from '../ports/ledger.ts';
import { plainLine, TerminalProgress } from './progress.ts';

const USAGE = `usage: flotilla <command> [options]

commands:
  validate                  check the config; one line per problem, with its path
  plan                      the waves in order and the minimum duration they imply
  release <build>           ship a build through every wave. Local: a build directory (--version V, default:
                            its package.json version). AWS: s3://bucket/key (Server platforms) or an
                            AppSpec file (Lambda, ECS), with --version V
  status [release-id]       the latest (or given) release, region by region
  where                     which version runs in each region
  history                   past releases, newest first
  schema                    the JSON Schema of the config, for editors

options:
  --config <file>           release config (default: $FLOTILLA_CONFIG or ./flotilla.yml)
  --backend local|aws       where releases run (default: $FLOTILLA_BACKEND or local); aws uses the
                            config's aws: section (the deployed stack) and your AWS credentials
  --state-dir <dir>         local backend state (default: $FLOTILLA_STATE_DIR or ./.flotilla)
  --attempt <n>             aws: release the same version again under a new execution name
  --no-wait                 aws: return once the release has started
  --json                    machine-readable output (read verbs and release)
`;

class UsageError extends Error {}

const { values: opts, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        'state-dir': { type: 'string' },
        version: { type: 'string' },
        backend: { type: 'string' },
        attempt: { type: 'string' },
        'no-wait': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`flotilla: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
})();

const print = (text: string) => process.stdout.write(`${text}\n`);
const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));

function configPath(): string {
  return resolve(opts.config ?? process.env.FLOTILLA_CONFIG ?? 'flotilla.yml');
}

function stateDir(): string {
  return resolve(opts['state-dir'] ?? process.env.FLOTILLA_STATE_DIR ?? '.flotilla');
}

async function loadConfig(): Promise<FlotillaConfig> {
  const path = configPath();
  const result = await loadConfigFile(path);
  if (!result.ok) {
    process.stderr.write(
      `${path}: ${result.problems.length} problem(s); nothing was deployed\n${formatProblems(result.problems)}\n`,
    );
    process.exit(2);
  }
  return result.config;
}

/** What the commands need from a backend: the ledger for reads, and a way to run a release. */
interface CliBackend {
  ledger: Ledger;
  release(request: { version: string; artifact: string }): Promise<ReleaseOutcome>;
  /** AWS only: the execution's own status and console link, for `status`. */
  execution?(releaseId: string): Promise<{ status: string; consoleUrl: string }>;
  close(): Promise<void>;
}

function backendName(): 'local' | 'aws' {
  const name = opts.backend ?? process.env.FLOTILLA_BACKEND ?? 'local';
  if (name !== 'local' && name !== 'aws') throw new UsageError(`--backend must be local or aws (got "${name}")`);
  return name;
}

async function openBackend(config: FlotillaConfig, events?: EventSink): Promise<CliBackend> {
  if (backendName() === 'aws') return openAws(config, events);
  // Loaded on demand: the engine, dynalite and the AWS SDK are not needed to validate or plan.
  const { openLocalBackend } = await import('../backends/local/index.ts');
  try {
    const backend = await openLocalBackend({ stateDir: stateDir(), config, ...(events ? { events } : {}) });
    for (const record of backend.interrupted) {
      process.stderr.write(
        `warning: release ${record.releaseId} was interrupted (its process exited); marked FAILED. ` +
          'Regions it touched keep what they ran when it stopped: see `flotilla where`.\n',
      );
    }
    return backend;
  } catch (error) {
    if ((error as Error).name === 'StateDirLocked') {
      process.stderr.write(`flotilla: ${(error as Error).message}\n`);
      process.exit(3);
    }
    throw error;
  }
}

async function openAws(config: FlotillaConfig, events?: EventSink): Promise<CliBackend> {
  if (!config.aws) {
    throw new UsageError(`${configPath()} has no aws: section (region, stateMachineArn, table of the deployed stack)`);
  }
  const { AwsCliBackend } = await import('../backends/aws/cli.ts');
  const aws = new AwsCliBackend({ config, settings: config.aws, ...(events ? { events } : {}) });
  const attempt = opts.attempt === undefined ? 1 : Number(opts.attempt);
  if (!Number.isInteger(attempt) || attempt < 1) throw new UsageError(`--attempt must be a whole number >= 1`);
  return {
    ledger: aws.ledger,
    async release(request) {
      const started = await aws.start({ ...request, attempt });
      if (!opts.json) process.stderr.write(`started ${started.releaseId}: ${started.consoleUrl}\n`);
      if (opts['no-wait']) {
        return {
          releaseId: started.releaseId,
          service: config.service,
          version: request.version,
          status: 'RUNNING',
          reason: started.consoleUrl,
          regions: [],
        };
      }
      return aws.follow(started.releaseId);
    },
    async execution(releaseId) {
      const { status } = await aws.describe(releaseId);
      return { status, consoleUrl: (await import('../backends/aws/cli.ts')).consoleUrl(aws.executionArn(releaseId)) };
    },
    async close() {},
  };
}

/** What `release` ships: a build directory locally; an S3 bundle or an AppSpec file on AWS. */
async function releaseArtifact(build: string): Promise<{ artifact: string; version: string }> {
  if (backendName() === 'aws') {
    if (!opts.version) throw new UsageError('--backend aws needs --version');
    if (build.startsWith('s3://')) return { artifact: build, version: opts.version };
    const file = resolve(build);
    if (!(await stat(file).catch(() => undefined))?.isFile()) {
      throw new UsageError(`${build} is neither an s3:// bundle nor an AppSpec file`);
    }
    return { artifact: `appspec:${await readFile(file, 'utf8')}`, version: opts.version };
  }
  const artifact = resolve(build);
  if (!(await stat(artifact).catch(() => undefined))?.isDirectory()) {
    throw new UsageError(`build directory ${artifact} does not exist`);
  }
  return { artifact, version: await buildVersion(artifact) };
}

async function buildVersion(dir: string): Promise<string> {
  if (opts.version) return opts.version;
  const pkg = resolve(dir, 'package.json');
  if (!existsSync(pkg)) throw new UsageError(`${dir} has no package.json: pass --version`);
  const { version } = JSON.parse(await readFile(pkg, 'utf8')) as { version?: unknown };
  if (typeof version !== 'string' || version === '') throw new UsageError(`${pkg} has no version: pass --version`);
  return version;
}

function releaseSummary(record: ReleaseRecord) {
  return {
    releaseId: record.releaseId,
    service: record.service,
    version: record.version,
    status: record.status,
    reason: record.reason ?? null,
    wave: record.wave + 1,
    waveCount: record.waveCount,
    startedAt: record.startedAt,
    endedAt: record.endedAt ?? null,
    regions: Object.values(record.regions)
      .sort((a, b) => a.wave - b.wave || a.region.localeCompare(b.region))
      .map((r) => ({
        region: r.region,
        wave: r.wave + 1,
        phase: r.phase,
        before: r.before?.version ?? null,
        ...(r.message ? { message: r.message } : {}),
      })),
  };
}

function printOutcome(outcome: ReleaseOutcome): void {
  print(`\n${outcome.status}: ${outcome.service} ${outcome.version} (${outcome.releaseId})`);
  print(outcome.reason);
  for (const r of outcome.regions) print(`  ${r.region.padEnd(16)} ${(r.version ?? '-').padEnd(12)} ${r.phase}`);
}

async function main(): Promise<number> {
  const [command, ...args] = positionals;
  if (opts.help || !command) {
    print(USAGE);
    return command || opts.help ? 0 : 2;
  }
  switch (command) {
    case 'validate': {
      const config = await loadConfig();
      const regions = config.regions.length;
      print(`${configPath()}: ok (${config.service}: ${regions} regions in ${config.waves.length} waves)`);
      return 0;
    }
    case 'plan': {
      const config = await loadConfig();
      const estimate = minimumDuration(config);
      if (opts.json) {
        printJson({ service: config.service, ...estimate });
        return 0;
      }
      print(`${config.service}: ${config.regions.length} regions in ${estimate.waves.length} waves`);
      estimate.waves.forEach((w, i) => {
        print(`  wave ${i + 1} ${w.name}: ${w.regions.join(', ')} (bake ${w.bakeSeconds}s)`);
      });
      print(`minimum duration: ${estimate.minimumSeconds}s of bakes, plus the slowest region's deploy per wave`);
      return 0;
    }
    case 'schema': {
      printJson(configJsonSchema());
      return 0;
    }
    case 'release': {
      const build = args[0];
      if (!build) throw new UsageError('release needs a build');
      const { artifact, version } = await releaseArtifact(build);
      const config = await loadConfig();
      const events: EventSink = opts.json
        ? { emit: () => {} }
        : process.stdout.isTTY
          ? new TerminalProgress(process.stdout)
          : {
              emit: (e) => {
                print(plainLine(e));
              },
            };
      const backend = await openBackend(config, events);
      let outcome: ReleaseOutcome;
      try {
        outcome = await backend.release({ version, artifact });
      } catch (error) {
        const name = (error as Error).name;
        if (name === 'ServiceLocked' || name === 'ReleaseExists') {
          process.stderr.write(`flotilla: ${(error as Error).message}\n`);
          return 3;
        }
        throw error;
      } finally {
        await backend.close();
      }
      if (opts.json) printJson(outcome);
      else printOutcome(outcome);
      if (outcome.status === 'RUNNING') return 0;
      return outcome.status === 'SUCCEEDED' ? 0 : 1;
    }
    case 'where': {
      const config = await loadConfig();
      const backend = await openBackend(config);
      try {
        const states = new Map((await backend.ledger.listRegions(config.service)).map((s) => [s.region, s]));
        const regions = config.regions.map((r) => ({
          region: r.name,
          version: states.get(r.name)?.current?.version ?? null,
        }));
        if (opts.json) printJson({ service: config.service, regions });
        else for (const r of regions) print(`${r.region.padEnd(16)} ${r.version ?? '(nothing deployed)'}`);
        return 0;
      } finally {
        await backend.close();
      }
    }
    case 'status':
    case 'history': {
      const config = await loadConfig();
      const backend = await openBackend(config);
      try {
        const releases = await backend.ledger.listReleases(config.service, command === 'history' ? 50 : 1);
        const wanted = args[0];
        if (command === 'status') {
          const record = wanted ? await backend.ledger.getRelease(config.service, wanted) : releases[0];
          if (!record) {
            process.stderr.write(
              wanted ? `flotilla: no release ${wanted}\n` : `flotilla: ${config.service} has no releases yet\n`,
            );
            return wanted ? 1 : 0;
          }
          const execution = await backend.execution?.(record.releaseId).catch(() => undefined);
          const summary = { ...releaseSummary(record), ...(execution ? { execution } : {}) };
          if (opts.json) printJson(summary);
          else {
            print(
              `${summary.releaseId}: ${summary.status} (wave ${summary.wave}/${summary.waveCount}) ${summary.reason ?? ''}`,
            );
            if (execution) print(`  execution ${execution.status}: ${execution.consoleUrl}`);
            for (const r of summary.regions) {
              print(
                `  ${r.region.padEnd(16)} wave ${r.wave}  ${r.phase.padEnd(16)} before: ${r.before ?? '-'}${r.message ? `  ${r.message}` : ''}`,
              );
            }
          }
          return 0;
        }
        if (opts.json) printJson(releases.map(releaseSummary));
        else
          for (const r of releases)
            print(`${r.startedAt}  ${r.releaseId.padEnd(28)} ${r.status.padEnd(16)} ${r.reason ?? ''}`);
        return 0;
      } finally {
        await backend.close();
      }
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

// Ctrl-C: exit now. The 'exit' handlers stop every region process this command started; the
// release stays RUNNING under a dead pid, and the next command closes it as FAILED (interrupted).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    process.stderr.write(
      `\nflotilla: ${signal}: stopping; the next flotilla command will mark the release interrupted\n`,
    );
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`flotilla: ${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    process.stderr.write(`flotilla: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
