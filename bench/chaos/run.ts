/**
 * `npm run chaos -- --seed S --runs N [--json]`: the seeded fault-injection suite (suite.ts).
 * Prints one line per run and a summary; exits 1 when any run broke a promise.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_RUNS, DEFAULT_SEED, runChaos } from './suite.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    runs: { type: 'string', default: String(DEFAULT_RUNS) },
    json: { type: 'boolean', default: false },
  },
});
const seed = Number(values.seed);
const runs = Number(values.runs);
if (!Number.isInteger(seed) || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: npm run chaos -- [--seed S] [--runs N] [--json]  (whole numbers, N >= 1)');
  process.exit(2);
}
// Ctrl-C (or SIGTERM) ends the storm after the run under way, and its summary is still printed.
const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`chaos: ${signal}: stopping after the run under way`);
    stop.abort();
  });
}
const summary = await runChaos({
  seed,
  runs,
  stop: stop.signal,
  ...(values.json ? {} : { log: (line: string) => console.log(line) }),
});
if (values.json) console.log(JSON.stringify(summary, null, 2));
else {
  const table = (t: Record<string, number>) =>
    Object.entries(t)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') || '-';
  console.log(`\nchaos seed ${summary.seed}: ${summary.runs} runs in ${summary.seconds} s`);
  console.log(
    `faults:     ${table(Object.fromEntries(Object.entries(summary.faults).filter(([k]) => !k.includes('/'))))}`,
  );
  console.log(
    `  by when:  ${table(Object.fromEntries(Object.entries(summary.faults).filter(([k]) => k.includes('/'))))}`,
  );
  console.log(`states:     ${table(summary.states)}`);
  console.log(`kills:      ${summary.kills}`);
  console.log(
    `heals:      ${summary.heals} (restarted)  retried: ${summary.retried} (flotilla rollback)  resets: ${summary.resets} (a fresh fleet)`,
  );
  console.log(`damages:    ${table(summary.damages)}`);
  console.log(
    `violations: ${summary.violations.reduce((n, v) => n + v.found.length, 0)} in ${summary.violations.length} runs`,
  );
  for (const v of summary.violations) for (const line of v.found) console.log(`  run ${v.run}: ${line}`);
}
process.exit(summary.violations.length > 0 ? 1 : 0);
