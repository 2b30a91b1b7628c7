/**
 * Bakes that end when the evidence is in (`bake: {min, max}`), on the real ASL and engine with real
 * region processes and the real background prober: a healthy wave ends near its min, woken by the
 * watcher; a region whose probes go unanswered still bakes to its max and never passes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { plainLine } from '../../core/event-line.ts';
import type { Stamped } from '../../core/events.ts';
import { e2eConfig, GOOD_BUILD, recorder, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const adaptive = (config: FlotillaConfig, min: number, max: number): FlotillaConfig => ({
  ...config,
  waves: config.waves.map((w) => ({ ...w, bakeSeconds: max, bake: { min, max } })),
});

async function backendFor(config: FlotillaConfig) {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  const rec = recorder();
  const backend = await openLocalBackend({ stateDir: t.dir, config, events: rec });
  open.push(backend);
  return { backend, events: rec.events };
}

/**
 * Seconds from a wave's bake start to its last gate check. The start is read from the first check
 * (its end minus what it had left of max): the first check comes after the wave's new host started,
 * which is inside the bake.
 */
function bakeLength(events: Stamped[], wave: number, max: number): number {
  const gates = events.filter((e) => e.kind === 'gate' && e.wave === wave);
  const first = gates[0];
  const last = gates.at(-1);
  if (!first || !last) throw new Error(`no gate for wave ${wave + 1}`);
  const left = first.kind === 'gate' && first.evaluation.kind === 'Baking' ? first.evaluation.remainingMs : max * 1000;
  const startedAt = Date.parse(first.at) + left - max * 1000;
  return (Date.parse(last.at) - startedAt) / 1000;
}

describe('an adaptive bake', () => {
  it('ends near its min once every region deployed so far has the samples, and says so', async () => {
    const config = adaptive(
      await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }], [{ name: 'eu-west-1', currency: 'EUR' }]]),
      2,
      30,
    );
    const { backend, events } = await backendFor(config);
    const outcome = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });

    for (const wave of [0, 1]) {
      const passed = events.filter((e) => e.kind === 'gate' && e.wave === wave).at(-1);
      const evaluation = passed?.kind === 'gate' ? passed.evaluation : undefined;
      expect(evaluation?.kind).toBe('Passed');
      const early = evaluation?.kind === 'Passed' ? evaluation.early : undefined;
      // Every region deployed so far (wave 2's gate counts the canary too), and apart from them the wave's new host.
      const newHosts = passed?.kind === 'gate' ? (passed.newHosts?.length ?? 0) : 0;
      expect(newHosts).toBe(1);
      expect(early?.regions).toBe(wave + 1);
      expect(early?.newHosts).toBe(newHosts);
      expect(early?.samples).toBeGreaterThanOrEqual(config.gate.minSamples);
      expect(early?.afterSeconds).toBeGreaterThanOrEqual(2);
      // Near min, far from max (generous for a loaded machine: max is 30 s).
      const length = bakeLength(events, wave, 30);
      expect(length).toBeGreaterThanOrEqual(2);
      expect(length).toBeLessThan(15);
      if (passed)
        expect(plainLine(passed)).toMatch(
          wave === 0
            ? /passed: bake ended early at \d+s of 30s: 1 region and its new host × ≥\d+ samples/
            : /passed: bake ended early at \d+s of 30s: 2 regions and the wave's new host × ≥\d+ samples/,
        );
    }
  }, 120_000);

  it('bakes to its max when a region gives no answers, and never passes it', async () => {
    const config = adaptive(
      await e2eConfig([[{ name: 'us-east-1', currency: 'USD', faults: [{ kind: 'silent', on: 'deploy' }] }]]),
      1,
      6,
    );
    const { backend, events } = await backendFor(config);
    const outcome = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });

    expect(outcome.status).toBe('ROLLED_BACK');
    expect(outcome.reason).toMatch(/inconclusive/);
    const verdicts = events.filter((e) => e.kind === 'gate').map((e) => e.kind === 'gate' && e.evaluation.kind);
    expect(verdicts).not.toContain('Passed');
    expect(verdicts.at(-1)).toBe('Inconclusive');
    expect(bakeLength(events, 0, 6)).toBeGreaterThanOrEqual(6);
  }, 120_000);
});
