import { describe, expect, it } from 'vitest';
import type { FlotillaConfig } from '../../core/config.ts';
import {
  isNewHostName,
  newHostName,
  newHostRegion,
  newHostStartFailure,
  newHostsDone,
  wantsNewHost,
} from '../../core/new-host.ts';
import { planRelease } from '../../core/plan.ts';
import { configWith } from '../helpers/fixtures.ts';

const plan = (config: FlotillaConfig, mode: 'release' | 'rollback' = 'release') =>
  planRelease({
    config,
    releaseId: 'r1',
    version: '2.0.0',
    artifact: '/b',
    regionStateMachineArn: 'arn',
    owner: 'test',
    ...(mode === 'rollback' ? { rollbackOf: 'r0' } : {}),
  });

const deployed = (...regions: string[]) => regions.map((region) => ({ region, outcome: 'deployed' as const }));

describe('wantsNewHost', () => {
  it.each([
    [{ bakeSeconds: 10 }, true],
    [{ bakeSeconds: 0 }, false],
    [{ bakeSeconds: 10, newHost: false }, false],
    [{ bakeSeconds: 0, newHost: true }, true],
  ])('%j → %s', (wave, expected) => {
    expect(wantsNewHost(wave)).toBe(expected);
  });

  it('is what the plan records for each wave', () => {
    const config = configWith([['us-east-1'], ['eu-west-1'], ['ap-1']]);
    config.waves[1] = { ...(config.waves[1] as FlotillaConfig['waves'][number]), newHost: false };
    config.waves[2] = { ...(config.waves[2] as FlotillaConfig['waves'][number]), bakeSeconds: 0 };
    expect(plan(config).waves.map((w) => w.newHost)).toEqual([true, false, false]);
  });
});

describe('newHostRegion', () => {
  const config = configWith([['us-east-1'], ['eu-west-1', 'eu-central-1']]);

  it("starts the wave's new host from its first region that deployed", () => {
    expect(newHostRegion(plan(config), 1, deployed('eu-central-1', 'eu-west-1'))?.region).toBe('eu-west-1');
    expect(newHostRegion(plan(config), 0, deployed('us-east-1'))?.region).toBe('us-east-1');
  });

  it('starts none when a region of the wave failed to deploy (the gate has failed already)', () => {
    expect(
      newHostRegion(plan(config), 1, [
        { region: 'eu-west-1', outcome: 'deployed' },
        { region: 'eu-central-1', outcome: 'failed' },
      ]),
    ).toBeNull();
  });

  it('starts none for a wave without the check, a rollback-only release, or no deployed region', () => {
    const off = configWith([['us-east-1']]);
    off.waves[0] = { ...(off.waves[0] as FlotillaConfig['waves'][number]), newHost: false };
    expect(newHostRegion(plan(off), 0, deployed('us-east-1'))).toBeNull();
    expect(newHostRegion(plan(config, 'rollback'), 0, deployed('us-east-1'))).toBeNull();
    expect(newHostRegion(plan(config), 1, [])).toBeNull();
    expect(newHostRegion(plan(config), 5, deployed('us-east-1'))).toBeNull();
  });
});

describe('naming and failure', () => {
  it('names the new host after its region, distinct from any region name', () => {
    expect(newHostName('eu-west-1')).toBe('new host (eu-west-1)');
    expect(isNewHostName(newHostName('eu-west-1'))).toBe(true);
    expect(isNewHostName('eu-west-1')).toBe(false);
  });

  it('counts a new host that did not start as a failed deploy named after it', () => {
    expect(newHostStartFailure('eu-west-1', 'exited with code 1')).toEqual({
      region: 'new host (eu-west-1)',
      message: 'a fresh start of the new build failed: exited with code 1',
    });
  });

  it.each([
    ['continue', false],
    ['hold', false],
    ['next-wave', true],
    ['rollback', true],
  ] as const)('a %s decision ends the new hosts: %s', (decision, done) => {
    expect(newHostsDone(decision)).toBe(done);
  });
});
