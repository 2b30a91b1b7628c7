/**
 * The control API served from a local backend (`flotilla up`, a running `flotilla release`):
 * reads from its ledger, intents through it, releases started on it that go on in this process
 * after the request is answered, and the release starter POST /github uses.
 */
import { stat } from 'node:fs/promises';
import type { LocalBackend, StartedRelease } from '../backends/local/index.ts';
import type { FlotillaConfig } from '../config/types.ts';
import type { Intent } from '../core/control.ts';
import { namedError } from '../core/errors.ts';
import { executionName } from '../core/plan.ts';
import type { Ledger } from '../ports/ledger.ts';
import type { RegionLiveness } from '../ports/region-liveness.ts';
import type { EventLog } from './event-log.ts';
import type { GithubReleases } from './github-bridge.ts';
import type { ControlHandler, WhereAnswer } from './routes.ts';

/**
 * Which version each configured region runs, as the ledger knows it (the `where` answer): since
 * when and by which release; with `liveness` (the local backend), whether its process runs and
 * answers. It starts nothing.
 */
export async function whereFromLedger(
  ledger: Ledger,
  config: FlotillaConfig,
  liveness?: () => Promise<Map<string, RegionLiveness>>,
): Promise<WhereAnswer> {
  const [states, live] = await Promise.all([
    ledger.listRegions(config.service).then((list) => new Map(list.map((s) => [s.region, s]))),
    liveness ? liveness() : Promise.resolve(undefined),
  ]);
  return {
    service: config.service,
    regions: config.regions.map((r) => {
      const state = states.get(r.name);
      const version = state?.current?.version ?? null;
      const process = live?.get(r.name);
      return {
        region: r.name,
        version,
        since: version === null ? null : (state?.updatedAt ?? null),
        releaseId: version === null ? null : (state?.releaseId ?? null),
        ...(process ? { process } : {}),
      };
    }),
  };
}

/** The service's global intents (freeze, unfreeze), oldest first: all services share their key. */
export async function globalIntents(ledger: Ledger, service: string): Promise<Intent[]> {
  return (await ledger.listIntents(service, null)).filter((i) => i.service === service);
}

export interface HandlerHooks {
  /** A release (or rollback) the API started; `done` settles when it ends. */
  onStarted?: (started: StartedRelease) => void;
  /** How long start/rollback wait for the release to be recorded before answering anyway. */
  recordTimeoutMs?: number;
  /** The events of the releases this process runs, for GET /v1/releases/:id/events. */
  events?: EventLog;
}

/** Answers once the release is in the ledger, or with the error that kept it from starting (ServiceLocked). */
async function recordedRelease(
  ledger: Ledger,
  service: string,
  started: StartedRelease,
  hooks: HandlerHooks,
): Promise<{ releaseId: string }> {
  hooks.onStarted?.(started);
  let settled: { error: unknown } | undefined;
  started.done.catch((error: unknown) => {
    settled = { error };
  });
  const deadline = Date.now() + (hooks.recordTimeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (settled) throw settled.error;
    if (await ledger.getRelease(service, started.releaseId)) return { releaseId: started.releaseId };
    await new Promise((ok) => setTimeout(ok, 25));
  }
  return { releaseId: started.releaseId };
}

/**
 * Serves the API from a local backend: reads from its ledger, intents through it, and releases
 * started on it that go on in this process after the request is answered.
 */
export function controlHandlerFor(
  backend: LocalBackend,
  config: FlotillaConfig,
  hooks: HandlerHooks = {},
): ControlHandler {
  const { service } = config;
  const { ledger } = backend;
  const recorded = (started: StartedRelease) => recordedRelease(ledger, service, started, hooks);
  const log = hooks.events;

  return {
    intent: (request) => backend.intent(request),
    // A release started while another runs queues behind it (the newest queued build runs next).
    start: async (request) => recorded(await backend.start(request)),
    // Refused up front while another release holds the lock (core/rollback.ts planRollbackOf).
    rollback: async (releaseId, who) => recorded(await backend.rollback(releaseId, who)),
    getRelease: (releaseId) => ledger.getRelease(service, releaseId),
    listReleases: (limit) => ledger.listReleases(service, limit),
    listIntents: (releaseId) =>
      releaseId === null ? globalIntents(ledger, service) : ledger.listIntents(service, releaseId),
    where: () => whereFromLedger(ledger, config, () => backend.liveness()),
    ...(log ? { events: (releaseId, after, waitMs) => log.wait(releaseId, after, waitMs) } : {}),
  };
}

/**
 * POST /github on a local backend: one release per commit, named as on AWS. The ledger is looked
 * at first: a release with the commit's id already there (an earlier delivery, or a `flotilla
 * release --version <short sha>`) is `exists` and nothing starts. Otherwise the commit's build
 * directory must be there (else the delivery fails, nothing is recorded, and a redelivery can try
 * again), and the release starts under exactly that id, the local backend's first name for the
 * version (`executionName(service, shortSha, 1)` = releaseIdForCommit). While another release runs
 * it queues, as any release does. The server runs starts one at a time, so no other start comes
 * between the look and the start.
 */
export function githubReleasesFor(
  backend: LocalBackend,
  config: FlotillaConfig,
  hooks: HandlerHooks = {},
): GithubReleases {
  const { service } = config;
  const { ledger } = backend;
  return {
    config,
    heads: ledger,
    async start(request) {
      if (await ledger.getRelease(service, request.releaseId)) return 'exists';
      const named = executionName(service, request.version, 1);
      if (named !== request.releaseId) {
        throw namedError(
          'ReleaseIdMismatch',
          `the local backend would name ${request.commit}'s release ${named}, not ${request.releaseId}`,
        );
      }
      const build = await stat(request.artifact).catch(() => undefined);
      if (!build?.isDirectory()) {
        throw namedError('BuildMissing', `no build directory for ${request.commit} at ${request.artifact}`);
      }
      const started = await backend.start({ version: request.version, artifact: request.artifact });
      try {
        await recordedRelease(ledger, service, started, hooks);
      } catch (error) {
        if ((error as Error).name === 'ReleaseExists') return 'exists';
        throw error;
      }
      if (started.releaseId !== request.releaseId) {
        throw namedError('ReleaseIdMismatch', `started ${started.releaseId}, not ${request.releaseId}`);
      }
      return 'started';
    },
  };
}
