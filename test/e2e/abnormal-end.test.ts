/**
 * Recovery from an abnormal end of a release's execution, on the real ASL and engine: a
 * States.Runtime no Catch handles, and an operator's stop (StopExecution). Neither reaches
 * FinishRelease; the recovery (services/recovery.ts) must close the record, free the lock and let
 * the release queued behind run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalBackend, type LocalBackendOptions, openLocalBackend } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { createStartBake } from '../../functions/start-bake.ts';
import { eventually } from '../helpers/cli.ts';
import { e2eConfig, GOOD_BUILD, recorder, tempDir } from '../helpers/local.ts';

/** Waits (generously: the machine may be loaded) until `cond` holds. */
const until = (what: string, cond: () => Promise<boolean>) =>
  eventually(what, async () => ((await cond()) ? true : undefined), 60_000);

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function backendFor(config: FlotillaConfig, over: Partial<LocalBackendOptions> = {}) {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  const rec = recorder();
  const backend = await openLocalBackend({ stateDir: t.dir, config, events: rec, ...over });
  open.push(backend);
  return { backend, events: rec.events };
}

describe('an abnormal end of a release execution', () => {
  it('a States.Runtime no Catch handles: the release is FAILED, the lock free, and the queued release runs', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    // Version 1.0.0's StartBake answers without the bake's length: PrepareBake's path points at
    // nothing, a States.Runtime, which ends the execution on AWS as here (no Catch applies).
    const { backend, events } = await backendFor(config, {
      functionOverrides: {
        'start-bake': (deps) => {
          const real = createStartBake(deps);
          return async (input: Parameters<typeof real>[0]) => {
            const gate = await real(input);
            if (input.plan.version !== '1.0.0') return gate;
            const { waitSeconds: _dropped, ...broken } = gate;
            return { ...broken, decision: 'continue' };
          };
        },
      },
    });
    const first = await backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    await until(
      'the first release to take the lock',
      async () => (await backend.ledger.getLock('shop'))?.releaseId === first.releaseId,
    );
    const second = await backend.start({ version: '1.0.1', artifact: GOOD_BUILD });

    await expect(first.done).rejects.toThrow(/States\.Runtime|does not point to a value/);
    const record = await backend.ledger.getRelease('shop', first.releaseId);
    expect(record?.status).toBe('FAILED');
    expect(record?.reason).toMatch(/execution failed outside its own paths \(States\.Runtime/);
    expect(record?.reason).toMatch(/us-east-1 runs 1\.0\.0/);
    // Alerted, as FinishRelease would have.
    expect(events.some((e) => e.kind === 'release-finished' && e.releaseId === first.releaseId)).toBe(true);

    const outcome = await second.done;
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    expect(await backend.ledger.getLock('shop')).toBeUndefined();
  }, 120_000);

  it('a stop (StopExecution) mid-bake: the release is FAILED naming who stopped it, the lock free, and the queued release takes it', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    config.waves[0] = { ...(config.waves[0] as FlotillaConfig['waves'][number]), bakeSeconds: 3600 };
    const { backend } = await backendFor(config);
    const first = await backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    await until('the first release to bake', async () =>
      (await backend.ledger.listBakes()).some((b) => b.releaseId === first.releaseId),
    );
    const second = await backend.start({ version: '1.0.1', artifact: GOOD_BUILD });
    await until(
      'the second release to queue',
      async () => (await backend.ledger.getRelease('shop', second.releaseId))?.status === 'QUEUED',
    );

    // The operator's unlock is refused while the release holding the lock runs: nothing changes.
    await expect(backend.unlock({ actor: 'ops@example.com', reason: 'looks stuck' })).rejects.toMatchObject({
      name: 'Busy',
    });
    expect((await backend.ledger.getLock('shop'))?.releaseId).toBe(first.releaseId);

    expect(backend.stop(first.releaseId, { actor: 'ops@example.com', reason: 'wrong build' })).toBe(true);
    await expect(first.done).rejects.toThrow(/aborted/i);
    const record = await backend.ledger.getRelease('shop', first.releaseId);
    expect(record?.status).toBe('FAILED');
    expect(record?.reason).toMatch(/was stopped \(StopExecution: stopped by ops@example\.com: wrong build\)/);
    expect(await backend.ledger.listBakes()).toEqual([]);
    // Woken by the stop's recovery, not by a heartbeat (an hour away): it takes the lock and deploys.
    await until(
      'the second release to take the lock',
      async () => (await backend.ledger.getLock('shop'))?.releaseId === second.releaseId,
    );
    await until(
      'the second release to deploy',
      async () =>
        (await backend.ledger.getRelease('shop', second.releaseId))?.regions['us-east-1']?.phase === 'deployed',
    );
  }, 120_000);
});
