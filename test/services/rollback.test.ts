/**
 * The rollback service (services/rollback.ts), the one every entry point calls: on the real ledger
 * code against a real dynalite. The starter only records what it was asked to start (the engine is
 * tested end to end in test/e2e/stuck-region.test.ts and steering-rules.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import type { ReleaseRecord, Revision } from '../../core/model.ts';
import type { StartReleaseInput } from '../../core/types.ts';
import { startRollback } from '../../services/rollback.ts';
import { recordWith } from '../helpers/fixtures.ts';

let dynamo: EmbeddedDynamo;
let n = 0;
beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
});
afterAll(async () => {
  await dynamo.close();
});

const rev = (version: string): Revision => ({ version, artifact: `/builds/${version}` });
const AT = '2026-12-01T12:00:00.000Z';

/** shop-2.0.0 ended `status`; us-east-1 and eu-west-1 ran 1.0.0 before it; the ledger says what `recorded` says. */
async function ledgerWith(status: ReleaseRecord['status'], recorded: Record<string, string>) {
  n += 1;
  await createLedgerTable(dynamo.client, `rollback-${n}`);
  const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: `rollback-${n}` });
  await ledger.createRelease({
    ...recordWith([
      { region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' },
      { region: 'eu-west-1', wave: 1, phase: 'rollback-failed', before: '1.0.0' },
    ]),
    status,
  });
  await ledger.putRegions(
    Object.entries(recorded).map(([region, version]) => ({
      service: 'shop',
      region,
      current: rev(version),
      releaseId: 'shop-2.0.0',
      updatedAt: AT,
    })),
  );
  const started: StartReleaseInput[] = [];
  const deps = {
    ledger,
    now: () => Date.parse(AT),
    config: { service: 'shop' },
    owner: 'test',
    starter: {
      start: async (input: StartReleaseInput) => {
        started.push(input);
        return { releaseId: input.releaseId };
      },
    },
  };
  return { ledger, started, deps };
}
const who = { releaseId: 'shop-2.0.0', actor: 'rm@test', reason: 'eu-west-1 stuck' };

describe('startRollback', () => {
  it('retries a ROLLBACK_FAILED release: starts the rollback and audits who, why and which regions', async () => {
    const { ledger, started, deps } = await ledgerWith('ROLLBACK_FAILED', {
      'us-east-1': '1.0.0',
      'eu-west-1': '2.0.0',
    });
    expect(await startRollback(deps, who)).toEqual({ releaseId: 'shop-2.0.0-rollback' });
    expect(started).toEqual([expect.objectContaining({ releaseId: 'shop-2.0.0-rollback', rollbackOf: 'shop-2.0.0' })]);
    expect(await ledger.listIntents('shop', 'shop-2.0.0')).toEqual([
      expect.objectContaining({
        verb: 'rollback',
        actor: 'rm@test',
        reason: 'eu-west-1 stuck',
        regions: ['eu-west-1'],
        at: AT,
      }),
    ]);
  });

  it('refuses (Busy) while another release holds the lock, and records and starts nothing', async () => {
    const { ledger, started, deps } = await ledgerWith('ROLLBACK_FAILED', {
      'us-east-1': '1.0.0',
      'eu-west-1': '2.0.0',
    });
    await ledger.acquireLock('shop', { releaseId: 'shop-2.1.0', owner: 'arn:exec', acquiredAt: AT });
    // (The AWS CLI and Slack paths had no such check: the rollback release went straight to
    // PlanRollback, deploying beside the release in flight.)
    await expect(startRollback(deps, who)).rejects.toMatchObject({
      name: 'Busy',
      message: expect.stringMatching(/^shop-2\.1\.0 holds shop's lock/),
    });
    expect(started).toEqual([]);
    expect(await ledger.listIntents('shop', 'shop-2.0.0')).toEqual([]);
  });

  it('goes by what the regions run, and the ledger follows them: a region switched without the ledger hearing of it', async () => {
    // A FAILED release whose execution died after us-east-1 switched to 2.0.0: the ledger still says 1.0.0.
    const { ledger, started, deps } = await ledgerWith('FAILED', { 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0' });
    const regions = async () =>
      new Map<string, Revision | null | undefined>([
        ['us-east-1', rev('2.0.0')],
        ['eu-west-1', undefined],
        ['ap-south-1', rev('9.9.9')],
      ]);
    // Read from the ledger alone, there is nothing to put back.
    await expect(startRollback(deps, who)).rejects.toMatchObject({ name: 'NoChange' });
    await startRollback({ ...deps, regions }, who);
    expect(started.map((s) => s.releaseId)).toEqual(['shop-2.0.0-rollback']);
    expect((await ledger.listIntents('shop', 'shop-2.0.0')).map((i) => i.regions)).toEqual([['us-east-1']]);
    const states = new Map((await ledger.listRegions('shop')).map((s) => [s.region, s]));
    expect(states.get('us-east-1')).toMatchObject({ current: rev('2.0.0'), releaseId: 'shop-2.0.0' });
    // A region it could not read keeps its record; one the release never touched is not its to write.
    expect(states.get('eu-west-1')?.current).toEqual(rev('1.0.0'));
    expect(states.has('ap-south-1')).toBe(false);
  });
});
