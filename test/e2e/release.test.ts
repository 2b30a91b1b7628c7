/**
 * End to end on the embedded backend: the real ASL on aws-local-stepfunctions, real processes
 * per region, real HTTP probes, the ledger in a real dynalite server. No mocks.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { asLocal } from '../helpers/fixtures.ts';
import { BROKEN_BUILD, e2eConfig, GOOD_BUILD, recorder, servedVersion, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function backendFor(config: FlotillaConfig, stateDir?: string) {
  let dir = stateDir;
  if (!dir) {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    dir = t.dir;
  }
  const rec = recorder();
  const backend = await openLocalBackend({ stateDir: dir, config, events: rec });
  open.push(backend);
  return { backend, events: rec.events, stateDir: dir };
}

const portOf = (config: FlotillaConfig, region: string) =>
  asLocal(config.regions.find((r) => r.name === region)?.target).port;

async function where(backend: LocalBackend, config: FlotillaConfig) {
  const states = await backend.ledger.listRegions(config.service);
  return Object.fromEntries(states.map((s) => [s.region, s.current?.version ?? null]));
}

describe('a release on the local backend', () => {
  it('ships a good build through every wave, then rolls a broken one back from waves 1 and 2 when wave 2’s gate fails', async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [
        { name: 'eu-central-1', currency: 'EUR' },
        { name: 'us-west-2', currency: 'USD' },
      ],
      [{ name: 'ap-southeast-2', currency: 'AUD' }],
    ]);
    const { backend, events } = await backendFor(config);

    const good = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });
    expect(good).toMatchObject({ status: 'SUCCEEDED' });
    expect(await where(backend, config)).toEqual({
      'us-east-1': '1.0.0',
      'eu-central-1': '1.0.0',
      'us-west-2': '1.0.0',
      'ap-southeast-2': '1.0.0',
    });
    for (const r of config.regions) expect(await servedVersion(asLocal(r.target).port)).toBe('1.0.0');

    const waveOrder = events.filter((e) => e.kind === 'wave-started').map((e) => e.kind === 'wave-started' && e.wave);
    expect(waveOrder).toEqual([0, 1, 2]);

    const bad = await backend.release({ version: '1.1.0', artifact: BROKEN_BUILD });
    expect(bad.status).toBe('ROLLED_BACK');
    expect(bad.reason).toContain('eu-central-1');
    expect(bad.reason).toMatch(/gate failed in wave 2/);
    // Waves 1 and 2 went back, the first wave included; wave 3 was never touched.
    const rolled = events
      .filter((e) => e.kind === 'region' && e.state === 'rolled-back')
      .map((e) => e.kind === 'region' && e.region);
    expect(new Set(rolled)).toEqual(new Set(['us-east-1', 'eu-central-1', 'us-west-2']));
    expect(
      events.some((e) => e.kind === 'region' && e.region === 'ap-southeast-2' && e.releaseId === bad.releaseId),
    ).toBe(false);
    expect(await where(backend, config)).toEqual({
      'us-east-1': '1.0.0',
      'eu-central-1': '1.0.0',
      'us-west-2': '1.0.0',
      'ap-southeast-2': '1.0.0',
    });
    for (const r of config.regions) expect(await servedVersion(asLocal(r.target).port)).toBe('1.0.0');

    const record = await backend.ledger.getRelease('shop', bad.releaseId);
    expect(record?.status).toBe('ROLLED_BACK');
    expect(record?.regions['ap-southeast-2']?.phase).toBe('pending');
    expect(record?.regions['us-east-1']?.phase).toBe('rolled-back');
    expect(await backend.ledger.getLock('shop')).toBeUndefined();
  });

  it("wakes each region's child as its restart ends: the deploy's re-check, an hour away, never comes into it", async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-central-1', currency: 'EUR' }],
    ]);
    const slowRecheck = { ...config, deploy: { ...config.deploy, pollSeconds: 3600, maxPollSeconds: 3600 } };
    const { backend, events } = await backendFor(slowRecheck);
    const started = Date.now();
    const good = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });
    expect(good).toMatchObject({ status: 'SUCCEEDED' });
    expect(Date.now() - started).toBeLessThan(60_000);
    const deployed = events.filter((e) => e.kind === 'region' && e.state === 'deployed');
    expect(deployed).toHaveLength(2);
    for (const r of config.regions) expect(await servedVersion(asLocal(r.target).port)).toBe('1.0.0');
  }, 90_000);

  it("names a build's releases by attempt, reading the ids it may take and never the service's history", async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    const { backend } = await backendFor(config);
    // Earlier releases of the service in the ledger: starting one more must not read them all.
    for (let i = 0; i < 30; i++) {
      await backend.ledger.createRelease({
        service: config.service,
        releaseId: `${config.service}-0.${i}.0`,
        version: `0.${i}.0`,
        artifact: GOOD_BUILD,
        status: 'SUCCEEDED',
        wave: 0,
        waveCount: 1,
        startedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
        regions: {},
      });
    }
    const history = vi.spyOn(backend.ledger, 'listReleases');
    const first = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });
    const again = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });
    expect([first.releaseId, first.status]).toEqual([`${config.service}-1.0.0`, 'SUCCEEDED']);
    expect([again.releaseId, again.status]).toEqual([`${config.service}-1.0.0-2`, 'SUCCEEDED']);
    // Only the queue's own look at the newest releases, as each one ends (services/queue.ts), with its bound.
    for (const call of history.mock.calls) expect(call[1]).toBeLessThanOrEqual(50);
  }, 90_000);

  it('survives the process: a new backend on the same state dir knows what runs where and rolls back to it', async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'EUR' }],
    ]);
    const first = await backendFor(config);
    expect(await first.backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({
      status: 'SUCCEEDED',
    });
    await first.backend.close();
    open.splice(open.indexOf(first.backend), 1);

    const second = await backendFor(config, first.stateDir);
    // The regions come back up on what they ran.
    expect(await servedVersion(portOf(config, 'us-east-1'))).toBe('1.0.0');
    const bad = await second.backend.release({ version: '1.1.0', artifact: BROKEN_BUILD });
    expect(bad.status).toBe('ROLLED_BACK');
    expect(await where(second.backend, config)).toEqual({ 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0' });
    expect(await servedVersion(portOf(config, 'eu-west-1'))).toBe('1.0.0');
  });

  it('blocks a wave whose region is already unhealthy before it starts, and rolls back the waves before it', async () => {
    const healthy = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'USD' }],
    ]);
    const first = await backendFor(healthy);
    expect(await first.backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({
      status: 'SUCCEEDED',
    });
    await first.backend.close();
    open.splice(open.indexOf(first.backend), 1);

    // eu-west-1's running 1.0.0 turns sick on its own (fault applied when its process starts).
    const sick: FlotillaConfig = structuredClone(healthy);
    const eu = sick.regions.find((r) => r.name === 'eu-west-1');
    if (!eu) throw new Error('fixture');
    asLocal(eu.target).faults = [{ kind: 'unhealthy', on: 'start', ms: 0 }];
    const { backend, events } = await backendFor(sick, first.stateDir);
    const outcome = await backend.release({ version: '1.0.1', artifact: GOOD_BUILD });

    expect(outcome.status).toBe('ROLLED_BACK');
    expect(outcome.reason).toMatch(/wave 2 blocked/);
    expect(outcome.reason).toContain('eu-west-1');
    expect(events.some((e) => e.kind === 'wave-blocked' && e.wave === 1)).toBe(true);
    // Nothing was deployed to the blocked region; the canary went back.
    expect(events.some((e) => e.kind === 'region' && e.region === 'eu-west-1' && e.state === 'deploying')).toBe(false);
    expect(await where(backend, sick)).toEqual({ 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0' });
    expect(await servedVersion(portOf(sick, 'us-east-1'))).toBe('1.0.0');
  });

  it('never passes a gate with no data: a silent region makes it Inconclusive and the release rolls back', async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [{ name: 'eu-west-1', currency: 'USD', faults: [{ kind: 'silent', on: 'deploy' }] }],
    ]);
    const { backend, events } = await backendFor(config);
    const outcome = await backend.release({ version: '1.0.0', artifact: GOOD_BUILD });

    expect(outcome.status).not.toBe('SUCCEEDED');
    expect(outcome.status).toBe('ROLLED_BACK');
    expect(outcome.reason).toMatch(/inconclusive/);
    const verdicts = events
      .filter((e) => e.kind === 'gate' && e.wave === 1)
      .map((e) => e.kind === 'gate' && e.evaluation.kind);
    expect(verdicts).not.toContain('Passed');
    expect(verdicts.at(-1)).toBe('Inconclusive');
    // First release ever: rolling back means taking the service out again.
    expect(await where(backend, config)).toEqual({ 'us-east-1': null, 'eu-west-1': null });
  });

  it('ends ROLLBACK_FAILED naming the region when it crashes during its rollback', async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD', faults: [{ kind: 'crash-after-start', on: 'rollback', ms: 0 }] }],
      [{ name: 'eu-central-1', currency: 'EUR' }],
    ]);
    const { backend } = await backendFor(config);
    expect(await backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });

    const outcome = await backend.release({ version: '1.1.0', artifact: BROKEN_BUILD });
    expect(outcome.status).toBe('ROLLBACK_FAILED');
    expect(outcome.reason).toContain('us-east-1');
    expect(outcome.reason).not.toMatch(/rollback failed in [^;]*eu-central-1/);
    const region = outcome.regions.find((r) => r.region === 'us-east-1');
    expect(region?.phase).toBe('rollback-failed');
    const record = await backend.ledger.getRelease('shop', outcome.releaseId);
    expect(record?.status).toBe('ROLLBACK_FAILED');
    expect(await backend.ledger.getLock('shop')).toBeUndefined();
  });

  it('rolls back a region whose deploy fails outright, and the other regions of its wave', async () => {
    const config = await e2eConfig([
      [{ name: 'us-east-1', currency: 'USD' }],
      [
        { name: 'eu-west-1', currency: 'USD', faults: [{ kind: 'deploy-fail', on: 'deploy', version: '2.0.0' }] },
        { name: 'us-west-2', currency: 'USD' },
      ],
    ]);
    const { backend } = await backendFor(config);
    expect(await backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    const outcome = await backend.release({ version: '2.0.0', artifact: GOOD_BUILD });
    expect(outcome.status).toBe('ROLLED_BACK');
    expect(outcome.reason).toMatch(/eu-west-1: deployment failed/);
    expect(await where(backend, config)).toEqual({ 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0', 'us-west-2': '1.0.0' });
  });
});
