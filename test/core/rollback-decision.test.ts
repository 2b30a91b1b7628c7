/**
 * The rollback decision, whole: whether (afterCheck, rollbackCause) and, for the rollback verb,
 * which regions go back to what (planRollbackOf). Table tests over plain data.
 */
import { describe, expect, it } from 'vitest';
import { controlState } from '../../core/control.ts';
import type { ReleaseRecord, Revision } from '../../core/model.ts';
import { afterCheck, planRollbackOf, rollbackCause } from '../../core/rollback.ts';
import type { GateEvaluation } from '../../core/types.ts';
import type { Verb } from '../../core/verbs.ts';
import { intentOf, recordWith } from '../helpers/fixtures.ts';

const intent = intentOf;
const NOW = Date.parse('2026-12-01T12:00:00.000Z');

describe('afterCheck', () => {
  const baking: GateEvaluation = { kind: 'Baking', remainingMs: 1000 };
  const failed: GateEvaluation = { kind: 'Failed', signals: ['a: 5/5 failed'] };
  const inconclusive: GateEvaluation = { kind: 'Inconclusive', signals: ['a: no data'] };
  const rows: {
    name: string;
    evaluation: GateEvaluation;
    on?: 'rollback' | 'pause';
    verbs?: Verb[];
    want: string;
    by?: string;
  }[] = [
    { name: 'baking goes on', evaluation: baking, want: 'continue' },
    { name: 'passed moves on', evaluation: { kind: 'Passed' }, want: 'next-wave' },
    { name: 'failed rolls back', evaluation: failed, want: 'rollback' },
    { name: 'inconclusive rolls back by default', evaluation: inconclusive, want: 'rollback' },
    { name: 'inconclusive holds when the config says pause', evaluation: inconclusive, on: 'pause', want: 'hold' },
    {
      name: 'an abort rolls back a healthy bake',
      evaluation: baking,
      verbs: ['abort'],
      want: 'rollback',
      by: 'Aborted',
    },
    {
      name: 'an abort rolls back a passed gate',
      evaluation: { kind: 'Passed' },
      verbs: ['abort'],
      want: 'rollback',
      by: 'Aborted',
    },
    { name: 'a promote ends a bake', evaluation: baking, verbs: ['promote'], want: 'next-wave', by: 'Promoted' },
    {
      name: 'a promote passes an inconclusive hold',
      evaluation: inconclusive,
      on: 'pause',
      verbs: ['promote'],
      want: 'next-wave',
      by: 'Promoted',
    },
    { name: 'a promote never passes a failed gate', evaluation: failed, verbs: ['promote'], want: 'rollback' },
    {
      name: 'a promote does not pass an inconclusive gate set to roll back',
      evaluation: inconclusive,
      verbs: ['promote'],
      want: 'rollback',
    },
    {
      name: 'abort wins over promote',
      evaluation: baking,
      verbs: ['promote', 'abort'],
      want: 'rollback',
      by: 'Aborted',
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const intents = (row.verbs ?? []).map((verb) => intent(verb));
      const next = afterCheck({
        evaluation: row.evaluation,
        onInconclusive: row.on ?? 'rollback',
        control: controlState(intents, { promotions: 0 }),
        intents,
      });
      expect(next.decision).toBe(row.want);
      expect(next.control?.kind).toBe(row.by);
      expect(next.usesPromotion).toBe(row.by === 'Promoted');
    });
  }
  it('a promote already used ends no other bake', () => {
    const intents = [intent('promote')];
    const next = afterCheck({
      evaluation: { kind: 'Baking', remainingMs: 1 },
      onInconclusive: 'rollback',
      control: controlState(intents, { promotions: 1 }),
      intents,
    });
    expect(next).toEqual({ decision: 'continue', usesPromotion: false });
  });
});

