/** `status`, `history` and `where` read straight from a ledger (AWS, or a local state dir opened here). */
import type { FlotillaConfig } from '../../config/types.ts';
import type { ReleaseWithIntents } from '../../control/server.ts';
import type { Ledger, ReleaseRecord } from '../../ports/ledger.ts';
import type { RegionLiveness } from '../../ports/region-liveness.ts';
import type { Reads } from './types.ts';

export async function ledgerReads(
  ledger: Ledger,
  config: FlotillaConfig,
  liveness?: () => Promise<Map<string, RegionLiveness>>,
): Promise<Omit<Reads, 'close'>> {
  const { globalIntents, whereFromLedger } = await import('../../control/local-handler.ts');
  const withIntents = async (record: ReleaseRecord): Promise<ReleaseWithIntents> => ({
    ...record,
    intents: await ledger.listIntents(config.service, record.releaseId),
  });
  return {
    where: () => whereFromLedger(ledger, config, liveness),
    async release(id) {
      const record = await ledger.getRelease(config.service, id);
      return record ? withIntents(record) : undefined;
    },
    releases: async (limit) => Promise.all((await ledger.listReleases(config.service, limit)).map(withIntents)),
    globalIntents: () => globalIntents(ledger, config.service),
  };
}
