/**
 * The local backend's reads, for the read verbs: the ledger opened read-only in this process
 * (ledger-reader.ts) and each local region's process looked at where it runs (its pid file, its
 * port). It starts, stops and adopts nothing, writes nothing (the ledger's copy included), and
 * loads neither the engine, nor the dynalite server, nor the AWS SDK.
 *
 * When the ledger shows what a process that is gone left behind (a release it ran or queued, the
 * lock it held), opening the backend itself closes those first (index.ts recoverInterrupted):
 * then this answers undefined, and the caller opens the backend instead, so a read never shows a
 * dead release as RUNNING.
 */
import { LocalProcessFleet } from '../../adapters/local/process-fleet.ts';
import type { FlotillaConfig, LocalTarget } from '../../config/types.ts';
import { localRecoveryDue } from '../../core/recovery.ts';
import type { Ledger } from '../../ports/ledger.ts';
import type { RegionLiveness } from '../../ports/region-liveness.ts';
import { TABLE_NAME } from './ledger-files.ts';
import { openLedgerReader } from './ledger-reader.ts';

export interface LocalReads {
  /** Read-only: a write is refused (LedgerReadOnly). */
  ledger: Ledger;
  /** Each local region's process as it is now. */
  liveness(): Promise<Map<string, RegionLiveness>>;
  close(): Promise<void>;
}

export async function openLocalReads(options: {
  stateDir: string;
  config: FlotillaConfig;
}): Promise<LocalReads | undefined> {
  const { stateDir, config } = options;
  const reader = await openLedgerReader(stateDir, TABLE_NAME);
  try {
    const lock = await reader.ledger.getLock(config.service);
    if (localRecoveryDue(lock)) {
      await reader.close();
      return undefined;
    }
  } catch (error) {
    await reader.close();
    throw error;
  }
  const fleet = new LocalProcessFleet({
    stateDir,
    readinessTimeoutMs: config.deploy.readinessTimeoutSeconds * 1000,
    keepServing: true,
    healthPath: config.gate.healthPath,
  });
  const regions = config.regions.flatMap((r) =>
    r.target.kind === 'local-process' ? [{ region: r.name, target: r.target as LocalTarget }] : [],
  );
  return {
    ledger: reader.ledger,
    async liveness() {
      return new Map(
        await Promise.all(regions.map(async (r) => [r.region, await fleet.liveness(r.region, r.target)] as const)),
      );
    },
    close: () => reader.close(),
  };
}