describe('rollbackCause', () => {
  const plan = { mode: 'release' as const };
  it('says why, the latest thing first: an error, then a block, an abort, the gate', () => {
    expect(rollbackCause({ plan, waveIndex: 1, error: { Error: 'States.Timeout', Cause: 'slow' } })).toEqual({
      kind: 'Error',
      wave: 1,
      error: 'States.Timeout',
      cause: 'slow',
    });
    expect(rollbackCause({ plan, waveIndex: 2, entry: { kind: 'Blocked', signals: ['x'] } })).toMatchObject({
      kind: 'WaveBlocked',
      wave: 2,
    });
    const control = { kind: 'Aborted' as const, actor: 'a', reason: 'r' };
    expect(rollbackCause({ plan, entry: { kind: 'Abort', control } })).toMatchObject({ kind: 'Aborted', actor: 'a' });
    expect(rollbackCause({ plan, gate: { evaluation: { kind: 'Failed', signals: ['s'] }, control } })).toMatchObject({
      kind: 'Aborted',
    });
    expect(rollbackCause({ plan, gate: { evaluation: { kind: 'Failed', signals: ['s'] } } })).toMatchObject({
      kind: 'GateFailed',
      signals: ['s'],
    });
    expect(rollbackCause({ plan: { mode: 'rollback', rollbackOf: 'shop-1' } })).toMatchObject({
      kind: 'Requested',
      of: 'shop-1',
    });
  });
});

