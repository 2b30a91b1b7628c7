/**
 * The steering rules end to end on the embedded backend (the real ASL, real region processes, the
 * real ledger): each case is a defect release managers hit, reproduced as they did it. The rules
 * themselves are core/steering.ts and core/rollback.ts; these prove the services and the release
 * obey them, checked against what the regions themselves serve.
 */

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import type { Stamped } from '../../core/events.ts';
import { eventually, startCli } from '../helpers/cli.ts';
import { asLocal, recordWith } from '../helpers/fixtures.ts';
import { e2eConfig, GOOD_BUILD, type RegionSpec, recorder, servedVersion, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function backendFor(config: FlotillaConfig, options: { stateDir?: string; emit?: (e: Stamped) => unknown } = {}) {
  let dir = options.stateDir;
  if (!dir) {
    const t = await tempDir('flotilla-steer-');
    cleanups.push(t.cleanup);
    dir = t.dir;
  }
  const rec = recorder();
  const emit = options.emit;
  const events = emit ? { emit: (e: Stamped) => emit(e) as void | Promise<void> } : rec;
  const backend = await openLocalBackend({ stateDir: dir, config, events });
  open.push(backend);
  return { backend, events: rec.events, stateDir: dir };
}

const three: RegionSpec[][] = [
  [{ name: 'us-east-1', currency: 'USD' }],
  [{ name: 'eu-west-1', currency: 'USD' }],
  [{ name: 'ap-south-1', currency: 'USD' }],
];

/** Long bakes: a release stays in wave 1's bake until someone promotes it. */
async function slow(waves = three): Promise<FlotillaConfig> {
  const config = await e2eConfig(waves);
  for (const wave of config.waves) wave.bakeSeconds = 120;
  config.gate.bakeSeconds = 120;
  return config;
}

const who = (reason: string) => ({ actor: 'rm@test', reason });

async function served(config: FlotillaConfig): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const r of config.regions) out[r.name] = await servedVersion(asLocal(r.target).port);
  return out;
}

async function phaseOf(backend: LocalBackend, releaseId: string, region: string) {
  return (await backend.ledger.getRelease('shop', releaseId))?.regions[region]?.phase;
}

