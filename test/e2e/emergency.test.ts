/**
 * The break-glass lane end to end (real ASL, local engine, real processes, dynalite): an emergency
 * release waits for a second, distinct approver before its first wave, refuses the one who asked
 * for it as that approver, then deploys with the config's short emergency bakes, and stays marked
 * for review.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import { eventually } from '../helpers/cli.ts';
import { e2eConfig, GOOD_BUILD, recorder, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('an emergency release', () => {
  it('waits for a second approver, refuses the same person twice, then deploys with short bakes, marked for review', async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'EUR' }],
    ]);
    // Normal bakes of 10 minutes: the emergency lane bakes emergency.minBakeSeconds instead.
    for (const wave of config.waves) wave.bakeSeconds = 600;
    config.emergency = { minBakeSeconds: 1 };
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const rec = recorder();
    const backend = await openLocalBackend({ stateDir: dir, config, events: rec });
    open.push(backend);

    const started = await backend.start({
      version: '1.0.0',
      artifact: GOOD_BUILD,
      emergency: { actor: 'ann', reason: 'checkout is down' },
    });
    const held = await eventually('the emergency release to wait for its second approver', async () => {
      const record = await backend.ledger.getRelease('shop', started.releaseId);
      return record?.hold?.reasons.some((r) => r.kind === 'approval') ? record : undefined;
    });
    expect(held.hold?.wave).toBe(0);
    expect(held.hold?.reasons.map((r) => r.text)).toEqual([
      'emergency release asked for by ann: waiting for a second, distinct approver (flotilla approve)',
    ]);
    expect(rec.events.some((e) => e.kind === 'region')).toBe(false);

    // The one who asked cannot be the second approval, however often she tries.
    for (let i = 0; i < 2; i++) {
      await expect(
        backend.intent({ verb: 'approve', releaseId: started.releaseId, actor: 'ann', reason: 'it is urgent' }),
      ).rejects.toMatchObject({ name: 'NotApplicable', message: expect.stringContaining('a second, distinct person') });
    }
    await backend.intent({ verb: 'approve', releaseId: started.releaseId, actor: 'bob', reason: 'seen the incident' });

    const outcome = await started.done;
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    // Every bake was the emergency one (1 s), not the waves' 600 s.
    const bakes = rec.events.flatMap((e) =>
      e.kind === 'gate' && e.evaluation.kind === 'Baking' ? [e.evaluation.remainingMs] : [],
    );
    expect(bakes.length).toBeGreaterThan(0);
    expect(Math.max(...bakes)).toBeLessThanOrEqual(1000);

    const record = await backend.ledger.getRelease('shop', started.releaseId);
    expect(record?.emergency).toEqual({ actor: 'ann', reason: 'checkout is down', review: true });
    const audit = await backend.ledger.listIntents('shop', started.releaseId);
    expect(audit.map((i) => [i.verb, i.actor])).toEqual([['approve', 'bob']]);
  });
});
