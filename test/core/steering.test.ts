/**
 * The rules of every steering verb, as a table per verb: the release's state × the verb → accepted
 * or refused, with the refusal's kind. Pure: no ledger, no clock.
 */
import { describe, expect, it } from 'vitest';
import type { Intent } from '../../core/control.ts';
import type { ReleaseHold, ReleaseRecord, ReleaseStatus } from '../../core/model.ts';
import { checkVerb, type VerbVerdict } from '../../core/steering.ts';
import type { Verb } from '../../core/verbs.ts';
import { intentOf, recordWith } from '../helpers/fixtures.ts';

const intent = intentOf;

const hold = (wave: number, ...kinds: ReleaseHold['reasons'][number]['kind'][]): ReleaseHold => ({
  wave,
  since: '2026-01-01T00:00:00.000Z',
  reasons: kinds.map((kind) => ({ kind, text: `${kind} text` })),
});

function release(status: ReleaseStatus, over: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return {
    ...recordWith([
      { region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' },
      { region: 'eu-west-1', wave: 1, phase: 'pending', before: '1.0.0' },
      { region: 'ap-south-1', wave: 1, phase: 'skipped', before: '1.0.0' },
    ]),
    status,
    ...over,
  };
}

const sos = { actor: 'ann', reason: 'checkout is down', review: true as const };

interface Row {
  state: string;
  release?: ReleaseRecord;
  intents?: Intent[];
  service?: Intent[];
  region?: string;
  /** Who asks (approve). */
  actor?: string;
  want: 'Accept' | 'NoChange' | 'NotApplicable' | 'NotFound' | 'InvalidInput';
}

const kindOf = (v: VerbVerdict) => (v.kind === 'Accept' ? 'Accept' : v.refusal);

const table: Record<Verb, Row[]> = {
  pause: [
    { state: 'running', release: release('RUNNING'), want: 'Accept' },
    { state: 'queued', release: release('QUEUED'), want: 'Accept' },
    { state: 'already paused', release: release('RUNNING'), intents: [intent('pause')], want: 'NoChange' },
    {
      state: 'paused then resumed',
      release: release('RUNNING'),
      intents: [intent('pause'), intent('resume')],
      want: 'Accept',
    },
    { state: 'finished', release: release('SUCCEEDED'), want: 'NotApplicable' },
    { state: 'no such release', want: 'NotFound' },
  ],
  resume: [
    { state: 'not paused', release: release('RUNNING'), want: 'NoChange' },
    { state: 'paused', release: release('RUNNING'), intents: [intent('pause')], want: 'Accept' },
    { state: 'finished', release: release('ROLLED_BACK'), want: 'NotApplicable' },
  ],
  promote: [
    { state: 'baking', release: release('RUNNING'), want: 'Accept' },
    { state: 'waiting for approval', release: release('RUNNING', { hold: hold(1, 'approval') }), want: 'Accept' },
    { state: 'held inconclusive', release: release('RUNNING', { hold: hold(0, 'inconclusive') }), want: 'Accept' },
    { state: 'held by a pause', release: release('RUNNING', { hold: hold(1, 'paused') }), want: 'NotApplicable' },
    { state: 'held by a freeze', release: release('RUNNING', { hold: hold(1, 'frozen') }), want: 'NotApplicable' },
    { state: 'a promote still unused', release: release('RUNNING'), intents: [intent('promote')], want: 'NoChange' },
    {
      state: 'the last promote used',
      release: release('RUNNING', { used: { promotions: 1, forces: 0 } }),
      intents: [intent('promote')],
      want: 'Accept',
    },
    { state: 'queued', release: release('QUEUED'), want: 'NotApplicable' },
  ],
  abort: [
    { state: 'running', release: release('RUNNING'), want: 'Accept' },
    { state: 'queued', release: release('QUEUED'), want: 'Accept' },
    { state: 'already aborting', release: release('RUNNING'), intents: [intent('abort')], want: 'NoChange' },
    { state: 'interrupted', release: release('FAILED'), want: 'NotApplicable' },
  ],
  // Its rules are planRollbackOf's (test/core/rollback-decision.test.ts): as an intent it is refused.
  rollback: [
    { state: 'running', release: release('RUNNING'), want: 'InvalidInput' },
    { state: 'succeeded', release: release('SUCCEEDED'), want: 'InvalidInput' },
  ],
  'skip-region': [
    { state: 'a pending region', release: release('RUNNING'), region: 'eu-west-1', want: 'Accept' },
    { state: 'a deployed region', release: release('RUNNING'), region: 'us-east-1', want: 'NotApplicable' },
    { state: 'a skipped region', release: release('RUNNING'), region: 'ap-south-1', want: 'NoChange' },
    { state: 'an unknown region', release: release('RUNNING'), region: 'mars-1', want: 'NotFound' },
    { state: 'finished', release: release('SUCCEEDED'), region: 'eu-west-1', want: 'NotApplicable' },
  ],
  force: [
    { state: 'nothing held', release: release('RUNNING'), want: 'NoChange' },
    { state: 'held by a freeze', release: release('RUNNING', { hold: hold(1, 'frozen') }), want: 'Accept' },
    { state: 'held by a window', release: release('RUNNING', { hold: hold(1, 'window') }), want: 'Accept' },
    { state: 'held by a pause only', release: release('RUNNING', { hold: hold(1, 'paused') }), want: 'NoChange' },
    {
      state: 'this hold already forced',
      release: release('RUNNING', { hold: hold(1, 'frozen') }),
      intents: [intent('force', { wave: 1 })],
      want: 'NoChange',
    },
    {
      state: 'an earlier hold forced',
      release: release('RUNNING', { hold: hold(2, 'frozen') }),
      intents: [intent('force', { wave: 1 })],
      want: 'Accept',
    },
    { state: 'finished', release: release('ABORTED'), want: 'NotApplicable' },
  ],
  freeze: [
    { state: 'not frozen', want: 'Accept' },
    { state: 'frozen', service: [intent('freeze')], want: 'NoChange' },
    { state: 'frozen then unfrozen', service: [intent('freeze'), intent('unfreeze')], want: 'Accept' },
  ],
  approve: [
    {
      state: 'a second person, emergency held',
      release: release('RUNNING', { emergency: sos }),
      actor: 'bob',
      want: 'Accept',
    },
    { state: 'a second person, queued', release: release('QUEUED', { emergency: sos }), actor: 'bob', want: 'Accept' },
    {
      state: 'the one who asked',
      release: release('RUNNING', { emergency: sos }),
      actor: 'ann',
      want: 'NotApplicable',
    },
    {
      state: 'the one who asked, again',
      release: release('RUNNING', { emergency: sos }),
      intents: [intent('approve', { actor: 'bob' })],
      actor: 'ann',
      want: 'NotApplicable',
    },
    {
      state: 'already approved by another',
      release: release('RUNNING', { emergency: sos }),
      intents: [intent('approve', { actor: 'bob' })],
      actor: 'cat',
      want: 'NoChange',
    },
    { state: 'not an emergency release', release: release('RUNNING'), actor: 'bob', want: 'NotApplicable' },
    { state: 'finished', release: release('SUCCEEDED', { emergency: sos }), actor: 'bob', want: 'NotApplicable' },
  ],
  unfreeze: [
    { state: 'not frozen', want: 'NoChange' },
    { state: 'frozen', service: [intent('freeze')], want: 'Accept' },
  ],
};

describe('checkVerb', () => {
  for (const [verb, rows] of Object.entries(table) as [Verb, Row[]][]) {
    describe(verb, () => {
      for (const row of rows) {
        it(`${row.state} → ${row.want}`, () => {
          const verdict = checkVerb(
            { verb, ...(row.region ? { region: row.region } : {}), ...(row.actor ? { actor: row.actor } : {}) },
            {
              ...(row.release ? { release: row.release } : {}),
              intents: row.intents ?? [],
              serviceIntents: row.service ?? [],
            },
          );
          expect(kindOf(verdict)).toBe(row.want);
          if (verdict.kind === 'Refuse') expect(verdict.message.length).toBeGreaterThan(10);
        });
      }
    });
  }

  it('gives a force the wave of the hold it passes', () => {
    const verdict = checkVerb(
      { verb: 'force' },
      { release: release('RUNNING', { hold: hold(2, 'window') }), intents: [], serviceIntents: [] },
    );
    expect(verdict).toEqual({ kind: 'Accept', wave: 2 });
  });

  it('says who did what in a refusal, and what to do instead', () => {
    const paused = checkVerb(
      { verb: 'pause' },
      {
        release: release('RUNNING'),
        intents: [intent('pause', { actor: 'ann@x', reason: 'graphs' })],
        serviceIntents: [],
      },
    );
    expect(paused).toMatchObject({ message: 'shop-2.0.0 is already paused by ann@x: graphs' });
    const late = checkVerb({ verb: 'abort' }, { release: release('FAILED'), intents: [], serviceIntents: [] });
    expect(late).toMatchObject({ message: expect.stringContaining('flotilla rollback shop-2.0.0') });
    const promote = checkVerb(
      { verb: 'promote' },
      { release: release('RUNNING', { hold: hold(1, 'paused') }), intents: [], serviceIntents: [] },
    );
    expect(promote).toMatchObject({ message: expect.stringMatching(/use resume$/) });
  });
});