describe('rollback of a finished release', () => {
  it('refuses to roll back a first release, which would leave every region with nothing; a second rollback says by whom', async () => {
    const config = await e2eConfig(three);
    const { backend, events } = await backendFor(config);
    expect(await backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    expect(await backend.release({ version: '1.0.1', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });

    const first = await backend.rollback('shop-1.0.1', who('revenue dipped'));
    const outcome = await first.done;
    expect(outcome.status).toBe('ROLLED_BACK');
    expect(await served(config)).toEqual({ 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0', 'ap-south-1': '1.0.0' });
    // A rollback is one step over every region, not the release's three waves.
    const started = events.filter((e) => e.kind === 'release-started' && e.releaseId === first.releaseId);
    expect(started).toEqual([
      expect.objectContaining({ waves: [{ name: 'rollback', regions: ['us-east-1', 'eu-west-1', 'ap-south-1'] }] }),
    ]);

    await expect(backend.rollback('shop-1.0.1', who('again'))).rejects.toMatchObject({
      name: 'NoChange',
      message: `shop-1.0.1 is already rolled back by ${first.releaseId}`,
    });
    // The first release ran where nothing ran before: rolling it back would empty every region.
    await expect(backend.rollback('shop-1.0.0', who('go back further'))).rejects.toMatchObject({
      name: 'NotApplicable',
      message: expect.stringMatching(/us-east-1, eu-west-1, ap-south-1 ran nothing before it/),
    });
    expect(await served(config)).toEqual({ 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0', 'ap-south-1': '1.0.0' });
    const releases = await backend.ledger.listReleases('shop');
    expect(releases.map((r) => r.releaseId).sort()).toEqual(['shop-1.0.0', 'shop-1.0.1', 'shop-1.0.1-rollback']);
    // Refused requests leave no audit line claiming they happened.
    expect((await backend.ledger.listIntents('shop', 'shop-1.0.0')).map((i) => i.verb)).toEqual([]);
  });

  it('refuses to roll back a release whose regions moved on, naming them', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    const { backend } = await backendFor(config);
    for (const version of ['1.0.0', '1.0.1', '1.0.2']) {
      expect(await backend.release({ version, artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    }
    await expect(backend.rollback('shop-1.0.1', who('old'))).rejects.toMatchObject({
      name: 'NotApplicable',
      message: expect.stringMatching(/us-east-1 \(now 1\.0\.2\) moved on since/),
    });
    expect(await served(config)).toEqual({ 'us-east-1': '1.0.2' });
  });

  it('rolls back an interrupted (FAILED) release that touched regions; abort refuses it and says to roll back', async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'USD' }],
    ]);
    const first = await backendFor(config);
    expect(await first.backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({
      status: 'SUCCEEDED',
    });
    await first.backend.close();

    // A `flotilla release` of 1.0.1 is interrupted (Ctrl-C) while its canary bakes.
    for (const wave of config.waves) wave.bakeSeconds = 120;
    await writeFile(join(first.stateDir, 'flotilla.yml'), stringify(config));
    const child = startCli(
      ['release', GOOD_BUILD, '--version', '1.0.1', '--state-dir', first.stateDir],
      first.stateDir,
    );
    await child.waitForOutput(/us-east-1: deployed/);
    expect(await child.stop('SIGINT')).toBe(130);

    const after = await backendFor(config, { stateDir: first.stateDir });
    const record = await after.backend.ledger.getRelease('shop', 'shop-1.0.1');
    expect(record?.status).toBe('FAILED');
    await expect(
      after.backend.intent({ verb: 'abort', releaseId: 'shop-1.0.1', ...who('stop') }),
    ).rejects.toMatchObject({
      name: 'NotApplicable',
      message: expect.stringMatching(/flotilla rollback shop-1\.0\.1/),
    });
    expect(await served(config)).toEqual({ 'us-east-1': '1.0.1', 'eu-west-1': '1.0.0' });

    const rollback = await after.backend.rollback('shop-1.0.1', who('half deployed'));
    expect((await rollback.done).status).toBe('ROLLED_BACK');
    expect(await served(config)).toEqual({ 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0' });
  }, 90_000);
});

describe('force, freeze, pause and promote', () => {
  it("refuses verbs that change nothing; a force passes only the hold it was given for, never a later wave's freeze", async () => {
    const config = await slow();
    const { backend } = await backendFor(config);
    const run = await backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    const id = run.releaseId;
    await eventually('the canary baking', async () =>
      (await phaseOf(backend, id, 'us-east-1')) === 'deployed' ? true : undefined,
    );

    // Verbs that would change nothing are refused, and say why.
    await expect(backend.intent({ verb: 'resume', releaseId: id, ...who('go') })).rejects.toMatchObject({
      name: 'NoChange',
      message: `${id} is not paused: nothing to resume`,
    });
    await backend.intent({ verb: 'pause', releaseId: id, ...who('look') });
    await expect(backend.intent({ verb: 'pause', releaseId: id, ...who('look again') })).rejects.toMatchObject({
      name: 'NoChange',
      message: `${id} is already paused by rm@test: look`,
    });
    await backend.intent({ verb: 'resume', releaseId: id, ...who('fine') });
    await expect(backend.intent({ verb: 'force', releaseId: id, ...who('hurry') })).rejects.toMatchObject({
      name: 'NoChange',
      message: expect.stringMatching(/^nothing to force: .* is not held by a freeze or a closed window/),
    });

    await backend.intent({ verb: 'freeze', ...who('incident') });
    await expect(backend.intent({ verb: 'freeze', ...who('twice') })).rejects.toMatchObject({ name: 'NoChange' });
    await backend.intent({ verb: 'promote', releaseId: id, ...who('wave 1 is fine') });
    // Wave 2 waits at the freeze, and the ledger says so, with who froze it.
    const held = await eventually('wave 2 held by the freeze', async () => {
      const hold = (await backend.ledger.getRelease('shop', id))?.hold;
      return hold?.wave === 1 ? hold : undefined;
    });
    expect(held.reasons).toEqual([{ kind: 'frozen', text: 'frozen by rm@test: incident', actor: 'rm@test' }]);
    expect(await phaseOf(backend, id, 'eu-west-1')).toBe('pending');
    await expect(backend.intent({ verb: 'promote', releaseId: id, ...who('go') })).rejects.toMatchObject({
      name: 'NotApplicable',
      message: expect.stringMatching(/promote does not pass that; use force/),
    });

    const force = await backend.intent({ verb: 'force', releaseId: id, ...who('the fix must go out') });
    expect(force.wave).toBe(1);
    await eventually('wave 2 deployed past the freeze', async () =>
      (await phaseOf(backend, id, 'eu-west-1')) === 'deployed' ? true : undefined,
    );
    expect((await backend.ledger.getRelease('shop', id))?.hold ?? null).toBeNull();
    await backend.intent({ verb: 'promote', releaseId: id, ...who('wave 2 is fine') });
    // Wave 3 meets the same freeze: the force was for wave 2's hold and is spent.
    const again = await eventually('wave 3 held by the freeze', async () => {
      const hold = (await backend.ledger.getRelease('shop', id))?.hold;
      return hold?.wave === 2 ? hold : undefined;
    });
    expect(again.reasons.map((r) => r.kind)).toEqual(['frozen']);
    await new Promise((ok) => setTimeout(ok, 1500));
    expect(await phaseOf(backend, id, 'ap-south-1')).toBe('pending');
    expect(await served(config)).toEqual({ 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0', 'ap-south-1': null });

    await backend.intent({ verb: 'unfreeze', ...who('incident over') });
    await eventually('wave 3 deployed after the unfreeze', async () =>
      (await phaseOf(backend, id, 'ap-south-1')) === 'deployed' ? true : undefined,
    );
    await backend.intent({ verb: 'promote', releaseId: id, ...who('done') });
    expect(await run.done).toMatchObject({ status: 'SUCCEEDED' });
    await expect(backend.intent({ verb: 'pause', releaseId: id, ...who('late') })).rejects.toMatchObject({
      name: 'NotApplicable',
    });
    await expect(backend.intent({ verb: 'pause', releaseId: 'shop-9.9.9', ...who('x') })).rejects.toMatchObject({
      name: 'NotFound',
    });
  }, 120_000);
});

describe('the queue', () => {
  it('aborts a QUEUED release: it ends ABORTED without touching a region, and the release ahead goes on', async () => {
    const config = await slow([[{ name: 'us-east-1', currency: 'USD' }]]);
    const { backend } = await backendFor(config);
    const ahead = await backend.start({ version: '1.0.0', artifact: GOOD_BUILD });
    await eventually('the first release baking', async () =>
      (await phaseOf(backend, ahead.releaseId, 'us-east-1')) === 'deployed' ? true : undefined,
    );
    const queued = await backend.start({ version: '1.0.1', artifact: GOOD_BUILD });
    const record = await eventually('the second release queued', async () => {
      const r = await backend.ledger.getRelease('shop', queued.releaseId);
      return r?.status === 'QUEUED' && r.hold ? r : undefined;
    });
    expect(record.hold?.reasons).toEqual([{ kind: 'queued', text: `queued behind ${ahead.releaseId}` }]);

    await backend.intent({ verb: 'abort', releaseId: queued.releaseId, ...who('wrong build') });
    const outcome = await queued.done;
    expect(outcome.status).toBe('ABORTED');
    expect(outcome.reason).toMatch(/no region had been touched/);
    expect((await backend.ledger.getRelease('shop', ahead.releaseId))?.status).toBe('RUNNING');
    await backend.intent({ verb: 'promote', releaseId: ahead.releaseId, ...who('ship it') });
    expect(await ahead.done).toMatchObject({ status: 'SUCCEEDED' });
    expect(await served(config)).toEqual({ 'us-east-1': '1.0.0' });
    expect((await backend.ledger.getRelease('shop', queued.releaseId))?.status).toBe('ABORTED');
  }, 90_000);
});

describe('events', () => {
  it('waits for an async sink before a step ends, and a failing sink never fails the release', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    let pending = 0;
    const delivered: string[] = [];
    const { backend } = await backendFor(config, {
      emit: async (e) => {
        pending += 1;
        await new Promise((ok) => setTimeout(ok, 150));
        pending -= 1;
        if (e.kind === 'gate') throw new Error('the topic is gone');
        delivered.push(e.kind);
      },
    });
    const outcome = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    // Every publish finished before the release did, the last one included.
    expect(pending).toBe(0);
    expect(delivered.at(-1)).toBe('release-finished');
    expect(delivered[0]).toBe('release-started');
  });
});

describe('a lock left by a dead local orchestrator', () => {
  it('is freed by the next one whatever pid or host it named (a container pid 1, another hostname)', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    const first = await backendFor(config);
    const record = {
      ...recordWith([{ region: 'us-east-1', wave: 0, phase: 'deploying', before: null }]),
      releaseId: 'shop-0.9.0',
      version: '0.9.0',
      waveCount: 1,
    };
    await first.backend.ledger.createRelease(record);
    await first.backend.ledger.acquireLock('shop', {
      releaseId: record.releaseId,
      owner: 'local:a-container-that-is-gone:1',
      acquiredAt: record.startedAt,
    });
    await first.backend.close();

    const next = await backendFor(config, { stateDir: first.stateDir });
    expect(next.backend.interrupted.map((r) => r.releaseId)).toEqual(['shop-0.9.0']);
    expect(await next.backend.ledger.getLock('shop')).toBeUndefined();
    expect(await next.backend.ledger.getRelease('shop', 'shop-0.9.0')).toMatchObject({
      status: 'FAILED',
      reason: expect.stringMatching(/pid 1 on a-container-that-is-gone/),
    });
    expect(await next.backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({
      status: 'SUCCEEDED',
    });
  });
});
