/**
 * `npm run bench`: is multi-region as fast as single-region? Prints a table (or, with --json, one
 * JSON object); `--check` exits non-zero naming every missed target. Timings are medians of
 * `--runs` runs (default 5), with min and max. `--only a,b` measures only the named figures (or
 * groups, see `GROUPS`: `--only issue12` is the four figures of issue 12), each in the run it
 * would have in the full bench, and checks only their targets.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedDynamo } from '../backends/local/dynalite-server.ts';
import { openLocalBackend } from '../backends/local/index.ts';
import type { FlotillaConfig } from '../config/types.ts';
import { freePorts } from '../test/helpers/local.ts';
import { ADAPTIVE_MAX_S, ADAPTIVE_MIN_S, ADAPTIVE_WAVES, adaptiveBakeRun } from './adaptive.ts';
import { benchGate, realRegions } from './fleet.ts';
import { shipByHand, stopHandShipped } from './hand-script.ts';
import { historyFigures, waitFigures } from './history.ts';
import { ledgerRequestFigures } from './ledger-requests.ts';
import { runScenario, type Scenario, type ScenarioRun } from './orchestrator.ts';
import { payloadFigures } from './payloads.ts';
import { signalToRollbackMs } from './signal.ts';
import { stagedDeployRun } from './staging.ts';
import { type CpuSplit, cpuSplit, type ThreadTimes, threadTimes } from './thread-cpu.ts';
import { validateFigures } from './validate.ts';
import { whereFigures } from './where.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    runs: { type: 'string', default: '5' },
    only: { type: 'string' },
  },
});
const RUNS = Math.max(1, Number(values.runs));
const DEPLOY_MS = 2000;
const GATE_INTERVAL_MS = 1000;
/** `flotilla where` in a fresh process, regions serving: the issue's target on this 2-core machine. */
const WHERE_TARGET_MS = 300;

/** Each part of the bench and the figures it measures: `--only` takes a part's name or any of its figures. */
const SECTIONS = {
  floor: ['release_vs_floor_20x4'],
  staged: ['staged_deploy_ratio', 'staged_deploy_floor_ratio', 'staged_build'],
  script: ['vs_script_ratio_8'],
  adaptive: ['adaptive_bake_saved_s', 'adaptive_bake_ideal_s', 'adaptive_bake_saved_bakes_s'],
  fanout: ['fanout_ratio_32', 'peak_rss_mb'],
  waves: ['waves_ratio_4x8'],
  rollback: ['rollback_ratio_32'],
  decision: ['decision_latency_ms'],
  real_fanout: ['real_fanout_ratio_8'],
  where: ['where_median_ms', 'where_started_nothing', 'status_median_ms', 'history_median_ms'],
  history: [
    'history_parent_events_10m',
    'history_parent_events_10h',
    'history_child_events_24h',
    'history_child_events_10m',
    'history_child_events_24h_missed_event',
  ],
  waits: [
    'history_parent_events_bake_10m',
    'history_parent_events_bake_24h',
    'history_parent_events_queue_48h',
    'history_parent_events_100r',
  ],
  signal: ['signal_to_rollback_ms'],
  payloads: ['max_state_kib_100r', 'max_expression_bytes_100r', 'max_item_kib_100r', 'status_100r'],
  bundles: ['bundles'],
  validate: ['validate_32k_keys_ms', 'validate_keys_ratio'],
  ledger: [
    'ledger_request_cpu_ratio',
    'ledger_request_cpu_ms',
    'ledger_request_cpu_http_ms',
    'ledger_request_cpu_sdk_ms',
    'ledger_request_wall_ratio',
  ],
} as const;
type Section = keyof typeof SECTIONS;
/** Names for several parts at once. */
const GROUPS: Record<string, Section[]> = { issue12: ['floor', 'staged', 'adaptive', 'script'] };

/** The parts `--only` names (every part without it); a name that is none of them is a usage error. */
function chosenSections(only: string | undefined): Set<Section> {
  const all = Object.keys(SECTIONS) as Section[];
  if (only === undefined) return new Set(all);
  const chosen = new Set<Section>();
  const unknown: string[] = [];
  for (const name of only
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')) {
    const group = GROUPS[name];
    const section = all.find((s) => s === name || (SECTIONS[s] as readonly string[]).includes(name));
    if (group) for (const s of group) chosen.add(s);
    else if (section) chosen.add(section);
    else unknown.push(name);
  }
  if (unknown.length > 0 || chosen.size === 0) {
    process.stderr.write(
      `bench: --only ${unknown.length > 0 ? `does not know ${unknown.join(', ')}` : 'names nothing'}; ` +
        `it takes figures, parts (${all.join(', ')}) or groups (${Object.keys(GROUPS).join(', ')})\n`,
    );
    process.exit(2);
  }
  return chosen;
}
const WANTED = chosenSections(values.only);
const wants = (section: Section) => WANTED.has(section);

interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number;
}

const spread = (xs: number[]): Spread => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return {
    median: round(median),
    min: round(sorted[0] as number),
    max: round(sorted.at(-1) as number),
    runs: xs.length,
  };
};
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
/** The median of ratios, to 3 decimals. */
const medianRatio = (xs: number[]) => round(spread(xs.map((x) => x * 1000)).median / 1000, 3);

const log = (line: string) => {
  if (!values.json) process.stderr.write(`${line}\n`);
};

/** What the bench measured: each figure under its name, only those of the parts that ran. */
interface Result {
  release_vs_floor_20x4?: number;
  staged_deploy_ratio?: number;
  staged_deploy_floor_ratio?: number;
  staged_build?: string;
  vs_script_ratio_8?: number;
  adaptive_bake_saved_s?: number;
  adaptive_bake_ideal_s?: number;
  adaptive_bake_saved_bakes_s?: number;
  fanout_ratio_32?: number;
  peak_rss_mb?: number;
  waves_ratio_4x8?: number;
  rollback_ratio_32?: number;
  decision_latency_ms?: number;
  real_fanout_ratio_8?: number;
  where_median_ms?: number;
  where_started_nothing?: boolean;
  status_median_ms?: number;
  history_median_ms?: number;
  history_parent_events_10m?: number;
  history_parent_events_10h?: number;
  history_child_events_24h?: number;
  history_child_events_10m?: number;
  history_child_events_24h_missed_event?: number;
  max_state_kib_100r?: number;
  max_expression_bytes_100r?: number;
  max_item_kib_100r?: number;
  status_100r?: string;
  history_parent_events_bake_10m?: number;
  history_parent_events_bake_24h?: number;
  history_parent_events_queue_48h?: number;
  history_parent_events_100r?: number;
  signal_to_rollback_ms?: number;
  validate_32k_keys_ms?: number;
  validate_keys_ratio?: number;
  ledger_request_cpu_ratio?: number;
  ledger_request_cpu_ms?: number;
  ledger_request_cpu_http_ms?: number;
  ledger_request_cpu_sdk_ms?: number;
  ledger_request_wall_ratio?: number;
  ledger_request_wall_ms?: number;
  ledger_request_wall_http_ms?: number;
  bundles?: { name: string; bytes: number; coldImportMs: number }[];
}

