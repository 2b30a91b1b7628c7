/**
 * The seeded fault-injection suite: releases with random fault mixes, one after another into one
 * state directory, on real local region processes, through the real CLI. After every release the
 * regions themselves (their `current` link and their health endpoint) are held against what the
 * release said (check.ts). Some runs kill the orchestrator with SIGKILL at a random point (the
 * next command must recover); some damage the ledger's files afterwards (every command must
 * refuse, naming the damage, and never open an empty ledger).
 */
import { cp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { TABLE_NAME } from '../../backends/local/index.ts';
import type { FaultSpec, FlotillaConfig } from '../../config/types.ts';
import type { ReleaseOutcome } from '../../core/types.ts';
import { type Background, runCli, startCli } from '../../test/helpers/cli.ts';
import { BROKEN_BUILD, freePorts, GOOD_BUILD, tempDir } from '../../test/helpers/local.ts';
import { type Evidence, violations } from './check.ts';
import { type Observed, observeRegion } from './observe.ts';
import { type Damage, DEFAULT_DICE, type Dice, planRun, type RunPlan, seeded } from './plan.ts';

/**
 * The default run (`npm run chaos`, and in `npm test`): a seed whose 8 runs kill a `flotilla up`
 * and a plain `release`, damage the ledger twice and inject five of the six fault kinds, in about
 * a minute.
 */
export const DEFAULT_SEED = 212;
export const DEFAULT_RUNS = 8;

export interface ChaosOptions {
  seed: number;
  runs: number;
  dice?: Partial<Dice>;
  /** One line per run, as it ends. */
  log?: (line: string) => void;
  /** Aborted: stop after the run under way, and sum up what ran. */
  stop?: AbortSignal;
}

export interface ChaosSummary {
  seed: number;
  runs: number;
  seconds: number;
  /** Faults injected, by kind and by `kind/on`. */
  faults: Record<string, number>;
  /** Terminal states of the releases, killed ones as `killed→STATUS`. */
  states: Record<string, number>;
  kills: number;
  damages: Record<string, number>;
  /** Runs after which a region was left unhealthy and was restarted (`flotilla down`) before the next. */
  heals: number;
  /**
   * Runs that ended ROLLBACK_FAILED (or FAILED, killed) with a sick fleet, after which `flotilla
   * rollback <release>` put back the regions not back yet: the Flotilla way back, tried first.
   */
  retried: number;
  /** Runs after which the fleet was still stuck (the retry refused or failed): a fresh fleet followed. */
  resets: number;
  violations: { run: number; plan: RunPlan; found: string[] }[];
}

const SERVICE = 'shop';
const REGIONS = [
  { name: 'us-east-1', currency: 'USD' },
  { name: 'eu-west-1', currency: 'EUR' },
  { name: 'ap-southeast-2', currency: 'AUD' },
];
const WAVES = [['us-east-1'], ['eu-west-1', 'ap-southeast-2']];

function configFor(ports: number[], faults: Record<string, FaultSpec[]>, readinessMs: number): FlotillaConfig {
  return {
    service: SERVICE,
    regions: REGIONS.map((r, i) => ({
      name: r.name,
      target: {
        kind: 'local-process',
        port: ports[i] as number,
        command: ['node', 'server.js'],
        env: { CURRENCY: r.currency, LOCALE: 'en-US' },
        faults: faults[r.name] ?? [],
      },
    })),
    waves: WAVES.map((regions, i) => ({ name: `wave-${i + 1}`, regions, bakeSeconds: 1, approval: false })),
    gate: {
      healthPath: '/health',
      probes: 3,
      intervalSeconds: 1,
      maxErrorRate: 0.05,
      minSamples: 3,
      probeTimeoutMs: 300,
      probeSpacingMs: 10,
      bakeSeconds: 1,
      onInconclusive: 'rollback',
    },
    deploy: { readinessTimeoutSeconds: readinessMs / 1000, pollSeconds: 1, maxPollSeconds: 2 },
    policy: { allowMultiRegionCanary: false },
  };
}

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

export async function runChaos(options: ChaosOptions): Promise<ChaosSummary> {
  const dice = { ...DEFAULT_DICE, ...options.dice };
  const log = options.log ?? (() => {});
  const random = seeded(options.seed);
  const started = Date.now();
  const summary: ChaosSummary = {
    seed: options.seed,
    runs: 0,
    seconds: 0,
    faults: {},
    states: {},
    kills: 0,
    damages: {},
    heals: 0,
    retried: 0,
    resets: 0,
    violations: [],
  };
  const count = (table: Record<string, number>, key: string) => {
    table[key] = (table[key] ?? 0) + 1;
  };
  const t = await tempDir('flotilla-chaos-');
  const stateDir = join(t.dir, '.flotilla');
  const ledgerDir = join(stateDir, 'ledger');
  const ports = await freePorts(REGIONS.length);
  const live: Background[] = [];

  const observeAll = (): Promise<Observed[]> =>
    Promise.all(REGIONS.map((r, i) => observeRegion(stateDir, r.name, ports[i] as number)));
  const links = async (): Promise<Record<string, string | null>> =>
    Object.fromEntries((await observeAll()).map((o) => [o.region, o.link]));
  const startUp = async (): Promise<Background | string> => {
    const up = startCli(['up'], t.dir);
    live.push(up);
    try {
      await up.waitForOutput(/control API on/, 90_000);
      return up;
    } catch (error) {
      await up.stop('SIGKILL');
      return `flotilla up did not start: ${(error as Error).message.slice(0, 400)}`;
    }
  };
  const stop = async (b: Background, signal: NodeJS.Signals = 'SIGTERM') => {
    await b.stop(signal);
    live.splice(live.indexOf(b), 1);
  };
  const readLedger = async (version: string, releaseId: string | undefined) => {
    const dynamo = await startEmbeddedDynamo({ dir: ledgerDir });
    try {
      await createLedgerTable(dynamo.client, TABLE_NAME);
      const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: TABLE_NAME });
      const releases = await ledger.listReleases(SERVICE, 1000);
      const record = releaseId
        ? releases.find((r) => r.releaseId === releaseId)
        : releases.find((r) => r.version === version);
      const where = Object.fromEntries(
        REGIONS.map((r) => [r.name, null as string | null]).concat(
          (await ledger.listRegions(SERVICE)).map((s) => [s.region, s.current?.version ?? null]),
        ),
      );
      return { record, where, lock: await ledger.getLock(SERVICE), releases: releases.length };
    } finally {
      await dynamo.close();
    }
  };

  try {
    for (let index = 1; index <= options.runs && !options.stop?.aborted; index += 1) {
      const plan = planRun(
        random,
        index,
        REGIONS.map((r) => r.name),
        dice,
      );
      for (const list of Object.values(plan.faults)) {
        for (const f of list) {
          count(summary.faults, f.kind);
          count(summary.faults, `${f.kind}/${f.on}`);
        }
      }
      const found: string[] = [];
      await writeFile(join(t.dir, 'flotilla.yml'), stringify(configFor(ports, plan.faults, dice.readinessMs)));

      let host: Background | undefined;
      if (plan.host === 'up') {
        const up = await startUp();
        if (typeof up === 'string') found.push(up);
        else host = up;
      }
      const prev = await links();
      const build = plan.build === 'good' ? GOOD_BUILD : BROKEN_BUILD;
      const release = startCli(['release', build, '--version', plan.version, '--json'], t.dir);
      live.push(release);
      let killed = false;
      if (plan.killAfterMs !== undefined) {
        const ended = await Promise.race([release.exited.then(() => true), sleep(plan.killAfterMs).then(() => false)]);
        if (!ended) {
          killed = true;
          summary.kills += 1;
          (host ?? release).child.kill('SIGKILL');
          if (host) await stop(host, 'SIGKILL');
          host = undefined;
        }
      }
      const exitCode = await Promise.race([release.exited, sleep(killed ? 20_000 : 300_000).then(() => undefined)]);
      await stop(release, 'SIGKILL');
      let outcome: ReleaseOutcome | undefined;
      try {
        outcome = killed ? undefined : (JSON.parse(release.output().stdout) as ReleaseOutcome);
      } catch {
        // checked below: a release that ended must print its outcome
      }
      // The next command recovers a killed orchestrator's release; it runs under `up` so the regions serve.
      if (killed) {
        const up = await startUp();
        if (typeof up === 'string') found.push(up);
        else host = up;
      }
      const after = await observeAll();
      // A plain release's regions end with it (or are detached on purpose): their health says nothing then.
      const serving = host !== undefined;
      if (host) await stop(host);

      let ledger: Awaited<ReturnType<typeof readLedger>> | undefined;
      try {
        ledger = await readLedger(plan.version, outcome?.releaseId);
      } catch (error) {
        found.push(`the ledger could not be read: ${(error as Error).message}`);
      }
      if (ledger) {
        const evidence: Evidence = {
          version: plan.version,
          faults: plan.faults,
          prev,
          killed,
          ...(exitCode !== undefined ? { exitCode } : {}),
          ...(outcome ? { outcome } : {}),
          record: ledger.record,
          where: ledger.where,
          lock: ledger.lock,
          after,
          serving,
        };
        const state = ledger.record?.status ?? 'NOT-RECORDED';
        count(summary.states, killed ? `killed→${state}` : state);
        if (killed && !ledger.record) {
          // Killed before the release was recorded: only the lock and the regions can be checked.
          found.push(...violations({ ...evidence, record: { ...fakeRecord(plan.version), status: 'FAILED' } }));
        } else {
          found.push(...violations(evidence));
        }
        if (plan.damage) {
          count(summary.damages, plan.damage);
          found.push(...(await damageAndRecover(t.dir, ledgerDir, plan.damage, ledger.releases)));
        }
      }

      // A region a run left unhealthy blocks every later release at wave entry (core/entry.ts
      // `healthAtEntry`), and the storm would test nothing else: a 500-run storm once ended 424 times
      // BLOCKED after one ROLLBACK_FAILED at run 32. The checks above have already run; then, as an
      // operator would. A release that ended ROLLBACK_FAILED, or FAILED (killed) with a sick fleet,
      // is rolled back again through Flotilla (`flotilla rollback`, under this run's config without
      // its faults: they were the transient part), which must put back exactly the regions not on
      // what they ran before and no other. A region still sick after that, on its last good version
      // (a fault that outlived its run), is restarted (`flotilla down`: the next command brings it
      // back up under the next run's config). Only when the retry is refused or fails is the fleet
      // replaced by a fresh one.
      let sick = after.some((o) => o.health === 'error' || o.health === 'silent');
      const record = ledger?.record;
      const status = record?.status;
      let stuck = status === 'ROLLBACK_FAILED' || status === 'FAILED' || status === undefined;
      let retried = false;
      if (record && (status === 'ROLLBACK_FAILED' || (status === 'FAILED' && sick))) {
        const retry = await retryRollback(t.dir, index, record.releaseId, prev, {
          config: configFor(ports, {}, dice.readinessMs),
          observe: observeAll,
        });
        found.push(...retry.found);
        if (retry.back) {
          stuck = false;
          retried = retry.retried;
          if (retried) summary.retried += 1;
          sick = (await observeAll()).some((o) => o.health === 'error' || o.health === 'silent');
        }
      }
      // (ROLLBACK_FAILED with nothing left to put back: every region is on its last good version,
      // and one whose rollback did not come up is restarted.)
      if (sick || status === 'BLOCKED' || (status === 'ROLLBACK_FAILED' && !retried)) {
        const down = await runCli(['down'], t.dir);
        if (down.code !== 0)
          found.push(`flotilla down (to heal the fleet) exited ${down.code}: ${down.stderr.slice(0, 300)}`);
        else if (stuck) {
          await rm(stateDir, { recursive: true, force: true });
          summary.resets += 1;
        } else summary.heals += 1;
      }

      summary.runs = index;
      if (found.length > 0) summary.violations.push({ run: index, plan, found });
      const state = Object.keys(summary.states).at(-1);
      log(
        `run ${index}: ${plan.host}${killed ? ` killed@${plan.killAfterMs}ms` : ''} ${plan.build} ${plan.version} ` +
          `${describeFaults(plan.faults)} → ${ledger?.record?.status ?? state ?? '?'}` +
          `${plan.damage ? ` +${plan.damage}` : ''}${found.length ? `  VIOLATIONS: ${found.join(' | ')}` : ''}`,
      );
    }
  } finally {
    for (const b of live.splice(0)) await b.stop('SIGKILL');
    // Region processes a killed orchestrator left behind: a last `up` reaps them, then stops them.
    const up = startCli(['up'], t.dir);
    await up.waitForOutput(/control API on/, 60_000).catch(() => {});
    await up.stop('SIGTERM');
    await t.cleanup();
  }
  summary.seconds = Math.round((Date.now() - started) / 100) / 10;
  return summary;
}

