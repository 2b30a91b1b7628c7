/**
 * Release managers steer a running release, end to end on the local backend with real region
 * processes: approvals, pause/resume, abort, skip-region, freeze, deploy windows on an injected
 * clock, the rollback verb, and an Inconclusive gate that pauses. Every intent is audited.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import type { Stamped } from '../../ports/events.ts';
import { asLocal } from '../helpers/fixtures.ts';
import { e2eConfig, GOOD_BUILD, servedVersion, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
  for (const c of cleanups.splice(0)) await c();
});

/** Real time plus an offset a test can move: bakes still take real seconds, windows see the offset. */
function movableClock(start: number) {
  let offset = start - Date.now();
  return { now: () => Date.now() + offset, jumpTo: (t: number) => (offset = t - Date.now()) };
}

async function setUp(config: FlotillaConfig, now?: () => number) {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  const events: Stamped[] = [];
  const waiters: { test: (e: Stamped) => boolean; done: (e: Stamped) => void }[] = [];
  const backend = await openLocalBackend({
    stateDir: t.dir,
    config,
    ...(now ? { now } : {}),
    events: {
      emit(e) {
        events.push(e);
        for (const w of waiters.splice(0)) w.test(e) ? w.done(e) : waiters.push(w);
      },
    },
  });
  open.push(backend);
  const waitFor = (test: (e: Stamped) => boolean, ms = 20_000) =>
    new Promise<Stamped>((resolve, reject) => {
      const seen = events.find(test);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error('timed out waiting for an event')), ms);
      waiters.push({
        test,
        done: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  return { backend, events, waitFor };
}

const who = { actor: 'alice@example', reason: 'testing the verbs' };
const three = () =>
  e2eConfig([
    [{ name: 'us-east-1', currency: 'USD' }],
    [{ name: 'eu-west-1', currency: 'USD' }],
    [{ name: 'ap-southeast-2', currency: 'USD' }],
  ]);
const deployingIn = (events: Stamped[], region: string, releaseId: string) =>
  events.some(
    (e) => e.kind === 'region' && e.region === region && e.state === 'deploying' && e.releaseId === releaseId,
  );

describe('steering a release', () => {
  it('waits at a wave that needs approval until promote, then succeeds; the audit names who promoted', async () => {
    const config = await three();
    (config.waves[1] as FlotillaConfig['waves'][number]).approval = true;
    const { backend, events, waitFor } = await setUp(config);
    const run = await backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    await waitFor((e) => e.kind === 'wave-held' && e.wave === 1 && e.reasons.some((r) => r.includes('approval')));
    await new Promise((r) => setTimeout(r, 500));
    expect(deployingIn(events, 'eu-west-1', run.releaseId)).toBe(false);
    expect((await backend.ledger.getRelease('shop', run.releaseId))?.status).toBe('RUNNING');

    await backend.intent({ verb: 'promote', releaseId: run.releaseId, ...who });
    const outcome = await run.done;
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    const audit = await backend.ledger.listIntents('shop', run.releaseId);
    expect(audit).toEqual([
      expect.objectContaining({ verb: 'promote', actor: 'alice@example', reason: 'testing the verbs' }),
    ]);
  });

  it('holds the next wave while paused and goes on after resume', async () => {
    const config = await three();
    (config.waves[0] as FlotillaConfig['waves'][number]).bakeSeconds = 2;
    const { backend, events, waitFor } = await setUp(config);
    const run = await backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    await waitFor((e) => e.kind === 'region' && e.region === 'us-east-1' && e.state === 'deployed');
    await backend.intent({ verb: 'pause', releaseId: run.releaseId, ...who });
    await waitFor(
      (e) => e.kind === 'wave-held' && e.wave === 1 && e.reasons.some((r) => r.startsWith('paused by alice')),
    );
    await new Promise((r) => setTimeout(r, 800));
    expect(deployingIn(events, 'eu-west-1', run.releaseId)).toBe(false);

    await backend.intent({ verb: 'resume', releaseId: run.releaseId, ...who });
    expect(await run.done).toMatchObject({ status: 'SUCCEEDED' });
    expect((await backend.ledger.listIntents('shop', run.releaseId)).map((i) => i.verb)).toEqual(['pause', 'resume']);
  });

  it('aborts during wave 2: every touched region goes back, the release ends ABORTED, and the audit says who and why', async () => {
    const config = await three();
    (config.waves[1] as FlotillaConfig['waves'][number]).bakeSeconds = 10;
    const { backend, waitFor } = await setUp(config);
    expect(await backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });

    const run = await backend.start({ version: '2.0.0', artifact: GOOD_BUILD });
    await waitFor(
      (e) => e.kind === 'region' && e.region === 'eu-west-1' && e.state === 'deployed' && e.releaseId === run.releaseId,
    );
    await backend.intent({ verb: 'abort', releaseId: run.releaseId, actor: 'bob@example', reason: 'wrong build' });
    const outcome = await run.done;
    expect(outcome.status).toBe('ABORTED');
    expect(outcome.reason).toContain('bob@example');
    for (const region of ['us-east-1', 'eu-west-1', 'ap-southeast-2']) {
      const port = asLocal(config.regions.find((r) => r.name === region)?.target).port;
      expect(await servedVersion(port)).toBe('1.0.0');
    }
    expect((await backend.ledger.getRelease('shop', run.releaseId))?.regions['ap-southeast-2']?.phase).toBe('pending');
    expect(await backend.ledger.listIntents('shop', run.releaseId)).toEqual([
      expect.objectContaining({ verb: 'abort', actor: 'bob@example', reason: 'wrong build' }),
    ]);
  });

  it('skips a second-wave region: the release succeeds, that region stays on its old version and is reported skipped', async () => {
    const config = await three();
    (config.waves[0] as FlotillaConfig['waves'][number]).bakeSeconds = 2;
    const { backend, waitFor } = await setUp(config);
    expect(await backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    const run = await backend.start({ version: '2.0.0', artifact: GOOD_BUILD });
    await waitFor((e) => e.kind === 'wave-started' && e.wave === 0 && e.releaseId === run.releaseId);
    await backend.intent({ verb: 'skip-region', releaseId: run.releaseId, region: 'eu-west-1', ...who });
    const outcome = await run.done;
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    expect(outcome.regions.find((r) => r.region === 'eu-west-1')).toMatchObject({ phase: 'skipped', version: '1.0.0' });
    expect(outcome.reason).toMatch(/skipped eu-west-1/);
    expect(await servedVersion(asLocal(config.regions[1]?.target).port)).toBe('1.0.0');
    expect(await servedVersion(asLocal(config.regions[2]?.target).port)).toBe('2.0.0');
  });

  it('lets wave 1 finish under a freeze set during it, and holds wave 2 until unfreeze', async () => {
    const config = await three();
    (config.waves[0] as FlotillaConfig['waves'][number]).bakeSeconds = 2;
    const { backend, events, waitFor } = await setUp(config);
    const run = await backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    await waitFor((e) => e.kind === 'region' && e.region === 'us-east-1' && e.state === 'deploying');
    await backend.intent({ verb: 'freeze', ...who });
    await waitFor((e) => e.kind === 'wave-held' && e.wave === 1 && e.reasons.some((r) => r.startsWith('frozen')));
    expect(events.some((e) => e.kind === 'gate' && e.wave === 0 && e.evaluation.kind === 'Passed')).toBe(true);
    expect(deployingIn(events, 'eu-west-1', run.releaseId)).toBe(false);
    await backend.intent({ verb: 'unfreeze', ...who });
    expect(await run.done).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('holds a wave outside its region’s window until the (injected) clock reaches it; force passes a closed window and is audited', async () => {
    // Monday 2026-11-30 08:59:50 in Dublin (UTC+0 in winter).
    const clock = movableClock(Date.parse('2026-11-30T08:59:50Z'));
    const config = await three();
    const eu = config.regions[1];
    if (!eu) throw new Error('fixture');
    eu.window = { days: ['Mon', 'Tue', 'Wed', 'Thu'], start: '09:00', end: '16:00', timeZone: 'Europe/Dublin' };
    const { backend, events, waitFor } = await setUp(config, clock.now);
    const run = await backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    await waitFor(
      (e) => e.kind === 'wave-held' && e.wave === 1 && e.reasons.some((r) => r.includes('outside its window')),
    );
    expect(deployingIn(events, 'eu-west-1', run.releaseId)).toBe(false);
    clock.jumpTo(Date.parse('2026-11-30T09:00:05Z'));
    expect(await run.done).toMatchObject({ status: 'SUCCEEDED' });

    // Friday evening: closed all weekend; force takes it through, on the record.
    clock.jumpTo(Date.parse('2026-12-04T18:00:00Z'));
    const again = await backend.start({ version: '1.0.1', artifact: GOOD_BUILD });
    await waitFor((e) => e.kind === 'wave-held' && e.releaseId === again.releaseId);
    await backend.intent({
      verb: 'force',
      releaseId: again.releaseId,
      actor: 'carol@example',
      reason: 'hotfix, approved by on-call',
    });
    expect(await again.done).toMatchObject({ status: 'SUCCEEDED' });
    expect(await backend.ledger.listIntents('shop', again.releaseId)).toEqual([
      expect.objectContaining({ verb: 'force', actor: 'carol@example' }),
    ]);
  });

  it('rolls a succeeded release back to what each region ran before it (the rollback verb)', async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'USD' }],
    ]);
    const { backend } = await setUp(config);
    expect(await backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    const second = await backend.release({ version: '2.0.0', artifact: GOOD_BUILD });
    expect(second).toMatchObject({ status: 'SUCCEEDED' });
    const rollback = await backend.rollback(second.releaseId, who);
    const outcome = await rollback.done;
    expect(outcome.status).toBe('ROLLED_BACK');
    for (const r of config.regions) expect(await servedVersion(asLocal(r.target).port)).toBe('1.0.0');
    expect((await backend.ledger.listIntents('shop', second.releaseId)).map((i) => i.verb)).toEqual(['rollback']);
  });

  it('pauses at an Inconclusive gate when told to, and promote passes it', async () => {
    const config = await e2eConfig(
      [
        [{ name: 'us-east-1', currency: 'USD' }],
        [{ name: 'eu-west-1', currency: 'USD', faults: [{ kind: 'silent', on: 'deploy' }] }],
      ],
      { onInconclusive: 'pause' },
    );
    const { backend, waitFor } = await setUp(config);
    const run = await backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    await waitFor((e) => e.kind === 'gate' && e.wave === 1 && e.evaluation.kind === 'Inconclusive');
    await new Promise((r) => setTimeout(r, 500));
    expect((await backend.ledger.getRelease('shop', run.releaseId))?.status).toBe('RUNNING');
    await backend.intent({ verb: 'promote', releaseId: run.releaseId, ...who });
    expect(await run.done).toMatchObject({ status: 'SUCCEEDED' });
  });
});

