import { describe, expect, it } from 'vitest';
import { controlState, type Intent } from '../../core/control.ts';
import { type EntryContext, entryDecision, healthAtEntry } from '../../core/entry.ts';
import { emptyCounts } from '../../core/gate.ts';
import type { SampleCounts } from '../../core/types.ts';
import { gate, intentOf } from '../helpers/fixtures.ts';

const counts = (ok: number, errors: number, missing = 0): SampleCounts => ({ ok, errors, missing });

const intent = intentOf;

function ctx(over: {
  wave?: number;
  intents?: Intent[];
  frozen?: boolean;
  closed?: boolean;
  approval?: boolean;
  promotionsUsed?: number;
}): EntryContext {
  const intents = over.intents ?? [];
  return {
    wave: over.wave ?? 1,
    control: controlState(intents, { promotions: over.promotionsUsed ?? 0 }),
    intents,
    frozen: over.frozen ? intent('freeze') : null,
    approvalNeeded: over.approval ?? false,
    closed: over.closed
      ? [{ region: 'eu-west-1', window: 'Mon-Fri 09:00-16:00 Europe/Dublin', opensInSeconds: 600 }]
      : [],
    recheckSeconds: 3600,
  };
}

describe('entryDecision', () => {
  const cases: { name: string; input: Parameters<typeof ctx>[0]; want: string; reasons?: string[] }[] = [
    { name: 'goes when nothing holds it', input: {}, want: 'Go' },
    {
      name: 'abort wins over everything',
      input: { intents: [intent('pause'), intent('abort')], frozen: true },
      want: 'Abort',
    },
    { name: 'a pause holds', input: { intents: [intent('pause')] }, want: 'Hold', reasons: ['paused'] },
    { name: 'resume after pause goes', input: { intents: [intent('pause'), intent('resume')] }, want: 'Go' },
    { name: 'a freeze holds', input: { frozen: true }, want: 'Hold', reasons: ['frozen'] },
    { name: 'a closed window holds', input: { closed: true }, want: 'Hold', reasons: ['window'] },
    {
      name: 'a force for this wave passes a freeze',
      input: { frozen: true, intents: [intent('force', { wave: 1 })] },
      want: 'Go',
    },
    {
      name: 'a force given for an earlier wave does not pass this one',
      input: { wave: 2, frozen: true, intents: [intent('force', { wave: 1 })] },
      want: 'Hold',
      reasons: ['frozen'],
    },
    {
      name: 'a force with no wave (banked, as before) passes nothing',
      input: { frozen: true, intents: [intent('force')] },
      want: 'Hold',
      reasons: ['frozen'],
    },
    {
      name: 'a force does not pass a pause',
      input: { frozen: true, intents: [intent('pause'), intent('force', { wave: 1 })] },
      want: 'Hold',
      reasons: ['paused'],
    },
    { name: 'an approval waits for a promote', input: { approval: true }, want: 'Hold', reasons: ['approval'] },
    { name: 'a promote approves', input: { approval: true, intents: [intent('promote')] }, want: 'Go' },
    {
      name: 'a promote already used does not approve again',
      input: { approval: true, intents: [intent('promote')], promotionsUsed: 1 },
      want: 'Hold',
      reasons: ['approval'],
    },
    {
      name: 'every reason is listed at once',
      input: { frozen: true, closed: true, approval: true, intents: [intent('pause')] },
      want: 'Hold',
      reasons: ['paused', 'frozen', 'window', 'approval'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const decision = entryDecision(ctx(c.input));
      expect(decision.kind).toBe(c.want);
      if (decision.kind === 'Hold') expect(decision.reasons.map((r) => r.kind)).toEqual(c.reasons);
    });
  }
  it('says who paused and who froze, and holds only until the window opens', () => {
    const decision = entryDecision(ctx({ intents: [intent('pause', { actor: 'ana@x' })], frozen: true, closed: true }));
    expect(decision).toMatchObject({ kind: 'Hold', holdSeconds: 600, approvalOnly: false });
    if (decision.kind !== 'Hold') return;
    expect(decision.reasons[0]).toMatchObject({ kind: 'paused', actor: 'ana@x' });
    expect(decision.reasons[0]?.text).toContain('ana@x');
    expect(decision.reasons[1]?.text).toContain('ops@test');
  });
  it('marks a hold that only waits for approval, and uses the force it passes', () => {
    expect(entryDecision(ctx({ approval: true }))).toMatchObject({ approvalOnly: true });
    expect(entryDecision(ctx({ approval: true, intents: [intent('pause')] }))).toMatchObject({ approvalOnly: false });
    expect(entryDecision(ctx({ closed: true, intents: [intent('force', { wave: 1 })] }))).toEqual({
      kind: 'Go',
      usesPromotion: false,
      usesForce: true,
    });
    expect(entryDecision(ctx({ intents: [intent('force', { wave: 1 })] }))).toMatchObject({ usesForce: false });
  });
});

