#!/usr/bin/env node
/**
 * flotilla: validate and plan a release config, ship a build through its waves, ask what runs where,
 * and steer a running release (pause, promote, abort, ...) through the control API of `flotilla up`.
 * Exit codes: 0 ok / release SUCCEEDED; 1 release did not succeed (rolled back, blocked, failed);
 * 2 bad usage or invalid config (nothing deployed); 3 busy or refused (the service or state directory
 * is busy, an intent that does not apply, a wrong control token).
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { LocalBackend } from '../backends/local/index.ts';
import { configJsonSchema, formatProblems, loadConfigFile } from '../config/load.ts';
import type { FlotillaConfig } from '../config/types.ts';
import type { ControlClient, ControlEndpoint } from '../control/client.ts';
import type {
  ControlHandler,
  ControlServer,
  HandlerHooks,
  IntentBody,
  IntentVerb,
  ReleaseWithIntents,
  WhereAnswer,
} from '../control/server.ts';
import { freezeOf, type Intent } from '../core/control.ts';
import { plainLine } from '../core/event-line.ts';
import { outcomeOfRecord } from '../core/outcome.ts';
import { minimumDuration } from '../core/plan.ts';
import type { ReleaseOutcome } from '../core/types.ts';
import type { EventSink, Stamped } from '../ports/events.ts';
import type { Ledger, ReleaseRecord } from '../ports/ledger.ts';
import { TerminalProgress } from './progress.ts';

const USAGE = `usage: flotilla <command> [options]

commands:
  validate                  check the config; one line per problem, with its path
  plan                      the waves in order and the minimum duration they imply
  release <build>           ship a build through every wave. Local: a build directory (--version V, default:
                            its package.json version). AWS: s3://bucket/key (Server platforms) or an
                            AppSpec file (Lambda, ECS), with --version V
  status [release-id]       the latest (or given) release, region by region, and who steered it
  where                     which version runs in each region
  history                   past releases, newest first, each with its intents
  schema                    the JSON Schema of the config, for editors
  up                        local: keep the backend open; serve the control API (and POST /github when
                            FLOTILLA_GITHUB_SECRET and FLOTILLA_ARTIFACT_TEMPLATE are set) on 127.0.0.1
                            (token in <state-dir>/control-token); releases it runs show live. Ctrl-C stops

steering a release (an intent is recorded with who and why; the release acts on it at its next safe
point; with no release-id: the running one). Each needs --reason; --actor defaults to $USER@host:
  pause [release-id]        hold the release before its next wave
  resume [release-id]       let a paused release go on
  promote [release-id]      pass the current bake or approval now
  abort [release-id]        stop the release and roll back every region it touched
  skip-region <region> [release-id]   leave a region that has not started out of the release
  freeze / unfreeze         hold (let go) the next wave of every release of the service
  force [release-id]        take the next wave past a freeze or closed deploy windows (audited)
  rollback <release-id>     put back what a SUCCEEDED release changed (runs a rollback release)

With \`flotilla up\` (or a \`release\`) running for the state dir, release, verbs and reads go
through its control API; otherwise they open the state dir themselves. \`release\` serves the same
API while it runs, so it can be steered from another terminal.

options:
  --config <file>           release config (default: $FLOTILLA_CONFIG or ./flotilla.yml)
  --backend local|aws       where releases run (default: $FLOTILLA_BACKEND or local); aws uses the
                            config's aws: section (the deployed stack) and your AWS credentials
  --state-dir <dir>         local backend state (default: $FLOTILLA_STATE_DIR or ./.flotilla)
  --attempt <n>             aws: release the same version again under a new execution name
  --no-wait                 aws, or through a control server: return once the release has started
  --reason <text>           why (required by every steering verb; kept in the audit)
  --actor <name>            who (default: $USER@<hostname>)
  --json                    machine-readable output (read verbs, release and steering verbs)
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
        reason: { type: 'string' },
        actor: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`flotilla: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
})();

/** Set by a command that stops cleanly on SIGINT/SIGTERM: does so, and gives the exit code. */
let onSignal: ((signal: NodeJS.Signals) => Promise<number>) | undefined;

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
  return openLocal(config, events);
}

/**
 * The team channel, when Slack is configured (FLOTILLA_SLACK_BOT_TOKEN + FLOTILLA_SLACK_CHANNEL,
 * FLOTILLA_SLACK_WEBHOOK_URL, or <state dir>/slack.json with mode 0600): release events go there
 * too. Without Slack settings the terminal progress already says everything.
 */