describe('builds merged while a release runs', () => {
  it('queue behind it; when it ends only the newest runs next, and the older ones end SUPERSEDED', async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'USD' }],
    ]);
    const { backend, events, waitFor } = await setUp(config);
    const first = await backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    await waitFor((e) => e.kind === 'region' && e.state === 'deploying' && e.releaseId === first.releaseId);
    // Paused, so that both newer builds are queued while it runs however slow the machine is.
    await backend.intent({ verb: 'pause', releaseId: first.releaseId, ...who });
    const older = await backend.start({ version: '1.1.0', artifact: GOOD_BUILD });
    await waitFor((e) => e.kind === 'wave-held' && e.releaseId === older.releaseId);
    const newest = await backend.start({ version: '1.2.0', artifact: GOOD_BUILD });
    await waitFor((e) => e.kind === 'wave-held' && e.releaseId === newest.releaseId);
    expect((await backend.ledger.getRelease('shop', newest.releaseId))?.status).toBe('QUEUED');
    await backend.intent({ verb: 'resume', releaseId: first.releaseId, ...who });

    expect(await first.done).toMatchObject({ status: 'SUCCEEDED' });
    expect((await older.done).status).toBe('SUPERSEDED');
    expect(await newest.done).toMatchObject({ status: 'SUCCEEDED' });
    // The wave in flight was never interrupted, and the superseded build never touched a region.
    expect(events.some((e) => e.kind === 'region' && e.releaseId === older.releaseId)).toBe(false);
    for (const r of config.regions) expect(await servedVersion(asLocal(r.target).port)).toBe('1.2.0');
  });

  it('moves a pending approval to the newest build', async () => {
    const config = await three();
    (config.waves[1] as FlotillaConfig['waves'][number]).approval = true;
    const { backend, waitFor } = await setUp(config);
    const waiting = await backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    await waitFor(
      (e) =>
        e.kind === 'wave-held' && e.releaseId === waiting.releaseId && e.reasons.some((r) => r.includes('approval')),
    );
    const newer = await backend.start({ version: '1.1.0', artifact: GOOD_BUILD });
    expect((await waiting.done).status).toBe('SUPERSEDED');
    await waitFor(
      (e) => e.kind === 'wave-held' && e.releaseId === newer.releaseId && e.reasons.some((r) => r.includes('approval')),
    );
    await backend.intent({ verb: 'promote', releaseId: newer.releaseId, ...who });
    expect(await newer.done).toMatchObject({ status: 'SUCCEEDED' });
  });
});