describe('planRollbackOf', () => {
  const rev = (version: string): Revision => ({ version, artifact: `/builds/${version}` });
  function target(status: ReleaseRecord['status'] = 'SUCCEEDED'): ReleaseRecord {
    return {
      ...recordWith([
        { region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' },
        { region: 'eu-west-1', wave: 1, phase: 'deployed', before: '1.0.0' },
        { region: 'ap-south-1', wave: 2, phase: 'pending', before: '1.0.0' },
      ]),
      status,
    };
  }
  const current = (entries: Record<string, string | null>) =>
    new Map(Object.entries(entries).map(([r, v]) => [r, v === null ? null : rev(v)]));

  it('puts back every region that still runs the release, each to what it ran before; untouched ones stay', () => {
    const decision = planRollbackOf({
      target: target(),
      releases: [],
      current: current({ 'us-east-1': '2.0.0', 'eu-west-1': '2.0.0', 'ap-south-1': '1.0.0' }),
      lock: undefined,
      now: NOW,
    });
    expect(decision).toEqual({
      kind: 'Plan',
      regions: [
        { region: 'us-east-1', wave: 0, to: rev('1.0.0') },
        { region: 'eu-west-1', wave: 1, to: rev('1.0.0') },
      ],
      audit: { at: '2026-12-01T12:00:00.000Z', regions: ['us-east-1', 'eu-west-1'] },
    });
  });
  it('leaves out a touched region that never changed (its deploy failed), and rolls back a FAILED release', () => {
    const decision = planRollbackOf({
      target: target('FAILED'),
      releases: [],
      current: current({ 'us-east-1': '2.0.0', 'eu-west-1': '1.0.0' }),
      lock: undefined,
      now: NOW,
    });
    expect(decision).toMatchObject({ kind: 'Plan', regions: [{ region: 'us-east-1', wave: 0, to: rev('1.0.0') }] });
  });
  const refusals: {
    name: string;
    t?: ReleaseRecord;
    releases?: ReleaseRecord[];
    now: Record<string, string | null>;
    want: string;
    match: RegExp;
  }[] = [
    {
      name: 'a region moved on',
      now: { 'us-east-1': '2.0.0', 'eu-west-1': '3.0.0' },
      want: 'NotApplicable',
      match: /eu-west-1 \(now 3\.0\.0\) moved on/,
    },
    {
      name: 'a region went to nothing',
      now: { 'us-east-1': '2.0.0', 'eu-west-1': null },
      want: 'NotApplicable',
      match: /eu-west-1 \(now nothing\)/,
    },
    {
      name: 'everything already back',
      now: { 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0' },
      want: 'NoChange',
      match: /nothing to roll back/,
    },
    { name: 'still running', t: target('RUNNING'), now: {}, want: 'NotApplicable', match: /abort it instead/ },
    {
      name: 'already rolled back',
      releases: [{ ...target('ROLLED_BACK'), releaseId: 'shop-2.0.0-rollback', rollbackOf: 'shop-2.0.0' }],
      now: { 'us-east-1': '2.0.0', 'eu-west-1': '2.0.0' },
      want: 'NoChange',
      match: /already rolled back by shop-2\.0\.0-rollback/,
    },
    {
      name: 'a failed earlier rollback does not count',
      releases: [{ ...target('ROLLBACK_FAILED'), releaseId: 'shop-2.0.0-rollback', rollbackOf: 'shop-2.0.0' }],
      now: { 'us-east-1': '2.0.0', 'eu-west-1': '3.0.0' },
      want: 'NotApplicable',
      match: /moved on/,
    },
  ];
  for (const row of refusals) {
    it(`refuses when ${row.name}`, () => {
      const decision = planRollbackOf({
        target: row.t ?? target(),
        releases: row.releases ?? [],
        current: current(row.now),
        lock: undefined,
        now: NOW,
      });
      expect(decision).toMatchObject({ kind: 'Refused', refusal: row.want, message: expect.stringMatching(row.match) });
    });
  }
  it('never leaves a region with nothing: a first release is refused', () => {
    const first: ReleaseRecord = {
      ...recordWith([{ region: 'us-east-1', wave: 0, phase: 'deployed', before: null }]),
      status: 'SUCCEEDED',
    };
    const decision = planRollbackOf({
      target: first,
      releases: [],
      current: current({ 'us-east-1': '2.0.0' }),
      lock: undefined,
      now: NOW,
    });
    expect(decision).toMatchObject({
      kind: 'Refused',
      message: expect.stringMatching(/us-east-1 ran nothing before it/),
    });
  });
});

describe('planRollbackOf, the way back after ROLLBACK_FAILED', () => {
  const rev = (version: string): Revision => ({ version, artifact: `/builds/${version}` });
  const current = (entries: Record<string, string | null>) =>
    new Map(Object.entries(entries).map(([r, v]) => [r, v === null ? null : rev(v)]));
  /** shop-2.0.0 failed its gate in wave 2; us-east-1 went back, eu-west-1's redeploy of 1.0.0 failed. */
  function rollbackFailed(before: { 'eu-west-1': string | null } = { 'eu-west-1': '1.0.0' }): ReleaseRecord {
    return {
      ...recordWith([
        { region: 'us-east-1', wave: 0, phase: 'rolled-back', before: '1.0.0' },
        { region: 'eu-west-1', wave: 1, phase: 'rollback-failed', before: before['eu-west-1'] },
        { region: 'ap-south-1', wave: 2, phase: 'pending', before: '1.0.0' },
      ]),
      status: 'ROLLBACK_FAILED',
    };
  }
  const decide = (over: Partial<Parameters<typeof planRollbackOf>[0]>) =>
    planRollbackOf({
      target: rollbackFailed(),
      releases: [],
      current: current({ 'us-east-1': '1.0.0', 'eu-west-1': '2.0.0', 'ap-south-1': '1.0.0' }),
      lock: undefined,
      now: NOW,
      ...over,
    });

  it('puts back only the region still on the bad build; the ones already back are left alone', () => {
    expect(decide({})).toEqual({
      kind: 'Plan',
      regions: [{ region: 'eu-west-1', wave: 1, to: rev('1.0.0') }],
      audit: { at: '2026-12-01T12:00:00.000Z', regions: ['eu-west-1'] },
    });
  });
  it('retries again after an earlier retry that also ended ROLLBACK_FAILED', () => {
    const earlier: ReleaseRecord = {
      ...rollbackFailed(),
      releaseId: 'shop-2.0.0-rollback',
      rollbackOf: 'shop-2.0.0',
      status: 'ROLLBACK_FAILED',
    };
    expect(decide({ releases: [earlier] })).toMatchObject({ kind: 'Plan', audit: { regions: ['eu-west-1'] } });
  });
  it('finishes taking out a region that ran nothing before, as the release’s own rollback set out to', () => {
    const decision = decide({ target: rollbackFailed({ 'eu-west-1': null }) });
    expect(decision).toMatchObject({ kind: 'Plan', regions: [{ region: 'eu-west-1', wave: 1, to: null }] });
  });
  it('still never takes out a region that ran nothing before a release that SUCCEEDED or FAILED', () => {
    for (const status of ['SUCCEEDED', 'FAILED'] as const) {
      const decision = decide({ target: { ...rollbackFailed({ 'eu-west-1': null }), status } });
      expect(decision).toMatchObject({
        kind: 'Refused',
        refusal: 'NotApplicable',
        message: expect.stringMatching(/eu-west-1 ran nothing before it/),
      });
    }
  });
  it('goes by what the regions run: a region the ledger thought back but that runs the build goes back', () => {
    // (a FAILED release whose execution died after switching a region: the caller reads the region)
    const failed: ReleaseRecord = { ...rollbackFailed(), status: 'FAILED' };
    const decision = decide({
      target: failed,
      current: current({ 'us-east-1': '2.0.0', 'eu-west-1': '2.0.0' }),
    });
    expect(decision).toMatchObject({ kind: 'Plan', audit: { regions: ['us-east-1', 'eu-west-1'] } });
  });

  const refusals: { name: string; over: Partial<Parameters<typeof planRollbackOf>[0]>; want: string; match: RegExp }[] =
    [
      {
        name: 'every region is back already',
        over: { current: current({ 'us-east-1': '1.0.0', 'eu-west-1': '1.0.0' }) },
        want: 'NoChange',
        match: /^nothing to roll back: every region shop-2\.0\.0 touched already runs what it ran before$/,
      },
      {
        name: 'another release holds the lock',
        over: {
          lock: { releaseId: 'shop-2.1.0', owner: 'local:box:42', acquiredAt: '2026-12-01T11:59:00.000Z' },
        },
        want: 'Busy',
        match:
          /^shop-2\.1\.0 holds shop's lock \(local:box:42, since 2026-12-01T11:59:00\.000Z\): roll back once it has ended, or abort it$/,
      },
      {
        name: 'the release itself still holds the lock (its process is gone)',
        over: {
          lock: { releaseId: 'shop-2.0.0', owner: 'local:box:42', acquiredAt: '2026-12-01T11:00:00.000Z' },
        },
        want: 'Busy',
        match: /still holds shop's lock .*flotilla unlock/,
      },
      {
        name: 'the release is still running',
        over: { target: { ...rollbackFailed(), status: 'RUNNING' } },
        want: 'NotApplicable',
        match: /shop-2\.0\.0 is RUNNING: abort it instead/,
      },
      {
        name: 'a retry is running',
        over: {
          releases: [
            { ...rollbackFailed(), releaseId: 'shop-2.0.0-rollback-2', rollbackOf: 'shop-2.0.0', status: 'RUNNING' },
          ],
          lock: { releaseId: 'shop-2.0.0-rollback-2', owner: 'local:box:42', acquiredAt: '2026-12-01T11:59:00.000Z' },
        },
        want: 'NoChange',
        match: /being rolled back by shop-2\.0\.0-rollback-2/,
      },
      {
        name: 'a region moved on since',
        over: { current: current({ 'us-east-1': '1.0.0', 'eu-west-1': '3.0.0' }) },
        want: 'NotApplicable',
        match: /eu-west-1 \(now 3\.0\.0\) moved on since/,
      },
    ];
  for (const row of refusals) {
    it(`refuses, in one line, when ${row.name}`, () => {
      const decision = decide(row.over);
      expect(decision).toMatchObject({ kind: 'Refused', refusal: row.want, message: expect.stringMatching(row.match) });
      expect(decision.kind === 'Refused' && decision.message.includes('\n')).toBe(false);
    });
  }
  it('points a failed retry’s own id back at the release it rolls back', () => {
    const retry: ReleaseRecord = {
      ...rollbackFailed(),
      releaseId: 'shop-2.0.0-rollback',
      rollbackOf: 'shop-2.0.0',
    };
    expect(decide({ target: retry })).toMatchObject({
      kind: 'Refused',
      refusal: 'NotApplicable',
      message: expect.stringMatching(/roll back shop-2\.0\.0 again \(flotilla rollback shop-2\.0\.0\)/),
    });
  });
});
