import { describe, expect, it } from 'vitest';
import { initialRecord, planRelease } from '../../core/plan.ts';
import { mustStage, regionsToStage, regionsToUnstage, stagingAtEntry } from '../../core/staging.ts';
import { configWith } from '../helpers/fixtures.ts';

const plan = (waves: string[][], mode: 'release' | 'rollback' = 'release') =>
  planRelease({
    config: configWith(waves),
    releaseId: 'r1',
    version: '2.0.0',
    artifact: '/b',
    regionStateMachineArn: 'arn',
    owner: 'test',
    ...(mode === 'rollback' ? { rollbackOf: 'r0' } : {}),
  });

describe('regionsToStage', () => {
  it('stages in every region of every wave after the first, never the canary', () => {
    const p = plan([['us-east-1'], ['eu-west-1', 'eu-central-1'], ['ap-1']]);
    expect(regionsToStage(p).map((t) => t.region)).toEqual(['eu-west-1', 'eu-central-1', 'ap-1']);
  });

  it('stages a first-wave region too when its bundle must be copied into its own bucket first', () => {
    const p = plan([['us-east-1', 'us-west-2'], ['eu-west-1']]);
    const first = p.waves[0]?.regions[1];
    if (first?.revision) first.revision = { ...first.revision, copyFrom: 's3://ci/shop.zip' };
    expect(regionsToStage(p).map((t) => t.region)).toEqual(['us-west-2', 'eu-west-1']);
  });

  it('stages a first-wave region too when only staging can make what it deploys (a task definition, a Lambda version)', () => {
    const p = plan([['us-east-1', 'us-west-2'], ['eu-west-1']]);
    const first = p.waves[0]?.regions[0];
    if (first) {
      first.target = {
        kind: 'codedeploy',
        awsRegion: 'us-east-1',
        application: 'shop',
        deploymentGroup: 'shop',
        platform: 'ECS',
        alarms: { names: [] },
      };
      first.revision = {
        version: '2.0.0',
        artifact: 'appspec:Resources: [{ s: { Properties: { TaskDefinition: s3://b/td.json } } }]',
      };
    }
    expect(regionsToStage(p).map((t) => t.region)).toEqual(['us-east-1', 'eu-west-1']);
    expect(p.waves[0]?.regions.map(mustStage)).toEqual([true, false]);
  });

  it('stages nothing for a single wave or for a rollback-only release', () => {
    expect(regionsToStage(plan([['us-east-1']]))).toEqual([]);
    expect(regionsToStage(plan([['us-east-1'], ['eu-west-1']], 'rollback'))).toEqual([]);
  });
});

describe('stagingAtEntry', () => {
  it('blocks the wave naming every region whose staging failed', () => {
    expect(
      stagingAtEntry(
        [
          { region: 'eu-west-1', status: 'Failed', message: 'disk full' },
          { region: 'eu-central-1', status: 'Staged' },
          { region: 'ap-1', status: 'Failed' },
        ],
        '2.0.0',
      ),
    ).toEqual({
      kind: 'Blocked',
      signals: [
        'eu-west-1: 2.0.0 could not be staged before its wave (disk full)',
        'ap-1: 2.0.0 could not be staged before its wave',
      ],
    });
  });

  it('blocks a region whose deploy needs what only staging makes, unless its staging finished', () => {
    expect(
      stagingAtEntry(
        [
          { region: 'eu-west-1', status: 'NotStaged', required: true },
          { region: 'eu-central-1', status: 'InProgress', required: true },
          { region: 'ap-1', status: 'Staged', required: true },
          { region: 'us-1', status: 'NotStaged' },
        ],
        '2.0.0',
      ),
    ).toEqual({
      kind: 'Blocked',
      signals: [
        'eu-west-1: 2.0.0 is not staged before its wave (it was never staged; only staging makes what it deploys)',
        'eu-central-1: 2.0.0 is not staged before its wave (its staging had not finished; only staging makes what it deploys)',
      ],
    });
  });

  it('lets a staging still running, or none, go on: the deploy stages or waits', () => {
    expect(
      stagingAtEntry(
        [
          { region: 'eu-west-1', status: 'InProgress' },
          { region: 'ap-1', status: 'NotStaged' },
          { region: 'eu-central-1', status: 'Staged' },
        ],
        '2.0.0',
      ),
    ).toEqual({ kind: 'Clear' });
  });
});

describe('regionsToUnstage', () => {
  it('removes the build wherever the region does not run it at the end, and keeps it where it runs', () => {
    const p = plan([['us-east-1'], ['eu-west-1', 'eu-central-1'], ['ap-1']]);
    const record = initialRecord(p, [], '2026-12-01T00:00:00.000Z');
    const versions = { 'us-east-1': '2.0.0', 'eu-west-1': '1.0.0', 'eu-central-1': null, 'ap-1': '1.0.0' };
    expect(regionsToUnstage(p, record, versions).map((t) => t.region)).toEqual(['eu-west-1', 'eu-central-1', 'ap-1']);
  });
});