/**
 * `flotilla rollback <release>` after a run left regions off what they ran before: it must put back
 * exactly those regions (none already back), and end with every region on its `prev` link. `back`:
 * the fleet is on what it ran before the run (retried, or nothing was left to put back).
 */
async function retryRollback(
  dir: string,
  run: number,
  releaseId: string,
  prev: Readonly<Record<string, string | null>>,
  use: { config: FlotillaConfig; observe: () => Promise<Observed[]> },
): Promise<{ back: boolean; retried: boolean; found: string[] }> {
  const found: string[] = [];
  const off = (await use.observe()).filter((o) => o.link !== (prev[o.region] ?? null)).map((o) => o.region);
  await writeFile(join(dir, 'flotilla.yml'), stringify(use.config));
  const result = await runCli(
    ['rollback', releaseId, '--reason', `chaos run ${run}: put back what it left`, '--actor', 'chaos', '--json'],
    dir,
  );
  const links = (await use.observe()).filter((o) => o.link !== (prev[o.region] ?? null));
  const named = (what: readonly string[]) => what.join(', ') || 'none';
  if (result.code === 6) {
    // Refused, nothing to put back: right only when every region runs what it ran before.
    if (off.length > 0) found.push(`rollback ${releaseId} said nothing to put back, but ${named(off)} are off`);
    return { back: off.length === 0, retried: false, found };
  }
  if (result.code !== 0) return { back: false, retried: false, found };
  let outcome: ReleaseOutcome | undefined;
  try {
    outcome = JSON.parse(result.stdout) as ReleaseOutcome;
  } catch {
    found.push(`rollback ${releaseId} exited 0 without printing its outcome: ${result.stdout.slice(0, 200)}`);
  }
  const touched = (outcome?.regions ?? []).filter((r) => r.phase !== 'pending').map((r) => r.region);
  if (outcome && named([...touched].sort()) !== named([...off].sort())) {
    found.push(
      `rollback ${releaseId} put back ${named(touched)}; the regions off what they ran before were ${named(off)}`,
    );
  }
  if (links.length > 0) {
    found.push(
      `rollback ${releaseId} exited 0 but ${links.map((o) => `${o.region} is on ${o.link ?? 'nothing'}, not ${prev[o.region] ?? 'nothing'}`).join(', ')}`,
    );
  }
  return { back: links.length === 0, retried: true, found };
}