async function main() {
  const started = performance.now();
  const result: Result = {};
  const missed: string[] = [];
  const target = (ok: boolean, what: string) => {
    if (!ok) missed.push(what);
  };
  /** The common target: a figure at most its limit. */
  const atMost = (name: string, value: number, limit: number) => target(value <= limit, `${name} ${value} > ${limit}`);
  const timings: Record<string, Spread> = {};
  const times = async (name: string, run: () => Promise<number>) => {
    const xs: number[] = [];
    for (let i = 0; i < RUNS; i++) xs.push(await run());
    timings[name] = spread(xs);
    log(`  ${name}: median ${timings[name]?.median} ms`);
    return timings[name] as Spread;
  };
  const simulated: Section[] = ['fanout', 'waves', 'rollback', 'decision', 'floor'];
  const dynamo = simulated.some(wants) ? await startEmbeddedDynamo({}) : null;
  const wall = (s: Scenario) => async () => {
    if (!dynamo) throw new Error('no ledger for the simulated releases');
    return (await runScenario(dynamo, s)).wallMs;
  };

  // Warm-up: the first release in a process pays for module loading and JIT.
  if (dynamo) await runScenario(dynamo, { waves: [1], deployMs: 10, bakeSeconds: 0 });

  if (wants('fanout')) {
    log('fan-out: one wave of 32 regions vs one region');
    const fan32 = await times('fanout_32_ms', wall({ waves: [32], deployMs: DEPLOY_MS, bakeSeconds: 0 }));
    result.peak_rss_mb = round(process.resourceUsage().maxRSS / 1024, 0);
    const fan1 = await times('fanout_1_ms', wall({ waves: [1], deployMs: DEPLOY_MS, bakeSeconds: 0 }));
    result.fanout_ratio_32 = round(fan32.median / fan1.median, 3);
    atMost('fanout_ratio_32', result.fanout_ratio_32, 1.05);
  }

  if (wants('waves')) {
    log('waves: 4 waves of 8 vs 4 waves of 1');
    const waves8 = await times('waves_4x8_ms', wall({ waves: [8, 8, 8, 8], deployMs: DEPLOY_MS, bakeSeconds: 0 }));
    const waves1 = await times('waves_4x1_ms', wall({ waves: [1, 1, 1, 1], deployMs: DEPLOY_MS, bakeSeconds: 0 }));
    result.waves_ratio_4x8 = round(waves8.median / waves1.median, 3);
    atMost('waves_ratio_4x8', result.waves_ratio_4x8, 1.05);
  }

  if (wants('rollback') && dynamo) {
    log('rollback: Failed verdict in the last wave → every region restored');
    const rollbackTime = (waves: number[]) => async () => {
      const total = waves.reduce((a, b) => a + b, 0);
      const bad = `region-${String(total).padStart(2, '0')}`;
      const run = await runScenario(dynamo, {
        waves,
        deployMs: DEPLOY_MS,
        bakeSeconds: 0,
        startOn: '1.0.0',
        unhealthy: (region, version) => region === bad && version === '2.0.0',
      });
      const failed = run.events.find((e) => e.kind === 'gate' && e.evaluation.kind === 'Failed');
      const done = run.events.find((e) => e.kind === 'release-finished');
      if (!failed || !done || run.outcome.status !== 'ROLLED_BACK')
        throw new Error(`rollback scenario: ${run.outcome.status}`);
      return done.t - failed.t;
    };
    const rb32 = await times('rollback_32_ms', rollbackTime([1, 31]));
    const rb1 = await times('rollback_1_ms', rollbackTime([1]));
    result.rollback_ratio_32 = round(rb32.median / rb1.median, 3);
    atMost('rollback_ratio_32', result.rollback_ratio_32, 1.1);
  }

  if (wants('decision') && dynamo) {
    log('decision latency: a health signal turns bad mid-bake → rollback starts');
    const latency = await times('decision_latency_ms', async () => {
      let flipAt = Number.POSITIVE_INFINITY;
      const run = await runScenario(dynamo, {
        waves: [1],
        deployMs: 200,
        bakeSeconds: 6,
        startOn: '1.0.0',
        unhealthy: (_region, version, now) => version === '2.0.0' && now >= flipAt,
        onEvent: (e) => {
          // 1.3 s into the bake: a moment unrelated to the gate's own rhythm.
          if (e.kind === 'gate' && flipAt === Number.POSITIVE_INFINITY) flipAt = Date.parse(e.at) + 1300;
        },
      });
      const started = run.events.find((e) => e.kind === 'rollback-started');
      if (!started) throw new Error('decision scenario: no rollback');
      return Date.parse(started.at) - flipAt;
    });
    result.decision_latency_ms = latency.median;
    target(
      result.decision_latency_ms <= GATE_INTERVAL_MS + 100,
      `decision_latency_ms ${result.decision_latency_ms} > ${GATE_INTERVAL_MS + 100}`,
    );
  }

  let floor20x4 = '';
  if (wants('floor') && dynamo) {
    log('release vs its floor: 20 regions in 4 waves with bakes');
    const BAKE_20X4_S = 2;
    const floorRatios: number[] = [];
    const floors: number[] = [];
    await times('release_20x4_ms', async () => {
      const run = await runScenario(dynamo, { waves: [1, 4, 7, 8], deployMs: DEPLOY_MS, bakeSeconds: BAKE_20X4_S });
      if (run.outcome.status !== 'SUCCEEDED') throw new Error(`20x4: ${run.outcome.status}: ${run.outcome.reason}`);
      const floor = floorOf(run, 4, BAKE_20X4_S);
      floors.push(floor);
      floorRatios.push(run.wallMs / floor);
      return run.wallMs;
    });
    timings.floor_20x4_ms = spread(floors);
    result.release_vs_floor_20x4 = medianRatio(floorRatios);
    floor20x4 = `${round(timings.floor_20x4_ms.median / 1000, 2)} s ÷ ${round((timings.release_20x4_ms?.median ?? 0) / 1000, 2)} s`;
    atMost('release_vs_floor_20x4', result.release_vs_floor_20x4, 1.02);
  }
  if (dynamo) await dynamo.close();

  if (wants('staged')) {
    log('a later wave’s deploy of a realistic build: staged ahead vs not');
    const stagedRatios: number[] = [];
    const floorRatios: number[] = [];
    const unstaged: number[] = [];
    const restarts: number[] = [];
    await times('staged_deploy_ms', async () => {
      const run = await stagedDeployRun();
      stagedRatios.push(run.stagedMs / run.unstagedMs);
      floorRatios.push(run.floorMs / run.unstagedMs);
      result.staged_build = `${run.files} files, ${Math.round(run.bytes / 2 ** 20)} MiB`;
      unstaged.push(run.unstagedMs);
      restarts.push(run.floorMs);
      return run.stagedMs;
    });
    timings.unstaged_deploy_ms = spread(unstaged);
    timings.restart_only_deploy_ms = spread(restarts);
    result.staged_deploy_ratio = medianRatio(stagedRatios);
    result.staged_deploy_floor_ratio = medianRatio(floorRatios);
  }

  if (wants('adaptive')) {
    log(
      `a healthy ${ADAPTIVE_WAVES}-wave release on real processes: bake {min: ${ADAPTIVE_MIN_S}, max: ${ADAPTIVE_MAX_S}} vs fixed bakes of ${ADAPTIVE_MAX_S} s`,
    );
    // Two releases of ~15 s each per run: at most 3 runs keeps the key to seconds, not minutes.
    const savedS: number[] = [];
    const fixedMs: number[] = [];
    const adaptiveMs: number[] = [];
    const bakesSavedS: number[] = [];
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      // Turn about, so that neither kind always pays for what the other warmed up.
      const run = await adaptiveBakeRun(i % 2 === 0 ? 'fixed-first' : 'adaptive-first');
      savedS.push((run.fixedMs - run.adaptiveMs) / 1000);
      bakesSavedS.push((run.fixedBakeMs - run.adaptiveBakeMs) / 1000);
      fixedMs.push(run.fixedMs);
      adaptiveMs.push(run.adaptiveMs);
      result.adaptive_bake_ideal_s = run.idealSavedS;
    }
    timings.adaptive_bake_ms = spread(adaptiveMs);
    timings.fixed_bake_ms = spread(fixedMs);
    log(`  adaptive_bake_ms: median ${timings.adaptive_bake_ms.median} ms, fixed ${timings.fixed_bake_ms.median} ms`);
    result.adaptive_bake_saved_s = round(spread(savedS.map((x) => x * 1000)).median / 1000, 2);
    result.adaptive_bake_saved_bakes_s = round(spread(bakesSavedS.map((x) => x * 1000)).median / 1000, 2);
    target(result.adaptive_bake_saved_s > 0, `adaptive_bake_saved_s ${result.adaptive_bake_saved_s} <= 0`);
  }

  if (wants('script')) {
    log('one wave of 8 real regions, no bake: Flotilla vs a hand-written parallel script');
    const scriptRatios: number[] = [];
    const scriptMs: number[] = [];
    const cpu: Record<string, number[]> = {};
    await times('flotilla_8_ms', async () => {
      const [flotilla, script, split] = await flotillaVsScript(8);
      scriptRatios.push(flotilla / script);
      // Per ship, by kind of thread (bench/thread-cpu.ts): where Flotilla's CPU goes beside the script's.
      for (const [side, used] of Object.entries(split ?? {}))
        for (const [kind, ms] of Object.entries(used)) {
          const name = `${side}_8_cpu_${kind}_ms`;
          cpu[name] = [...(cpu[name] ?? []), ms / 2];
        }
      // Per ship, as the table prints them: each side shipped twice.
      scriptMs.push(script / 2);
      return flotilla / 2;
    });
    timings.script_8_ms = spread(scriptMs);
    for (const [name, xs] of Object.entries(cpu)) timings[name] = spread(xs);
    result.vs_script_ratio_8 = medianRatio(scriptRatios);
    atMost('vs_script_ratio_8', result.vs_script_ratio_8, 1.1);
  }

  if (wants('real_fanout')) {
    log('real processes: 8 regions vs 1, the example service');
    const real8 = await times('real_fanout_8_ms', () => realFanout(8));
    const real1 = await times('real_fanout_1_ms', () => realFanout(1));
    result.real_fanout_ratio_8 = round(real8.median / real1.median, 3);
  }

  if (wants('where')) {
    log('where: a fresh CLI process, 6 regions serving from an earlier release');
    const whereRun = await whereFigures(Math.max(RUNS, 5));
    timings.where_ms = spread(whereRun.ms);
    timings.status_ms = spread(whereRun.statusMs);
    timings.history_ms = spread(whereRun.historyMs);
    log(`  where_ms: median ${timings.where_ms.median} ms`);
    log(`  status_ms: median ${timings.status_ms.median} ms; history_ms: median ${timings.history_ms.median} ms`);
    result.where_median_ms = timings.where_ms.median;
    result.where_started_nothing = whereRun.startedNothing;
    result.status_median_ms = timings.status_ms.median;
    result.history_median_ms = timings.history_ms.median;
    atMost('where_median_ms', result.where_median_ms, WHERE_TARGET_MS);
    target(result.where_started_nothing, 'where started or stopped a region process');
  }

  if (wants('history')) {
    log('history budget (simulated time on the real ASL)');
    const history = await historyFigures();
    result.history_parent_events_10m = history.history_parent_events_10m;
    result.history_parent_events_10h = history.history_parent_events_10h;
    result.history_child_events_24h = history.history_child_events_24h;
    result.history_child_events_10m = history.history_child_events_10m;
    result.history_child_events_24h_missed_event = history.history_child_events_24h_missed_event;
    atMost('history_parent_events_10m', history.history_parent_events_10m, 3000);
    target(
      history.history_parent_events_10h === history.history_parent_events_10m,
      `history_parent_events_10h ${history.history_parent_events_10h} != 10m ${history.history_parent_events_10m}`,
    );
    atMost('history_child_events_24h', history.history_child_events_24h, 2_000);
    atMost('history_child_events_24h_missed_event', history.history_child_events_24h_missed_event, 2_000);
  }

  if (wants('waits')) {
    log('event-driven waits: parent history against bake, queue and width (simulated time)');
    const waits = await waitFigures();
    result.history_parent_events_bake_10m = waits.history_parent_events_bake_10m;
    result.history_parent_events_bake_24h = waits.history_parent_events_bake_24h;
    result.history_parent_events_queue_48h = waits.history_parent_events_queue_48h;
    result.history_parent_events_100r = waits.history_parent_events_100r;
    target(
      waits.history_parent_events_bake_10m <= 3000 &&
        waits.history_parent_events_bake_24h === waits.history_parent_events_bake_10m,
      `history_parent_events_bake_24h ${waits.history_parent_events_bake_24h} != bake_10m ${waits.history_parent_events_bake_10m} (or > 3000)`,
    );
    atMost('history_parent_events_queue_48h', waits.history_parent_events_queue_48h, 3100);
    atMost('history_parent_events_100r', waits.history_parent_events_100r, 6000);
    target(
      waits.statuses.every((s) => s === 'SUCCEEDED'),
      `wait scenarios did not all succeed: ${waits.statuses.join(', ')}`,
    );
  }

  if (wants('signal')) {
    log('signal to rollback (an alarm event through the AWS adapters, the real ASL on the local engine)');
    result.signal_to_rollback_ms = (await times('signal_to_rollback_ms', signalToRollbackMs)).median;
    atMost('signal_to_rollback_ms', result.signal_to_rollback_ms, 1000);
  }

  let maxStateAt = '';
  if (wants('payloads')) {
    log("AWS's size limits (100 regions, 2 KB AppSpecs, rolled back from the last wave; limits enforced)");
    const payloads = await payloadFigures();
    result.max_state_kib_100r = payloads.max_state_kib_100r;
    result.max_expression_bytes_100r = payloads.max_expression_bytes_100r;
    result.max_item_kib_100r = payloads.max_item_kib_100r;
    result.status_100r = payloads.status_100r;
    maxStateAt = payloads.max_state_at_100r;
    target(payloads.max_state_kib_100r < 256, `max_state_kib_100r ${payloads.max_state_kib_100r} >= 256`);
    atMost('max_expression_bytes_100r', payloads.max_expression_bytes_100r, 4096);
    target(payloads.max_item_kib_100r < 400, `max_item_kib_100r ${payloads.max_item_kib_100r} >= 400`);
    target(
      payloads.status_100r === 'ROLLED_BACK' && payloads.rolled_back_100r === 100,
      `the 100-region scenario ended ${payloads.status_100r} with ${payloads.rolled_back_100r} regions rolled back`,
    );
  }

  if (wants('bundles')) {
    result.bundles = [];
    try {
      const { bundleFigures } = await import('./bundles.ts');
      log('bundles');
      result.bundles = await bundleFigures();
    } catch (error) {
      log(`bundles: not measured (${(error as Error).message})`);
    }
    target(result.bundles.length > 0, 'bundles were not measured');
    for (const b of result.bundles) target(b.bytes <= 600 * 1024, `bundle ${b.name} is ${b.bytes} bytes > 600 KB`);
  }

  if (wants('validate')) {
    log('validate: one mapping of 32,000 keys (CPU time)');
    const validate = validateFigures(RUNS);
    result.validate_32k_keys_ms = validate.validate_32k_keys_ms;
    result.validate_keys_ratio = validate.validate_keys_ratio;
    // Quadratic (the yaml package's own duplicate-key check: 14 s here) doubles the ratio to 4.
    atMost('validate_32k_keys_ms', validate.validate_32k_keys_ms, 2000);
    atMost('validate_keys_ratio', validate.validate_keys_ratio, 3);
  }

  if (wants('ledger')) {
    log('ledger: one request, the JSON protocol over the message channel vs over HTTP vs the SDK document client');
    const ledger = await ledgerRequestFigures(RUNS);
    result.ledger_request_cpu_ms = ledger.jsonMs;
    result.ledger_request_cpu_http_ms = ledger.httpMs;
    result.ledger_request_cpu_sdk_ms = ledger.sdkMs;
    result.ledger_request_cpu_ratio = round(ledger.jsonMs / ledger.sdkMs, 3);
    atMost('ledger_request_cpu_ratio', result.ledger_request_cpu_ratio, 0.5);
    result.ledger_request_wall_ms = ledger.jsonWallMs;
    result.ledger_request_wall_http_ms = ledger.httpWallMs;
    result.ledger_request_wall_ratio = round(ledger.jsonWallMs / ledger.httpWallMs, 3);
    atMost('ledger_request_wall_ratio', result.ledger_request_wall_ratio, 1);
  }
  const benchSeconds = round((performance.now() - started) / 1000, 0);

  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...result, timings, bench_seconds: benchSeconds, missed }, null, 2)}\n`);
  } else {
    const r = result;
    const ms = (name: string) => `${round((timings[name]?.median ?? 0) / 1000, 2)} s`;
    // [figure, value, target]: a row is printed when its part ran.
    const table: [keyof Result, () => string, () => string][] = [
      [
        'release_vs_floor_20x4',
        () => String(r.release_vs_floor_20x4),
        () => `≤ 1.02; floor Σ (slowest deploy + bake): ${floor20x4}`,
      ],
      [
        'staged_deploy_ratio',
        () => String(r.staged_deploy_ratio),
        () =>
          `reported; floor ${r.staged_deploy_floor_ratio} (the restart alone); ${ms('staged_deploy_ms')} staged, ` +
          `${ms('unstaged_deploy_ms')} copying, ${ms('restart_only_deploy_ms')} restart; ${r.staged_build}`,
      ],
      [
        'vs_script_ratio_8',
        () => String(r.vs_script_ratio_8),
        () => `≤ 1.10; ${ms('flotilla_8_ms')} ÷ ${ms('script_8_ms')} by bench/hand-script.ts`,
      ],
      [
        'adaptive_bake_saved_s',
        () => `${r.adaptive_bake_saved_s} (bakes alone ${r.adaptive_bake_saved_bakes_s})`,
        () =>
          `> 0; ceiling ${r.adaptive_bake_ideal_s} s = ${ADAPTIVE_WAVES} waves × (max ${ADAPTIVE_MAX_S} − min ${ADAPTIVE_MIN_S}); ` +
          `${ms('adaptive_bake_ms')} vs ${ms('fixed_bake_ms')}`,
      ],
      ['fanout_ratio_32', () => String(r.fanout_ratio_32), () => '≤ 1.05'],
      ['waves_ratio_4x8', () => String(r.waves_ratio_4x8), () => '≤ 1.05'],
      ['rollback_ratio_32', () => String(r.rollback_ratio_32), () => '≤ 1.10'],
      ['decision_latency_ms', () => String(r.decision_latency_ms), () => `≤ ${GATE_INTERVAL_MS + 100}`],
      ['real_fanout_ratio_8', () => String(r.real_fanout_ratio_8), () => 'reported'],
      ['where_median_ms', () => String(r.where_median_ms), () => `≤ ${WHERE_TARGET_MS}`],
      ['where_started_nothing', () => String(r.where_started_nothing), () => 'true'],
      ['status_median_ms', () => String(r.status_median_ms), () => 'reported'],
      ['history_median_ms', () => String(r.history_median_ms), () => 'reported'],
      ['history_parent_events_10m', () => String(r.history_parent_events_10m), () => '≤ 3000'],
      ['history_parent_events_10h', () => String(r.history_parent_events_10h), () => '= 10m'],
      ['history_child_events_24h', () => String(r.history_child_events_24h), () => '≤ 2000'],
      ['history_child_events_10m', () => String(r.history_child_events_10m), () => 'reported'],
      ['history_child_events_24h_missed_event', () => String(r.history_child_events_24h_missed_event), () => '≤ 2000'],
      ['max_state_kib_100r', () => `${r.max_state_kib_100r} (${maxStateAt})`, () => '< 256'],
      ['max_expression_bytes_100r', () => String(r.max_expression_bytes_100r), () => '≤ 4096'],
      ['max_item_kib_100r', () => String(r.max_item_kib_100r), () => '< 400'],
      ['history_parent_events_bake_10m', () => String(r.history_parent_events_bake_10m), () => '≤ 3000'],
      ['history_parent_events_bake_24h', () => String(r.history_parent_events_bake_24h), () => '= bake_10m'],
      ['history_parent_events_queue_48h', () => String(r.history_parent_events_queue_48h), () => '≤ 3100'],
      ['history_parent_events_100r', () => String(r.history_parent_events_100r), () => '≤ 6000'],
      ['signal_to_rollback_ms', () => String(r.signal_to_rollback_ms), () => '≤ 1000'],
      ['validate_32k_keys_ms', () => `${r.validate_32k_keys_ms} (CPU)`, () => '≤ 2000'],
      ['validate_keys_ratio', () => `${r.validate_keys_ratio} (32k / 16k keys)`, () => '≤ 3'],
      [
        'ledger_request_cpu_ratio',
        () => String(r.ledger_request_cpu_ratio),
        () =>
          `≤ 0.5; ${r.ledger_request_cpu_ms} ms (JSON protocol, message channel) ÷ ${r.ledger_request_cpu_sdk_ms} ms (SDK) main-thread CPU; ${r.ledger_request_cpu_http_ms} ms over HTTP`,
      ],
      [
        'ledger_request_wall_ratio',
        () => String(r.ledger_request_wall_ratio),
        () =>
          `≤ 1; ${r.ledger_request_wall_ms} ms (message channel) ÷ ${r.ledger_request_wall_http_ms} ms (HTTP) a request, one at a time`,
      ],
      ['peak_rss_mb', () => String(r.peak_rss_mb), () => 'reported'],
    ];
    const rows: [string, string, string][] = table
      .filter(([k]) => r[k] !== undefined)
      .map(([k, v, t]) => [k, v(), t()]);
    for (const b of r.bundles ?? [])
      rows.push([`bundle ${b.name}`, `${(b.bytes / 1024).toFixed(0)} KB, import ${b.coldImportMs} ms`, '≤ 600 KB']);
    const w = Math.max(...rows.map((row) => row[0].length));
    process.stdout.write(`${'figure'.padEnd(w)}  ${'value'.padEnd(26)} target\n`);
    for (const [k, v, t] of rows) process.stdout.write(`${k.padEnd(w)}  ${v.padEnd(26)} ${t}\n`);
    process.stdout.write('\ntimings (ms, median [min..max] of runs):\n');
    for (const [k, s] of Object.entries(timings))
      process.stdout.write(`  ${k.padEnd(22)} ${s.median} [${s.min}..${s.max}] ×${s.runs}\n`);
    process.stdout.write(
      `\nthe bench took ${benchSeconds} s (--runs ${RUNS}${values.only ? `, --only ${values.only}` : ''})\n`,
    );
    if (missed.length > 0) process.stdout.write(`\nmissed:\n${missed.map((m) => `  ${m}`).join('\n')}\n`);
  }
  if (values.check && missed.length > 0) process.exitCode = 1;
}

/** One release of the example build to `n` real regions in one wave, wall clock. */
async function realFanout(n: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-'));
  // Free ports only: a fixed range crashed the whole bench (PortInUse) while another program held it.
  const ports = await freePorts(n);
  const names = Array.from({ length: n }, (_, i) => `region-${i + 1}`);
  try {
    const config: FlotillaConfig = {
      service: 'shop',
      regions: realRegions(names, ports),
      waves: [{ name: 'all', regions: names, bakeSeconds: 0, approval: false }],
      gate: benchGate(0),
      deploy: { readinessTimeoutSeconds: 30, pollSeconds: 1, maxPollSeconds: 5 },
      policy: { allowMultiRegionCanary: true },
    };
    const backend = await openLocalBackend({ stateDir: dir, config });
    try {
      const started = performance.now();
      const outcome = await backend.release({
        version: '1.0.0',
        artifact: resolve(import.meta.dirname, '../examples/shop/builds/good'),
      });
      if (outcome.status !== 'SUCCEEDED') throw new Error(`real fan-out: ${outcome.status}: ${outcome.reason}`);
      return performance.now() - started;
    } finally {
      await backend.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The floor of a release: per wave, its slowest region's deploy (as measured from the events:
 * deploying → deployed) plus the bake the plan asks for, waves one after another.
 */
function floorOf(run: ScenarioRun, waves: number, bakeSeconds: number): number {
  let floor = 0;
  for (let wave = 0; wave < waves; wave++) {
    const started = new Map<string, number>();
    let slowest = 0;
    for (const e of run.events) {
      if (e.kind !== 'region' || e.wave !== wave) continue;
      if (e.state === 'deploying') started.set(e.region, e.t);
      else if (e.state === 'deployed') slowest = Math.max(slowest, e.t - (started.get(e.region) ?? e.t));
    }
    floor += slowest + bakeSeconds * 1000;
  }
  return floor;
}

/**
 * Ships the example build to `n` real regions both ways, each side into its own regions: 1.0.0 by
 * each (a first ship, from nothing, not compared), then 2.0.0 and 3.0.0 in the order Flotilla,
 * script, script, Flotilla. On a shared machine the load drifts within a run: in that order a
 * steady drift weighs on both sides alike. Returns the compared ships' times summed, [Flotilla, script].
 */
async function flotillaVsScript(
  n: number,
): Promise<[number, number, { flotilla: CpuSplit; script: CpuSplit } | undefined]> {
  const build = resolve(import.meta.dirname, '../examples/shop/builds/good');
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-script-'));
  try {
    const ports = await freePorts(2 * n);
    const names = Array.from({ length: n }, (_, i) => `region-${i + 1}`);
    const config: FlotillaConfig = {
      service: 'shop',
      regions: realRegions(names, ports),
      waves: [{ name: 'all', regions: names, bakeSeconds: 0, approval: false }],
      gate: benchGate(0),
      deploy: { readinessTimeoutSeconds: 30, pollSeconds: 1, maxPollSeconds: 5 },
      policy: { allowMultiRegionCanary: true },
    };
    const regions = names.map((name, i) => ({ name, port: ports[n + i] as number }));
    const backend = await openLocalBackend({ stateDir: join(dir, 'flotilla'), config });
    try {
      // CPU by kind of thread over the compared ships (none where /proc cannot be read).
      const used = { flotilla: { main: 0, pool: 0, other: 0 }, script: { main: 0, pool: 0, other: 0 } };
      let measured = true;
      const count = (side: keyof typeof used, before: ThreadTimes | null) => {
        const after = threadTimes();
        if (!before || !after) {
          measured = false;
          return;
        }
        const split = cpuSplit(before, after);
        used[side].main += split.main;
        used[side].pool += split.pool;
        used[side].other += split.other;
      };
      const viaFlotilla = async (version: string, compared = true) => {
        const threads = threadTimes();
        const started = performance.now();
        const outcome = await backend.release({ version, artifact: build });
        if (outcome.status !== 'SUCCEEDED') throw new Error(`vs script: ${outcome.status}: ${outcome.reason}`);
        const took = performance.now() - started;
        if (compared) count('flotilla', threads);
        // The ledger's copy, written once the release has ended (the CLI prints the outcome first):
        // not in Flotilla's time, and not left to run during the script's turn either.
        await backend.settled();
        return took;
      };
      const byHand = async (version: string, compared = true) => {
        const threads = threadTimes();
        const started = performance.now();
        await shipByHand(join(dir, 'script'), regions, build, version);
        const took = performance.now() - started;
        if (compared) count('script', threads);
        return took;
      };
      await viaFlotilla('1.0.0', false);
      await byHand('1.0.0', false);
      const f2 = await viaFlotilla('2.0.0');
      const s2 = await byHand('2.0.0');
      const s3 = await byHand('3.0.0');
      const f3 = await viaFlotilla('3.0.0');
      return [f2 + f3, s2 + s3, measured ? used : undefined];
    } finally {
      await Promise.all([backend.close(), stopHandShipped()]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
