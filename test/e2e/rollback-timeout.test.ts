/**
 * A rollback whose restart misses the readiness timeout leaves the region's `current` link on its
 * last-known-good with nothing running there. The ledger must then say what the region itself says
 * (re-read from the deployer before the release ends), not the version the failed deploy left
 * recorded, and once the fault is gone the next release must deploy there instead of ending BLOCKED.
 */
import { readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import { asLocal } from '../helpers/fixtures.ts';
import { BROKEN_BUILD, e2eConfig, GOOD_BUILD, servedVersion, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('a rollback that misses the readiness timeout', () => {
  it('leaves the ledger saying what the region runs, and the next release is not blocked there', async () => {
    const healthy = await e2eConfig([[{ name: 'eu-west-1', currency: 'EUR' }]]);
    healthy.deploy.readinessTimeoutSeconds = 2;
    const t = await tempDir('flotilla-rollback-timeout-');
    cleanups.push(t.cleanup);
    const port = asLocal(healthy.regions[0]?.target).port;
    const link = async () => basename(await readlink(join(t.dir, 'regions', 'eu-west-1', 'current')));

    const first = await openLocalBackend({ stateDir: t.dir, config: healthy });
    open.push(first);
    expect(await first.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    await first.close();
    open.splice(0);

    // The broken build fails the gate in EUR; the restart of 1.0.0 on rollback is too slow.
    const slow = structuredClone(healthy);
    asLocal(slow.regions[0]?.target).faults = [{ kind: 'slow-start', on: 'rollback', ms: 3000 }];
    const second = await openLocalBackend({ stateDir: t.dir, config: slow });
    open.push(second);
    const outcome = await second.release({ version: '1.1.0', artifact: BROKEN_BUILD });
    expect(outcome.status, outcome.reason).toBe('ROLLBACK_FAILED');
    expect(outcome.reason).toMatch(/eu-west-1 \(.*not ready within 2000 ms/);
    expect(await link()).toBe('1.0.0');
    expect(await servedVersion(port)).toBeNull();
    const where = await second.ledger.getRegion('shop', 'eu-west-1');
    expect(where?.current?.version).toBe('1.0.0');
    expect(outcome.regions).toEqual([expect.objectContaining({ region: 'eu-west-1', version: '1.0.0' })]);
    await second.close();
    open.splice(0);

    const third = await openLocalBackend({ stateDir: t.dir, config: healthy });
    open.push(third);
    expect(await servedVersion(port)).toBe('1.0.0');
    const next = await third.release({ version: '1.2.0', artifact: GOOD_BUILD });
    expect(next.status, next.reason).toBe('SUCCEEDED');
    expect(await servedVersion(port)).toBe('1.2.0');
  }, 120_000);
});
