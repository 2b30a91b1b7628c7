/**
 * What every command starts from: its options (global and its own, merged), the config file and
 * its loading, the state dir, which backend, who steers, and the live progress sink.
 */
import { type Stats, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { ConfigResult } from '../config/load.ts';
import type { FlotillaConfig } from '../config/types.ts';
import { namedError, REFUSALS, refused } from '../core/errors.ts';
import type { EventSink } from '../ports/events.ts';
import { UsageError } from './exit-codes.ts';
import { plural, print } from './output.ts';
import { colorEnabled, TerminalProgress } from './progress.ts';
import { PlainProgress } from './progress-plain.ts';

/** The options as commander gives them (camelCase; `--no-wait` is `wait: false`). */
export interface CliOptions {
  config?: string;
  stateDir?: string;
  backend?: string;
  json?: boolean;
  attempt?: string;
  wait?: boolean;
  reason?: string;
  actor?: string;
  version?: string;
  watch?: boolean;
  emergency?: boolean;
  artifacts?: string;
  copyFrom?: string;
}

export type BackendName = 'local' | 'aws';

/** Who steers, and why: kept in the audit trail. */
export interface Person {
  actor: string;
  reason: string;
}

/** Live progress: release events, and notes (what the control API did meanwhile). */
export type ProgressSink = EventSink & { note(text: string): void };

export interface Context {
  readonly options: CliOptions;
  /** --json: machine-readable output, no progress. */
  readonly json: boolean;
  /** false with --no-wait: return once a release has started. */
  readonly wait: boolean;
  configPath(): string;
  stateDir(): string;
  backend(): BackendName;
  /** The config, or every problem in it (validate shows them its own way). */
  readConfig(): Promise<ConfigResult>;
  /**
   * The config; throws InvalidConfig (exit 2, nothing deployed) listing every problem, a region
   * the chosen backend cannot run included.
   */
  loadConfig(): Promise<FlotillaConfig>;
  /** --attempt (aws): a whole number >= 1, default 1. */
  attempt(): number;
  /** --actor and --reason of a steering verb. */
  who(verb: string): Person;
  /** A redrawn table per release on a terminal, plain lines elsewhere, nothing with --json. */
  progress(): ProgressSink;
}

export function contextOf(options: CliOptions): Context {
  const json = options.json === true;
  const configPath = () => resolve(options.config ?? process.env.FLOTILLA_CONFIG ?? 'flotilla.yml');
  // Loaded on demand: the schema (zod) is most of a command's start-up, and --help needs none of it;
  // a config this code already found valid is read back from the cache (config/cache.ts).
  const readConfig = async () => {
    const [{ loadConfigCached }, { userCacheDir }] = await Promise.all([
      import('../config/cache.ts'),
      import('./strip-cache.js'),
    ]);
    return loadConfigCached(configPath(), userCacheDir());
  };
  const backend = (): BackendName => {
    const name = options.backend ?? process.env.FLOTILLA_BACKEND ?? 'local';
    if (name !== 'local' && name !== 'aws') throw new UsageError(`--backend must be local or aws (got "${name}")`);
    return name;
  };
  return {
    options,
    json,
    wait: options.wait !== false,
    configPath,
    stateDir: () => checkedStateDir(options),
    backend,
    readConfig,
    async loadConfig() {
      const result = await readConfig();
      const { backendProblems } = await import('../config/policy.ts');
      const problems = result.ok ? backendProblems(result.config, backend()) : result.problems;
      if (result.ok && problems.length === 0) return result.config;
      const { formatProblems } = await import('../config/load.ts');
      throw namedError(
        'InvalidConfig',
        `${configPath()}: ${plural(problems.length, 'problem')}; nothing was deployed\n${formatProblems(problems)}`,
      );
    },
    attempt() {
      const attempt = options.attempt === undefined ? 1 : Number(options.attempt);
      if (!Number.isInteger(attempt) || attempt < 1) throw new UsageError('--attempt must be a whole number >= 1');
      return attempt;
    },
    who(verb) {
      const reason = options.reason?.trim();
      if (!reason) throw new UsageError(`${verb} needs --reason (it is kept in the release's audit trail)`);
      const actor = (options.actor ?? defaultActor()).trim();
      if (!actor) throw new UsageError(`${verb}: --actor must not be empty`);
      return { actor, reason };
    },
    progress: () => progressSink(json),
  };
}

/** Who steers when no --actor says: `$USER@<hostname>`. */
export function defaultActor(): string {
  return `${process.env.USER || userInfo().username}@${hostname()}`;
}

/**
 * The state dir: a directory, or nothing yet (it is made when first needed). A file there, or a
 * file on the way to it, is refused at once (InvalidInput, exit 2), not a stack trace later.
 */
function checkedStateDir(options: CliOptions): string {
  const from =
    options.stateDir !== undefined ? '--state-dir' : process.env.FLOTILLA_STATE_DIR ? 'FLOTILLA_STATE_DIR' : undefined;
  const dir = resolve(options.stateDir ?? process.env.FLOTILLA_STATE_DIR ?? '.flotilla');
  const named = from === undefined ? `the state dir ${dir}` : `${from} ${dir}`;
  // The nearest part of the path that exists must be a directory: the dir itself, or where it will be made.
  for (let path = dir; ; path = dirname(path)) {
    let found: Stats | undefined;
    try {
      found = statSync(path, { throwIfNoEntry: false });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES') throw refused(REFUSALS.InvalidInput, `${named} cannot be reached (permission denied)`);
      throw error;
    }
    if (found?.isDirectory()) return dir;
    if (found) {
      throw refused(
        REFUSALS.InvalidInput,
        path === dir ? `${named} is a file, not a directory` : `${named} is not a directory: ${path} is a file`,
      );
    }
    if (dirname(path) === path) return dir;
  }
}

function progressSink(json: boolean): ProgressSink {
  if (json) return { emit: () => {}, note: () => {} };
  if (!process.stdout.isTTY) {
    const plain = new PlainProgress(process.stdout);
    return { emit: (e) => plain.emit(e), note: (text) => plain.note(text) };
  }
  const color = colorEnabled(process.env, true);
  let table: TerminalProgress | undefined;
  // The bake countdown moves between two gate checks (a minute apart, say, on AWS).
  let ticker: NodeJS.Timeout | undefined;
  const keepTicking = () => {
    if (table?.baking && !ticker) {
      ticker = setInterval(() => {
        if (table?.baking) table.tick(Date.now());
        else {
          clearInterval(ticker);
          ticker = undefined;
        }
      }, 1000).unref();
    }
  };
  return {
    emit(e) {
      if (e.kind === 'release-started' || !table) table = new TerminalProgress(process.stdout, { color });
      table.emit(e);
      keepTicking();
    },
    note(text) {
      if (table) table.note(text);
      else print(text);
    },
  };
}
