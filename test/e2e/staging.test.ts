/**
 * Staging ahead on the real ASL, the local engine and real processes: the build lands in every
 * later wave's region before that wave, a staging failure stops the release before the wave that
 * needs it (naming the region), and what a release staged is removed where it does not run.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalBackend, openLocalBackend } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import type { Stamped } from '../../ports/events.ts';
import { BROKEN_BUILD, e2eConfig, GOOD_BUILD, tempDir } from '../helpers/local.ts';

const open: LocalBackend[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function backendFor(config: FlotillaConfig, onEvent: (e: Stamped) => void = () => {}) {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const events: Stamped[] = [];
  const backend = await openLocalBackend({
    stateDir: dir,
    config,
    events: {
      emit: (e) => {
        events.push(e);
        onEvent(e);
      },
    },
  });
  open.push(backend);
  return { backend, events, stateDir: dir };
}

const REGIONS = ['us-east-1', 'eu-central-1', 'us-west-2', 'ap-southeast-2'];
const threeWaves = () =>
  e2eConfig([
    [{ name: 'us-east-1', currency: 'USD' }],
    [
      { name: 'eu-central-1', currency: 'EUR' },
      { name: 'us-west-2', currency: 'USD' },
    ],
    [{ name: 'ap-southeast-2', currency: 'AUD' }],
  ]);

describe('staging ahead', () => {
  it('stages the build in every later region before its wave, and removes it from every region after a rollback', async () => {
    const config = await threeWaves();
    let stateDir = '';
    const staged = (region: string, version: string) =>
      existsSync(join(stateDir, 'regions', region, 'releases', version, 'server.js'));
    // What was on disk in wave 2's regions when their deploys started.
    const atWave2Deploy = new Map<string, boolean>();
    const opened = await backendFor(config, (e) => {
      if (e.kind === 'region' && e.wave === 1 && e.state === 'deploying' && e.version === '1.1.0')
        atWave2Deploy.set(e.region, staged(e.region, '1.1.0'));
    });
    stateDir = opened.stateDir;
    const { backend } = opened;
    expect(await backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });

    // The broken build fails wave 2's gate in eu-central-1 (EUR): waves 1 and 2 roll back, wave 3 never deploys.
    const bad = await backend.release({ version: '1.1.0', artifact: BROKEN_BUILD });
    expect(bad.status).toBe('ROLLED_BACK');
    expect(atWave2Deploy).toEqual(
      new Map([
        ['eu-central-1', true],
        ['us-west-2', true],
      ]),
    );
    const record = await backend.ledger.getRelease('shop', bad.releaseId);
    expect(record?.regions['ap-southeast-2']?.phase).toBe('pending');
    expect(record?.regions['ap-southeast-2']?.staging?.id).toBeTruthy();
    for (const region of REGIONS) {
      expect(staged(region, '1.1.0'), region).toBe(false);
      // What each region runs is left alone.
      expect(staged(region, '1.0.0'), region).toBe(true);
    }
  });

  it('keeps the build where it runs after a release succeeds', async () => {
    const config = await threeWaves();
    const { backend, stateDir } = await backendFor(config);
    expect(await backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });
    for (const region of REGIONS) {
      expect(existsSync(join(stateDir, 'regions', region, 'releases', '1.0.0', 'server.js')), region).toBe(true);
    }
  });

  it('fails the release before the wave whose region could not be staged, naming it, and never deploys that wave', async () => {
    const config = await threeWaves();
    const last = config.regions.find((r) => r.name === 'ap-southeast-2');
    if (last?.target.kind !== 'local-process') throw new Error('fixture');
    last.target.faults = [{ kind: 'stage-fail', on: 'deploy', version: '1.1.0', ms: 0 }];
    const { backend, events, stateDir } = await backendFor(config);
    expect(await backend.release({ version: '1.0.0', artifact: GOOD_BUILD })).toMatchObject({ status: 'SUCCEEDED' });

    const outcome = await backend.release({ version: '1.1.0', artifact: GOOD_BUILD });

    expect(outcome.status).toBe('ROLLED_BACK');
    expect(outcome.reason).toMatch(/wave 3 blocked/);
    expect(outcome.reason).toContain('ap-southeast-2: 1.1.0 could not be staged before its wave');
    const ofBad = events.filter((e) => e.releaseId === outcome.releaseId);
    // Waves 1 and 2 deployed and went back; wave 3 never started a deploy.
    expect(
      ofBad
        .filter((e) => e.kind === 'region' && e.state === 'rolled-back')
        .map((e) => e.kind === 'region' && e.region)
        .sort(),
    ).toEqual(['eu-central-1', 'us-east-1', 'us-west-2']);
    expect(ofBad.some((e) => e.kind === 'region' && e.region === 'ap-southeast-2')).toBe(false);
    for (const region of REGIONS) {
      expect(existsSync(join(stateDir, 'regions', region, 'releases', '1.1.0')), region).toBe(false);
    }
  });
});
