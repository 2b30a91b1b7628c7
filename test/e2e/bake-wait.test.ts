/**
 * A wave's bake is one wait on a task token, woken by evidence: on the real ASL and engine, with a
 * real region process and the real HTTP prober watching in the background. A region that goes bad
 * an instant into an hour-long bake must be rolled back at once, not at the hour.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { e2eConfig, GOOD_BUILD, recorder, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('the bake wait', () => {
  it('is failed by the background prober as soon as a region goes bad, however long the bake', async () => {
    const config = await e2eConfig([
      [
        {
          name: 'us-east-1',
          currency: 'USD',
          // Healthy through its deploy and verification, then the process dies: every probe after fails.
          faults: [{ kind: 'crash-after-start', on: 'deploy', ms: 2000 }],
        },
      ],
    ]);
    config.waves[0] = { ...(config.waves[0] as FlotillaConfig['waves'][number]), bakeSeconds: 3600 };
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const rec = recorder();
    const backend = await openLocalBackend({ stateDir: t.dir, config, events: rec });
    open.push(backend);

    const started = Date.now();
    const outcome = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });
    // Ended by the signal, not by the hour (generous for a loaded machine: the bake is 3,600 s).
    expect(Date.now() - started).toBeLessThan(300_000);
    expect(outcome.status).toMatch(/ROLLED_BACK|ROLLBACK_FAILED/);
    expect(outcome.reason).toMatch(/gate failed in wave 1/i);
    const gate = rec.events.filter((e) => e.kind === 'gate').at(-1);
    expect(gate?.kind === 'gate' && gate.evaluation.kind).toBe('Failed');
    expect(rec.events.some((e) => e.kind === 'rollback-started')).toBe(true);
    expect(await backend.ledger.listBakes()).toEqual([]);
  }, 360_000);
});
