/**
 * A wave's `maxParallel` on the real ASL and the local engine: the DeployWave Map never has more
 * of the wave's regions deploying at once than the cap, and still runs that many side by side.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import type { Stamped } from '../../ports/events.ts';
import { e2eConfig, GOOD_BUILD, recorder, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The most deploys of `wave` in flight at once, in event order (no clock involved). */
function peakConcurrency(events: readonly Stamped[], wave: number): number {
  let inFlight = 0;
  let peak = 0;
  for (const e of events) {
    if (e.kind !== 'region' || e.wave !== wave) continue;
    if (e.state === 'deploying') peak = Math.max(peak, ++inFlight);
    else if (e.state === 'deployed' || e.state === 'failed') inFlight--;
  }
  return peak;
}

describe('a wave with maxParallel', () => {
  it('deploys at most maxParallel of its regions at once, and that many side by side', async () => {
    // Each deploy of wave 2 takes at least 2 s (slow-start), so deploys started together overlap.
    const slow = [{ kind: 'slow-start' as const, on: 'deploy' as const, ms: 2000 }];
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      ['eu-west-1', 'eu-central-1', 'us-west-2', 'ap-south-1', 'sa-east-1'].map((name) => ({
        name,
        currency: 'USD',
        faults: slow,
      })),
    ]);
    const wave = config.waves[1];
    if (!wave) throw new Error('fixture');
    wave.maxParallel = 2;
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const rec = recorder();
    const backend = await openLocalBackend({ stateDir: dir, config, events: rec });
    open.push(backend);

    const outcome = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });

    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    expect(rec.events.filter((e) => e.kind === 'region' && e.wave === 1 && e.state === 'deployed')).toHaveLength(5);
    expect(peakConcurrency(rec.events, 1)).toBe(2);
  });
});
