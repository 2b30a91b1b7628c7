/**
 * The dashboard's live state: the view (dashboard/view.ts) rebuilt from the source's reads while
 * anyone watches, on every release event this process hears and at least every `pollMs` (a
 * release run by another process, or on AWS, is seen through the ledger), and each region's
 * health probed over HTTP where it has a health URL. Watchers are told only when something they
 * would see changed.
 */

import { healthUrlOf, probeUrl } from '../adapters/local/http-prober.ts';
import type { FlotillaConfig } from '../config/types.ts';
import type { Intent } from '../core/control.ts';
import type { Stamped } from '../core/events.ts';
import type { RegionState } from '../core/model.ts';
import {
  type DashboardState,
  dashboardView,
  emptyLog,
  type Probed,
  type ReleaseWithIntents,
  recordEvent,
} from './view.ts';

/** What the dashboard reads and steers through: the CLI's reads and the steering services. */
export interface DashboardSource {
  config: FlotillaConfig;
  backend: 'local' | 'aws';
  /** Newest first, each with its intents (the reads `status` and `history` use). */
  releases(limit: number): Promise<ReleaseWithIntents[]>;
  globalIntents(): Promise<Intent[]>;
  /** What each region runs, since when and by which release. */
  regionStates(): Promise<RegionState[]>;
  /** A steering verb (services/steering.ts submitIntent). */
  intent(body: {
    verb: Exclude<Intent['verb'], 'rollback' | 'unlock'>;
    releaseId?: string;
    region?: string;
    actor: string;
    reason: string;
  }): Promise<Intent>;
  /** The rollback verb (services/rollback.ts startRollback). */
  rollback(releaseId: string, who: { actor: string; reason: string }): Promise<{ releaseId: string }>;
  /** Release events as they happen, when the releases run in this process. */
  subscribe?(listener: (event: Stamped) => void): () => void;
}

export interface LiveOptions {
  /** Between two reads of the ledger while someone watches. */
  pollMs?: number;
  /** Between two health probes of every region. */
  probeMs?: number;
  historyLimit?: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

export interface Live {
  /** The state now (read afresh). */
  current(): Promise<DashboardState>;
  /** Calls `listener` with each new state until the returned function is called. */
  watch(listener: (state: DashboardState) => void): () => void;
  /** Reads again soon (after a steering request, say). */
  poke(): void;
  close(): void;
}

export function liveState(source: DashboardSource, options: LiveOptions = {}): Live {
  const pollMs = options.pollMs ?? 1000;
  const probeMs = options.probeMs ?? 2000;
  const now = options.now ?? Date.now;
  const log = emptyLog();
  const health = new Map<string, Probed>();
  const watchers = new Set<(state: DashboardState) => void>();
  let lastKey = '';
  let lastProbe = 0;
  let running: Promise<DashboardState> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  /**
   * One probe of each region's health URL, any version: during a deploy the process and the
   * ledger disagree for a moment, which is a deploy in flight, not an unhealthy region.
   */
  const probe = async () => {
    const at = now();
    lastProbe = at;
    const { gate } = source.config;
    await Promise.all(
      source.config.regions.map(async (r) => {
        const url = healthUrlOf(r.target, gate);
        if (!url) return;
        const [sample] = await probeUrl(url, 1, gate, null);
        if (!sample) return;
        health.set(
          r.name,
          sample.kind === 'ok'
            ? { health: 'healthy', at }
            : { health: sample.kind === 'error' ? 'unhealthy' : 'unknown', detail: sample.message, at },
        );
      }),
    );
  };

  const build = async (): Promise<DashboardState> => {
    const [regionStates, releases, serviceIntents] = await Promise.all([
      source.regionStates(),
      source.releases(options.historyLimit ?? 20),
      source.globalIntents(),
    ]);
    // Probed again once due, and at once after a region changed (a stale answer helps no one).
    const changed = regionStates.some((s) => Date.parse(s.updatedAt) > lastProbe);
    if (watchers.size > 0 && (changed || now() - lastProbe >= probeMs)) await probe();
    return dashboardView({
      config: source.config,
      backend: source.backend,
      now: now(),
      regionStates,
      releases,
      serviceIntents,
      log,
      health,
    });
  };

  /** One read at a time; a request meanwhile reads once more after it. */
  const refresh = (): Promise<DashboardState> => {
    if (running) {
      again = true;
      return running;
    }
    running = build()
      .then((state) => {
        const { now: _, ...rest } = state;
        const key = JSON.stringify(rest);
        const changed = key !== lastKey;
        lastKey = key;
        if (changed) for (const w of watchers) w(state);
        return state;
      })
      .finally(() => {
        running = undefined;
        if (again && !closed) {
          again = false;
          void refresh().catch((error: unknown) => options.onError?.(error));
        }
      });
    return running;
  };

  const tick = () => {
    if (closed || watchers.size === 0) return;
    refresh()
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        if (!closed && watchers.size > 0) timer = setTimeout(tick, pollMs);
      });
  };

  const unsubscribe = source.subscribe?.((event) => {
    if (recordEvent(log, event) && watchers.size > 0) {
      void refresh().catch((error: unknown) => options.onError?.(error));
    }
  });

  return {
    current: refresh,
    watch(listener) {
      watchers.add(listener);
      if (watchers.size === 1) {
        lastKey = '';
        clearTimeout(timer);
        timer = setTimeout(tick, 0);
      } else {
        void refresh()
          .then((state) => listener(state))
          .catch((error: unknown) => options.onError?.(error));
      }
      return () => {
        watchers.delete(listener);
        if (watchers.size === 0) clearTimeout(timer);
      };
    },
    poke() {
      if (watchers.size > 0) void refresh().catch((error: unknown) => options.onError?.(error));
    },
    close() {
      closed = true;
      clearTimeout(timer);
      unsubscribe?.();
      watchers.clear();
    },
  };
}
