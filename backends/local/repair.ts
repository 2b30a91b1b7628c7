/**
 * `flotilla doctor` and `flotilla repair` for the local backend: how the ledger stands (whole, new,
 * damaged, in use), its recoverable copy (ledger-copy.ts), and what each region runs as the region
 * itself says (its `current` link, its process); and, for a damaged ledger, a new one rebuilt from
 * the copy and the regions. The damaged files are moved aside, never deleted.
 */
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonDocumentRequests } from '../../adapters/dynamodb/json-documents.ts';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { LocalProcessFleet } from '../../adapters/local/process-fleet.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { refused } from '../../core/errors.ts';
import { readLedgerCopy, restoreItems } from './ledger-copy.ts';
import { hasLedgerFiles, LEDGER_COPY, LedgerDamaged, StateDirLocked, TABLE_NAME } from './ledger-files.ts';
import { type LedgerReader, openLedgerReader } from './ledger-reader.ts';

export type LedgerHealth =
  | { state: 'whole'; releases: number }
  | { state: 'new' }
  | { state: 'damaged'; problem: string }
  | { state: 'in-use'; problem: string };

export interface RegionReport {
  region: string;
  /** The version its `current` link points at (null: none). */
  current: string | null;
  /** The pid its process file names, and whether that process lives. */
  pid: number | null;
  running: boolean;
}

export interface DoctorReport {
  ledger: LedgerHealth & { dir: string };
  copy: { file: string; takenAt: string; items: number } | { file: string; problem: string } | null;
  regions: RegionReport[];
}

export interface RepairReport {
  /** Where the damaged ledger's files now are (null: there were none). */
  movedTo: string | null;
  /** Items put back from the copy, and when it was taken (null: no copy). */
  restored: { items: number; takenAt: string } | null;
  /** What the new ledger says each region runs: read from the region itself. */
  regions: { region: string; version: string | null }[];
}

const ledgerDirOf = (stateDir: string) => join(stateDir, 'ledger');

/**
 * How the ledger stands. Opening it is the test: the same guard, damage checks and LevelDB open as
 * every command's, read-only (ledger-reader.ts), so looking changes nothing.
 */
export async function ledgerHealth(stateDir: string, service: string): Promise<LedgerHealth> {
  const dir = ledgerDirOf(stateDir);
  if (!(await hasLedgerFiles(dir))) return { state: 'new' };
  let reader: LedgerReader;
  try {
    reader = await openLedgerReader(stateDir, TABLE_NAME);
  } catch (error) {
    const name = (error as Error).name;
    if (name === LedgerDamaged) return { state: 'damaged', problem: (error as Error).message };
    if (name === StateDirLocked) return { state: 'in-use', problem: (error as Error).message };
    throw error;
  }
  try {
    return { state: 'whole', releases: (await reader.ledger.listReleases(service, 10_000)).length };
  } catch (error) {
    return { state: 'damaged', problem: `the ledger at ${dir} opens but cannot be read: ${(error as Error).message}` };
  } finally {
    await reader.close();
  }
}

const localRegions = (config: FlotillaConfig) =>
  config.regions.filter((r) => r.target.kind === 'local-process').map((r) => r.name);

async function regionReports(stateDir: string, config: FlotillaConfig): Promise<RegionReport[]> {
  const fleet = new LocalProcessFleet({ stateDir, readinessTimeoutMs: 0 });
  return Promise.all(
    localRegions(config).map(async (region) => {
      const pid = Number(
        (await readFile(join(stateDir, 'regions', region, 'process.pid'), 'utf8').catch(() => '')).trim(),
      );
      const known = Number.isInteger(pid) && pid > 0;
      return {
        region,
        current: await fleet.currentVersion(region),
        pid: known ? pid : null,
        running: known && alive(pid),
      };
    }),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function doctor(stateDir: string, config: FlotillaConfig): Promise<DoctorReport> {
  const file = join(stateDir, LEDGER_COPY);
  const copy = await readLedgerCopy(stateDir).then(
    (c) => (c ? { file, takenAt: c.takenAt, items: c.items.length } : null),
    (error: unknown) => ({ file, problem: (error as Error).message }),
  );
  return {
    ledger: { ...(await ledgerHealth(stateDir, config.service)), dir: ledgerDirOf(stateDir) },
    copy,
    regions: await regionReports(stateDir, config),
  };
}

/**
 * Rebuilds a damaged (or lost) ledger: its files moved aside to `ledger.damaged-<time>`, a new one
 * filled from the copy, then every region's state set to what the region itself runs. A release
 * the copy shows RUNNING is closed as interrupted by the next command, as after a kill.
 */
export async function repairLedger(stateDir: string, config: FlotillaConfig, now: number): Promise<RepairReport> {
  const dir = ledgerDirOf(stateDir);
  const health = await ledgerHealth(stateDir, config.service);
  const copy = await readLedgerCopy(stateDir);
  if (health.state === 'in-use') throw refused('Busy', health.problem);
  if (health.state === 'whole') throw refused('NoChange', `the ledger at ${dir} is whole: nothing to repair`);
  if (health.state === 'new' && !copy) throw refused('NoChange', `there is no ledger at ${dir} and no copy of one`);

  let movedTo: string | null = null;
  if (await hasLedgerFiles(dir)) {
    movedTo = `${dir}.damaged-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
    await rename(dir, movedTo);
  }
  const { startDynalite } = await import('./dynalite-server.ts');
  const dynamo = await startDynalite({ dir });
  try {
    await createLedgerTable(dynamo.json, TABLE_NAME);
    if (copy) await restoreItems(dynamo.json, TABLE_NAME, copy.items);
    const ledger = new DynamoDbLedger({ requests: jsonDocumentRequests(dynamo.json), tableName: TABLE_NAME });
    const fleet = new LocalProcessFleet({ stateDir, readinessTimeoutMs: 0 });
    const updatedAt = new Date(now).toISOString();
    const regions: RepairReport['regions'] = [];
    for (const region of localRegions(config)) {
      const target = config.regions.find((r) => r.name === region)?.target;
      if (!target) continue;
      const current = await fleet.currentRevision(region, target);
      const recorded = await ledger.getRegion(config.service, region);
      if ((recorded?.current?.version ?? null) !== (current?.version ?? null)) {
        await ledger.putRegion({ service: config.service, region, current, releaseId: null, updatedAt });
      }
      regions.push({ region, version: current?.version ?? null });
    }
    return { movedTo, restored: copy ? { items: copy.items.length, takenAt: copy.takenAt } : null, regions };
  } finally {
    await dynamo.close();
  }
}
