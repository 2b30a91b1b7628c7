/** The one version rule (core/version.ts): what passes, what is refused, and how. */
import { describe, expect, it } from 'vitest';
import { checkVersion, VERSION_RULE, versionProblem } from '../../core/version.ts';
import { createPlanRelease } from '../../functions/plan-release.ts';
import { configWith } from '../helpers/fixtures.ts';

describe('checkVersion', () => {
  it.each(['1.0.0', '1.2.0-rc.1+build.5', '0a1b2c3d4e5f', 'v2', 'A_b', 'x'.repeat(64)])('passes %j', (v) => {
    expect(versionProblem(v)).toBeUndefined();
    expect(checkVersion(v)).toBe(v);
  });

  it.each([
    ['', /must not be empty/],
    ['../x', /is not a version/],
    ['..', /is not a version/],
    ['a/b', /is not a version/],
    ['a b', /is not a version/],
    ['$(touch x)', /is not a version/],
    ['a\nb', /"a\\nb" is not a version/],
    ['a\u001b[31m', /is not a version/],
    ['-rc', /is not a version/],
    ['.hidden', /is not a version/],
    ['x'.repeat(65), /65 characters long; at most 64/],
    ['x'.repeat(300), /300 characters long/],
    [1, /must be a string/],
    [null, /must be a string/],
  ])('refuses %j', (v, why) => {
    expect(versionProblem(v)).toMatch(why);
    expect(() => checkVersion(v, '--version')).toThrow(
      expect.objectContaining({ name: 'InvalidInput', message: expect.stringContaining(VERSION_RULE) }),
    );
  });

  it('names the rule as people read it', () => {
    expect(VERSION_RULE).toBe('1-64 characters of [A-Za-z0-9][A-Za-z0-9._+-]*');
  });
});

describe('PlanRelease', () => {
  it('refuses a bad version before it touches the ledger (no lock, no record)', async () => {
    const touched: string[] = [];
    const ledger = new Proxy(
      {},
      {
        get: (_t, name) => () => {
          touched.push(String(name));
          throw new Error('the ledger was used');
        },
      },
    );
    const plan = createPlanRelease({
      ledger: ledger as never,
      events: { emit: () => {} },
      now: () => 0,
      regionStateMachineArn: 'arn:region',
    });
    await expect(
      plan({
        releaseId: 'shop-x',
        version: '../x',
        artifact: '/b',
        config: configWith([['us-east-1']]),
        owner: 'me',
      } as never),
    ).rejects.toMatchObject({ name: 'InvalidInput' });
    expect(touched).toEqual([]);
  });
});