describe('healthAtEntry', () => {
  const g = gate({ maxErrorRate: 0.1 });
  it('blocks a wave whose region is already unhealthy on its current version', () => {
    const entry = healthAtEntry([{ region: 'eu-west-1', currentVersion: '1.0.0', counts: counts(1, 4) }], g);
    expect(entry.kind).toBe('Blocked');
    expect(entry.kind === 'Blocked' && entry.signals[0]).toContain('eu-west-1');
  });
  it('blocks when a region that runs a version gives no health data', () => {
    expect(healthAtEntry([{ region: 'a', currentVersion: '1.0.0', counts: counts(0, 0, 5) }], g).kind).toBe('Blocked');
  });
  it('lets a region with nothing deployed yet through', () => {
    expect(healthAtEntry([{ region: 'a', currentVersion: null, counts: emptyCounts() }], g).kind).toBe('Clear');
  });
  it('lets healthy regions through, and names only the unhealthy ones', () => {
    expect(healthAtEntry([{ region: 'a', currentVersion: '1', counts: counts(5, 0) }], g).kind).toBe('Clear');
    const mixed = healthAtEntry(
      [
        { region: 'a', currentVersion: '1', counts: counts(5, 0) },
        { region: 'b', currentVersion: '1', counts: counts(0, 5) },
      ],
      g,
    );
    expect(mixed.kind === 'Blocked' && mixed.signals).toEqual([expect.stringContaining('b was already unhealthy')]);
  });
});

describe('entryDecision for an emergency release', () => {
  const emergency = (over: Parameters<typeof ctx>[0]): EntryContext => ({
    ...ctx({ wave: 0, ...over }),
    emergency: { requester: 'ann' },
  });
  const approve = (actor: string) => intent('approve', { actor });

  it('holds before its first wave until a second, distinct person approves', () => {
    expect(entryDecision(emergency({}))).toMatchObject({ kind: 'Hold', reasons: [{ kind: 'approval', actor: 'ann' }] });
    expect(entryDecision(emergency({ intents: [approve('ann')] })).kind).toBe('Hold');
    expect(entryDecision(emergency({ intents: [approve('ann'), approve('bob')] }))).toEqual({
      kind: 'Go',
      usesPromotion: false,
      usesForce: false,
    });
  });

  it('passes a freeze and a closed window only with both approvals', () => {
    const held = entryDecision(emergency({ frozen: true, closed: true }));
    expect(held.kind === 'Hold' && held.reasons.map((r) => r.kind)).toEqual(['frozen', 'window', 'approval']);
    expect(entryDecision(emergency({ frozen: true, closed: true, intents: [approve('bob')] })).kind).toBe('Go');
    // An ordinary release is held by the same freeze whoever approves.
    expect(entryDecision(ctx({ frozen: true, intents: [approve('bob')] })).kind).toBe('Hold');
  });

  it('still stops for a pause and for an abort', () => {
    expect(entryDecision(emergency({ intents: [approve('bob'), intent('pause')] })).kind).toBe('Hold');
    expect(entryDecision(emergency({ intents: [approve('bob'), intent('abort')] })).kind).toBe('Abort');
  });
});