function fakeRecord(version: string) {
  return {
    releaseId: `${SERVICE}-${version}`,
    service: SERVICE,
    version,
    artifact: '',
    status: 'FAILED' as const,
    startedAt: '',
    wave: 0,
    waveCount: 0,
    regions: {},
  };
}

function describeFaults(faults: Record<string, FaultSpec[]>): string {
  const parts = Object.entries(faults).flatMap(([region, list]) =>
    list.map((f) => `${region}:${f.kind}/${f.on}${f.ms ? `(${f.ms}ms)` : ''}${f.version ? '@new' : ''}`),
  );
  return parts.length ? `[${parts.join(' ')}]` : '[no faults]';
}

/**
 * Damages the ledger's files, then checks that a command refuses them (exit 1, naming the damage,
 * printing no empty history) and leaves them as they were, and that `flotilla repair` brings back
 * every release.
 */
async function damageAndRecover(dir: string, ledgerDir: string, damage: Damage, releases: number): Promise<string[]> {
  const found: string[] = [];
  const backup = `${ledgerDir}.chaos-backup`;
  await rm(backup, { recursive: true, force: true });
  await cp(ledgerDir, backup, { recursive: true });
  const files = (await readdir(ledgerDir)).filter((f) => f !== 'LOCK' && f !== 'flotilla.lock');
  let what: RegExp;
  if (damage === 'missing-CURRENT') {
    await rm(join(ledgerDir, 'CURRENT'));
    what = /CURRENT/;
  } else if (damage === 'missing-MANIFEST') {
    const manifest = files.find((f) => f.startsWith('MANIFEST-'));
    if (manifest) await rm(join(ledgerDir, manifest));
    what = /MANIFEST/;
  } else {
    const tables = files
      .filter((f) => /^\d+\.(ldb|sst)$/.test(f))
      .sort((a, b) => Number.parseInt(b, 10) - Number.parseInt(a, 10));
    const newest = tables[0];
    if (!newest) return [];
    const size = (await stat(join(ledgerDir, newest))).size;
    await truncate(join(ledgerDir, newest), Math.floor(size / 2));
    what = new RegExp(newest.replace('.', '\\.'));
  }
  const listing = (await readdir(ledgerDir)).sort().join(',');
  const status = await runCli(['status', '--json'], dir);
  if (status.code !== 1)
    found.push(`${damage}: status exited ${status.code}, not 1 (${releases} releases in the ledger)`);
  if (!/damaged/.test(status.stderr) || !what.test(status.stderr)) {
    found.push(
      `${damage}: status did not say what is damaged: ${status.stderr.trim().slice(0, 300) || status.stdout.slice(0, 300)}`,
    );
  }
  if (/no releases/.test(status.stdout)) found.push(`${damage}: status printed an empty history`);
  if ((await readdir(ledgerDir)).sort().join(',') !== listing) found.push(`${damage}: the ledger's files were changed`);
  // `flotilla repair` rebuilds it from its copy and the regions, with every release there was.
  const repair = await runCli(['repair'], dir);
  const after = await runCli(['history', '--json'], dir);
  const kept =
    after.code === 0 ? (JSON.parse(after.stdout) as { kind: string }[]).filter((e) => e.kind === 'release').length : -1;
  if (repair.code !== 0 || kept !== Math.min(releases, 50)) {
    found.push(
      `${damage}: repair exited ${repair.code} (${repair.stderr.trim().slice(0, 200)}); history lists ${kept} of ${releases} releases`,
    );
    // Put the ledger back as it was, so that the runs after this one still mean something.
    await rm(ledgerDir, { recursive: true, force: true });
    await cp(backup, ledgerDir, { recursive: true });
  }
  await rm(backup, { recursive: true, force: true });
  for (const aside of (await readdir(join(ledgerDir, '..'))).filter((f) => f.startsWith('ledger.damaged-'))) {
    await rm(join(ledgerDir, '..', aside), { recursive: true, force: true });
  }
  return found;
}