async function slackNotifier() {
  const [{ SlackNotifier }, { slackSettingsFromEnv, slackSettingsFromStateDir }] = await Promise.all([
    import('../adapters/slack/notifier.ts'),
    import('../adapters/slack/settings.ts'),
  ]);
  try {
    const settings = slackSettingsFromEnv(process.env) ?? (await slackSettingsFromStateDir(stateDir()));
    return settings ? new SlackNotifier(settings, { writer: process.stderr }) : undefined;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function openLocal(config: FlotillaConfig, events?: EventSink): Promise<LocalBackend> {
  // Loaded on demand: the engine, dynalite and the AWS SDK are not needed to validate or plan.
  const { openLocalBackend } = await import('../backends/local/index.ts');
  const slack = events ? await slackNotifier() : undefined;
  const sink: EventSink | undefined =
    slack && events
      ? {
          async emit(event) {
            await events.emit(event);
            await slack.emit(event);
          },
        }
      : events;
  try {
    const backend = await openLocalBackend({ stateDir: stateDir(), config, ...(sink ? { events: sink } : {}) });
    if (slack) {
      // Slack updates are paced (about one a second): let the last ones go out before the command ends.
      const close = backend.close.bind(backend);
      backend.close = async () => {
        await slack.flush();
        await close();
      };
    }
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

async function awsCli(config: FlotillaConfig, events?: EventSink) {
  if (!config.aws) {
    throw new UsageError(`${configPath()} has no aws: section (region, stateMachineArn, table of the deployed stack)`);
  }
  const { AwsCliBackend } = await import('../backends/aws/cli.ts');
  return new AwsCliBackend({ config, settings: config.aws, ...(events ? { events } : {}) });
}

async function openAws(config: FlotillaConfig, events?: EventSink): Promise<CliBackend> {
  const aws = await awsCli(config, events);
  const attempt = opts.attempt === undefined ? 1 : Number(opts.attempt);
  if (!Number.isInteger(attempt) || attempt < 1) throw new UsageError(`--attempt must be a whole number >= 1`);
  return {
    ledger: aws.ledger,
    async release(request) {
      const started = await aws.start({ ...request, attempt });
      if (!opts.json) process.stderr.write(`started ${started.releaseId}: ${started.consoleUrl}\n`);
      if (opts['no-wait'])
        return runningOutcome(started.releaseId, config.service, request.version, started.consoleUrl);
      return aws.follow(started.releaseId);
    },
    async execution(releaseId) {
      const { status } = await aws.describe(releaseId);
      return { status, consoleUrl: (await import('../backends/aws/cli.ts')).consoleUrl(aws.executionArn(releaseId)) };
    },
    async close() {},
  };
}

function runningOutcome(releaseId: string, service: string, version: string, reason: string): ReleaseOutcome {
  return { releaseId, service, version, status: 'RUNNING', reason, regions: [] };
}

// --- the control API: found, served, followed ----------------------------------------------------

/** The control server of this state dir, if one runs (local backend only). */
async function controlEndpoint(): Promise<ControlEndpoint | undefined> {
  if (backendName() !== 'local') return undefined;
  const { findControlServer } = await import('../control/client.ts');
  return findControlServer(stateDir());
}

async function clientFor(endpoint: ControlEndpoint): Promise<ControlClient> {
  const { controlClient } = await import('../control/client.ts');
  return controlClient(endpoint);
}

/** Live progress: a redrawn table per release on a terminal, plain lines elsewhere, nothing with --json. */
function progressSink(): EventSink & { note(text: string): void } {
  if (opts.json) return { emit: () => {}, note: () => {} };
  if (!process.stdout.isTTY) {
    return {
      emit(e) {
        print(plainLine(e));
      },
      note(text) {
        print(`${new Date().toISOString().slice(11, 19)} ${text}`);
      },
    };
  }
  let table: TerminalProgress | undefined;
  return {
    emit(e) {
      if (e.kind === 'release-started' || !table) table = new TerminalProgress(process.stdout);
      table.emit(e);
    },
    note(text) {
      if (table) table.note(text);
      else print(text);
    },
  };
}

/** Serves the control API on a local backend; undefined (with a warning) when it cannot. */
async function serveControl(
  backend: LocalBackend,
  config: FlotillaConfig,
  hooks: HandlerHooks,
  wrap: (handler: ControlHandler) => ControlHandler,
  /** `flotilla up` only: serve POST /github when configured, telling `note` of each delivery. */
  github?: { note(text: string): void },
): Promise<ControlServer> {
  const { controlHandlerFor, githubLogLine, githubReleasesFor, startControlServer } = await import(
    '../control/server.ts'
  );
  return startControlServer({
    stateDir: stateDir(),
    handler: wrap(controlHandlerFor(backend, config, hooks)),
    onError: (error) => process.stderr.write(`flotilla: control API: ${(error as Error).stack ?? String(error)}\n`),
    ...(github
      ? {
          github: {
            releases: githubReleasesFor(backend, config, hooks),
            log: (entry: Record<string, unknown>) => github.note(githubLogLine(entry)),
          },
        }
      : {}),
  });
}

/** Stops the server, but never waits long for it: the command is ending. */
async function closeQuietly(server: ControlServer | undefined): Promise<void> {
  if (!server) return;
  await Promise.race([server.close().catch(() => {}), new Promise((ok) => setTimeout(ok, 2_000).unref())]);
}

/** One audit line: `at actor verb [region] — reason` (without `at` where the line has its own time). */
function auditLine(intent: Intent, withTime = true): string {
  const what = `${intent.actor} ${intent.verb}${intent.region ? ` ${intent.region}` : ''} — ${intent.reason}`;
  return withTime ? `${intent.at} ${what}` : what;
}

function outcomeFrom(record: ReleaseRecord, where: WhereAnswer): ReleaseOutcome {
  return outcomeOfRecord(record, new Map(where.regions.map((r) => [r.region, r.version])));
}

/**
 * Follows a release the control server runs by reading it until it is no longer RUNNING: what
 * changed, as plain lines, and each intent as it is recorded.
 */
async function followThroughApi(client: ControlClient, releaseId: string): Promise<ReleaseOutcome> {
  const { diffRecords } = await import('../backends/aws/cli.ts');
  onSignal = async (signal) => {
    process.stderr.write(
      `\nflotilla: ${signal}: stopped following; ${releaseId} goes on in the control server ` +
        '(`flotilla status`, `flotilla abort` to stop it)\n',
    );
    return 130;
  };
  let previous: ReleaseRecord | undefined;
  let intentsSeen = 0;
  for (;;) {
    let record: ReleaseWithIntents | undefined;
    try {
      record = await client.findRelease(releaseId);
    } catch (error) {
      if ((error as Error).name === 'Unauthorized') throw error;
      throw new Error(
        `lost the control server while following ${releaseId} (${(error as Error).message}); ` +
          'see `flotilla status` for where it got to',
      );
    }
    if (record) {
      if (!opts.json) {
        const at = new Date().toISOString();
        for (const event of diffRecords(previous, record)) {
          print(plainLine({ ...event, service: record.service, releaseId, at } as Stamped));
        }
        for (const intent of record.intents.slice(intentsSeen))
          print(`${at.slice(11, 19)} intent: ${auditLine(intent, false)}`);
      }
      intentsSeen = record.intents.length;
      previous = record;
      if (record.status !== 'RUNNING') return outcomeFrom(record, await client.where());
    }
    await new Promise((ok) => setTimeout(ok, 300));
  }
}

// --- reads, from the control API or the ledger --------------------------------------------------

interface Reads {
  where(): Promise<WhereAnswer>;
  release(releaseId: string): Promise<ReleaseWithIntents | undefined>;
  releases(limit: number): Promise<ReleaseWithIntents[]>;
  globalIntents(): Promise<Intent[]>;
  execution?(releaseId: string): Promise<{ status: string; consoleUrl: string }>;
  close(): Promise<void>;
}

/** While `flotilla up` holds the state dir, reads go through its API; otherwise to the ledger. */
async function openReads(config: FlotillaConfig): Promise<Reads> {
  const endpoint = await controlEndpoint();
  if (endpoint) {
    const client = await clientFor(endpoint);
    return {
      where: () => client.where(),
      release: (id) => client.findRelease(id),
      releases: (limit) => client.listReleases(limit),
      globalIntents: () => client.globalIntents(),
      close: async () => {},
    };
  }
  const backend = await openBackend(config);
  const { ledger } = backend;
  const { globalIntents, whereFromLedger } = await import('../control/server.ts');
  const withIntents = async (record: ReleaseRecord): Promise<ReleaseWithIntents> => ({
    ...record,
    intents: await ledger.listIntents(config.service, record.releaseId),
  });
  return {
    where: () => whereFromLedger(ledger, config),
    async release(id) {
      const record = await ledger.getRelease(config.service, id);
      return record ? withIntents(record) : undefined;
    },
    releases: async (limit) => Promise.all((await ledger.listReleases(config.service, limit)).map(withIntents)),
    globalIntents: () => globalIntents(ledger, config.service),
    ...(backend.execution ? { execution: backend.execution.bind(backend) } : {}),
    close: () => backend.close(),
  };
}

// --- steering verbs ------------------------------------------------------------------------------

const STEERING_VERBS: ReadonlySet<string> = new Set([
  'pause',
  'resume',
  'promote',
  'abort',
  'skip-region',
  'freeze',
  'unfreeze',
  'force',
] satisfies IntentVerb[]);

function who(verb: string): { actor: string; reason: string } {
  const reason = opts.reason?.trim();
  if (!reason) throw new UsageError(`${verb} needs --reason (it is kept in the release's audit trail)`);
  const actor = (opts.actor ?? `${process.env.USER || userInfo().username}@${hostname()}`).trim();
  if (!actor) throw new UsageError(`${verb}: --actor must not be empty`);
  return { actor, reason };
}

async function steer(verb: IntentVerb, args: string[]): Promise<number> {
  const global = verb === 'freeze' || verb === 'unfreeze';
  const [first, second, ...extra] = args;
  let region: string | undefined;
  let releaseId: string | undefined;
  if (global) {
    if (args.length > 0) throw new UsageError(`${verb} applies to every release of the service: it takes no arguments`);
  } else if (verb === 'skip-region') {
    if (!first) throw new UsageError('skip-region needs a region: flotilla skip-region <region> [release-id]');
    if (extra.length > 0) throw new UsageError('skip-region takes a region and at most one release id');
    region = first;
    releaseId = second;
  } else {
    if (second !== undefined) throw new UsageError(`${verb} takes at most one release id`);
    releaseId = first;
  }
  const body: IntentBody = {
    verb,
    ...(releaseId ? { releaseId } : {}),
    ...(region ? { region } : {}),
    ...who(verb),
  };
  const config = await loadConfig();
  let intent: Intent;
  if (backendName() === 'aws') {
    intent = await (await awsCli(config)).intent(body);
  } else {
    const endpoint = await controlEndpoint();
    if (endpoint) intent = await (await clientFor(endpoint)).intent(body);
    else {
      const backend = await openLocal(config);
      try {
        intent = await backend.intent(body);
      } finally {
        await backend.close();
      }
    }
  }
  if (opts.json) printJson(intent);
  else print(`recorded for ${intent.releaseId ?? `every ${intent.service} release`}: ${auditLine(intent)}`);
  return 0;
}

/** A rollback release's exit code: 0 once every region is back (its own status says how). */
function rollbackExit(outcome: ReleaseOutcome): number {
  if (outcome.status === 'RUNNING') return 0;
  return outcome.status === 'SUCCEEDED' || outcome.status === 'ROLLED_BACK' ? 0 : 1;
}

async function rollbackCommand(args: string[]): Promise<number> {
  const [target, ...extra] = args;
  if (!target)
    throw new UsageError('rollback needs the release to put back: flotilla rollback <release-id> --reason R');
  if (extra.length > 0) throw new UsageError('rollback takes one release id');
  const person = who('rollback');
  const config = await loadConfig();
  let outcome: ReleaseOutcome;
  if (backendName() === 'aws') {
    const aws = await awsCli(config, progressSink());
    const started = await aws.rollback(target, person);
    if (!opts.json) process.stderr.write(`started ${started.releaseId}: ${started.consoleUrl}\n`);
    outcome = opts['no-wait']
      ? runningOutcome(started.releaseId, config.service, '', started.consoleUrl)
      : await aws.follow(started.releaseId);
  } else {
    const endpoint = await controlEndpoint();
    if (endpoint) {
      const client = await clientFor(endpoint);
      const { releaseId } = await client.rollback({ releaseId: target, ...person });
      if (!opts.json) process.stderr.write(`started ${releaseId} on the control server at ${endpoint.url}\n`);
      outcome = opts['no-wait']
        ? runningOutcome(releaseId, config.service, '', endpoint.url)
        : await followThroughApi(client, releaseId);
    } else {
      outcome = await runLocally(config, (backend) => backend.rollback(target, person).then((s) => s.done));
    }
  }
  if (opts.json) printJson(outcome);
  else printOutcome(outcome);
  return rollbackExit(outcome);
}

/**
 * Runs a release (or rollback) in this process on the local backend, with live progress, serving
 * the control API meanwhile so another terminal can steer it. Ctrl-C closes the API and exits.
 */
async function runLocally(
  config: FlotillaConfig,
  run: (backend: LocalBackend) => Promise<ReleaseOutcome>,
): Promise<ReleaseOutcome> {
  const events = progressSink();
  const backend = await openLocal(config, events);
  let server: ControlServer | undefined;
  try {
    server = await serveControl(backend, config, {}, (handler) => noting(handler, events));
    if (!opts.json) {
      process.stderr.write(
        `flotilla: control API on ${server.url} while this runs (pause, promote, abort, ... from another terminal)\n`,
      );
    }
  } catch (error) {
    process.stderr.write(`flotilla: warning: not serving the control API: ${(error as Error).message}\n`);
  }
  const served = server;
  onSignal = async (signal) => {
    process.stderr.write(
      `\nflotilla: ${signal}: stopping; the next flotilla command will mark the release interrupted\n`,
    );
    await closeQuietly(served);
    return 130;
  };
  try {
    return await run(backend);
  } finally {
    onSignal = undefined;
    await closeQuietly(served);
    await backend.close();
  }
}

/** The handler, saying on the progress output what each API call did. */
function noting(handler: ControlHandler, sink: { note(text: string): void }): ControlHandler {
  return {
    ...handler,
    async intent(request) {
      const intent = await handler.intent(request);
      sink.note(`intent for ${intent.releaseId ?? `every ${intent.service} release`}: ${auditLine(intent, false)}`);
      return intent;
    },
    async start(request) {
      const started = await handler.start(request);
      sink.note(`started ${started.releaseId} (${request.version}) through the control API`);
      return started;
    },
    async rollback(releaseId, person) {
      const started = await handler.rollback(releaseId, person);
      sink.note(`started ${started.releaseId}: ${person.actor} rollback ${releaseId} — ${person.reason}`);
      return started;
    },
  };
}

/** `flotilla up`: the local backend kept open, the control API served, until Ctrl-C. */
async function up(): Promise<number> {
  if (backendName() !== 'local') {
    throw new UsageError('up serves the local backend; on AWS the verbs go to Step Functions directly');
  }
  const running = await controlEndpoint();
  if (running) {
    process.stderr.write(`flotilla: a control server already serves ${stateDir()} at ${running.url}\n`);
    return 3;
  }
  const config = await loadConfig();
  const events = progressSink();
  const backend = await openLocal(config, events);
  const inFlight = new Set<string>();
  let server: ControlServer;
  try {
    server = await serveControl(
      backend,
      config,
      {
        onStarted(started) {
          inFlight.add(started.releaseId);
          started.done.then(
            () => inFlight.delete(started.releaseId),
            (error: unknown) => {
              inFlight.delete(started.releaseId);
              const name = (error as Error).name;
              // A release refused before it started was answered 409 already; anything else is news.
              if (name !== 'ServiceLocked' && name !== 'ReleaseExists') {
                events.note(`release ${started.releaseId} stopped: ${(error as Error).message}`);
              }
            },
          );
        },
      },
      (handler) => noting(handler, events),
      events,
    );
  } catch (error) {
    await backend.close();
    throw error;
  }
  print(`flotilla up: control API on ${server.url} (token in ${join(stateDir(), 'control-token')}); Ctrl-C stops`);
  const { github } = server;
  print(
    github.enabled
      ? `flotilla up: GitHub webhook on ${github.url} (pushes to ${github.branch}; builds ${github.artifactTemplate}; secret from ${github.secretFrom})`
      : `flotilla up: GitHub webhook off: ${github.why}`,
  );
  // Runs until a signal; returning from main() then exits with this command's code.
  const signal = await new Promise<NodeJS.Signals>((ok) => {
    onSignal = (s) => {
      ok(s);
      return new Promise<number>(() => {});
    };
  });
  process.stderr.write(`\nflotilla up: ${signal}: stopping the control API and the regions\n`);
  for (const id of inFlight) {
    process.stderr.write(`flotilla up: ${id} was running; the next flotilla command will mark it interrupted\n`);
  }
  await closeQuietly(server);
  await backend.close();
  return 0;
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

function printIntents(intents: readonly Intent[], indent: string): void {
  for (const intent of intents) print(`${indent}${auditLine(intent)}`);
}

const BUSY_OR_REFUSED: ReadonlySet<string> = new Set([
  'InvalidIntent',
  'Unauthorized',
  'ServiceLocked',
  'ReleaseExists',
  'StateDirLocked',
]);

async function main(): Promise<number> {
  const [command, ...args] = positionals;
  if (opts.help || !command) {
    print(USAGE);
    return command || opts.help ? 0 : 2;
  }
  if (STEERING_VERBS.has(command)) return steer(command as IntentVerb, args);
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
    case 'up':
      return up();
    case 'rollback':
      return rollbackCommand(args);
    case 'release': {
      const build = args[0];
      if (!build) throw new UsageError('release needs a build');
      const { artifact, version } = await releaseArtifact(build);
      const config = await loadConfig();
      let outcome: ReleaseOutcome;
      const endpoint = await controlEndpoint();
      if (endpoint) {
        // `flotilla up` (or another release) holds the state dir: it runs the release, we follow it.
        const client = await clientFor(endpoint);
        const { releaseId } = await client.startRelease({ artifact, version });
        if (!opts.json) process.stderr.write(`started ${releaseId} on the control server at ${endpoint.url}\n`);
        outcome = opts['no-wait']
          ? runningOutcome(releaseId, config.service, version, endpoint.url)
          : await followThroughApi(client, releaseId);
      } else if (backendName() === 'local') {
        outcome = await runLocally(config, (backend) => backend.release({ version, artifact }));
      } else {
        const backend = await openBackend(config, progressSink());
        try {
          outcome = await backend.release({ version, artifact });
        } finally {
          await backend.close();
        }
      }
      if (opts.json) printJson(outcome);
      else printOutcome(outcome);
      if (outcome.status === 'RUNNING') return 0;
      return outcome.status === 'SUCCEEDED' ? 0 : 1;
    }
    case 'where': {
      const config = await loadConfig();
      const reads = await openReads(config);
      try {
        const answer = await reads.where();
        if (opts.json) printJson(answer);
        else for (const r of answer.regions) print(`${r.region.padEnd(16)} ${r.version ?? '(nothing deployed)'}`);
        return 0;
      } finally {
        await reads.close();
      }
    }
    case 'status':
    case 'history': {
      const config = await loadConfig();
      const reads = await openReads(config);
      try {
        const releases = await reads.releases(command === 'history' ? 50 : 1);
        const wanted = args[0];
        if (command === 'status') {
          const frozen = freezeOf(await reads.globalIntents());
          if (frozen && !opts.json) print(`${config.service} is FROZEN: ${auditLine(frozen)}`);
          const record = wanted ? await reads.release(wanted) : releases[0];
          if (!record) {
            process.stderr.write(
              wanted ? `flotilla: no release ${wanted}\n` : `flotilla: ${config.service} has no releases yet\n`,
            );
            return wanted ? 1 : 0;
          }
          const execution = await reads.execution?.(record.releaseId).catch(() => undefined);
          const summary = {
            ...releaseSummary(record),
            intents: record.intents,
            frozen,
            ...(execution ? { execution } : {}),
          };
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
            if (record.intents.length > 0) {
              print('  intents:');
              printIntents(record.intents, '    ');
            }
          }
          return 0;
        }
        if (opts.json) printJson(releases.map((r) => ({ ...releaseSummary(r), intents: r.intents })));
        else
          for (const r of releases) {
            print(`${r.startedAt}  ${r.releaseId.padEnd(28)} ${r.status.padEnd(16)} ${r.reason ?? ''}`);
            printIntents(r.intents, '    ');
          }
        return 0;
      } finally {
        await reads.close();
      }
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

// Ctrl-C: a command that stops cleanly (`up`, a release serving the control API) says how through
// onSignal; the others exit now. The 'exit' handlers stop every region process this command started;
// a release stays RUNNING under a dead pid, and the next command closes it as FAILED (interrupted).
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    const stop = onSignal;
    if (stopping || !stop) {
      process.stderr.write(
        `\nflotilla: ${signal}: stopping; the next flotilla command will mark the release interrupted\n`,
      );
      process.exit(130);
    }
    stopping = true;
    stop(signal).then(
      (code) => process.exit(code),
      () => process.exit(130),
    );
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`flotilla: ${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    const name = (error as Error | undefined)?.name ?? '';
    if (BUSY_OR_REFUSED.has(name)) {
      process.stderr.write(`flotilla: ${(error as Error).message}\n`);
      process.exit(3);
    }
    if (name === 'InsecureToken' || name === 'WakeFailed' || name === 'NotFound') {
      process.stderr.write(`flotilla: ${(error as Error).message}\n`);
      process.exit(1);
    }
    process.stderr.write(`flotilla: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
