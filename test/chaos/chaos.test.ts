/**
 * The seeded fault-injection suite's default run (bench/chaos): random fault mixes released one
 * after another into one state directory on real region processes, orchestrator kills and ledger
 * damage among them; every release's end is held against what the regions run. `npm run chaos --
 * --seed S --runs N` runs a bigger storm. About 80 s on an idle 2-core machine; the timeout is for
 * a loaded one.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_RUNS, DEFAULT_SEED, runChaos } from '../../bench/chaos/suite.ts';

describe('the chaos suite (default run)', () => {
  it('finds every release telling the truth about the regions, through kills and damaged ledgers', async () => {
    const lines: string[] = [];
    const summary = await runChaos({ seed: DEFAULT_SEED, runs: DEFAULT_RUNS, log: (line) => lines.push(line) });
    expect(summary.runs).toBe(DEFAULT_RUNS);
    expect(summary.kills).toBeGreaterThan(0);
    expect(Object.values(summary.damages).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(summary.violations, lines.join('\n')).toEqual([]);
  }, 600_000);
});
