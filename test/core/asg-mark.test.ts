import { describe, expect, it } from 'vitest';
import { asgNewHost } from '../../core/asg-instance.ts';
import {
  type AsgMark,
  adoptedMark,
  beforeOfMark,
  type Ec2InstanceView,
  type LeftoverFacts,
  leftovers,
  MARK_PREFIX,
  markKey,
  markValue,
  parseMarks,
  stopPlan,
  toNameInMark,
} from '../../core/asg-mark.ts';

const AT = Date.parse('2026-12-01T10:00:00.400Z');
const mark = (over: Partial<AsgMark> = {}): AsgMark => {
  const { releaseId = 'shop-1', region = 'eu-west' } = over;
  return { key: markKey(releaseId, region), releaseId, region, wave: 0, desiredBefore: 2, at: AT, ...over };
};
const old = (id: string): Ec2InstanceView => ({ instanceId: id, launchedAt: AT - 86_400_000, tags: {} });
const launched = (id: string, afterMs: number, tags: Record<string, string> = {}): Ec2InstanceView => ({
  instanceId: id,
  launchedAt: AT - (AT % 1000) + afterMs,
  tags,
});
const inService = (...ids: string[]) => ids.map((instanceId) => ({ instanceId, lifecycleState: 'InService' }));

describe('the launch mark', () => {
  it('round-trips through a group tag, key and value within Auto Scaling’s limits', () => {
    const releaseId = 'x'.repeat(80);
    const m = { releaseId, wave: 12, desiredBefore: 9999, at: AT, instanceId: 'i-0123456789abcdef0' };
    const key = markKey(releaseId, 'a-very-long-region-name-indeed-longer-than-fits');
    expect(key.length).toBeLessThanOrEqual(128);
    expect(key.startsWith(`${MARK_PREFIX}${releaseId}:#`)).toBe(true);
    expect(markKey(releaseId, 'a-very-long-region-name-indeed-longer-than-fits')).toBe(key);
    expect(markKey(releaseId, 'another-very-long-region-name-longer-than-fits')).not.toBe(key);
    expect(markKey('shop-1', 'eu-west')).toBe('flotilla:new-host:shop-1:eu-west');
    const value = markValue(m);
    expect(value.length).toBeLessThanOrEqual(256);
    expect(parseMarks([{ key, value }])).toEqual([{ key, ...m }]);
    expect(parseMarks([{ key, value: markValue({ ...m, instanceId: undefined }) }])).toEqual([
      { key, releaseId, wave: 12, desiredBefore: 9999, at: AT },
    ]);
    // Not marks: other tags, and a tag under the prefix that does not read as one.
    expect(
      parseMarks([
        { key: 'team', value: 'shop' },
        { key: `${MARK_PREFIX}x`, value: 'shop-1 zero' },
      ]),
    ).toEqual([]);
  });

  it('is adopted by a launch of the same release and region while younger than the readiness timeout', () => {
    const marks = [mark(), mark({ region: 'us-east' })];
    const at = { releaseId: 'shop-1', region: 'eu-west', now: AT + 30_000, maxAgeMs: 60_000 };
    expect(adoptedMark(marks, at)).toEqual(marks[0]);
    expect(adoptedMark(marks, { ...at, region: 'ap-south' })).toBeUndefined();
    expect(adoptedMark(marks, { ...at, releaseId: 'shop-2' })).toBeUndefined();
    expect(adoptedMark(marks, { ...at, now: AT + 60_000 })).toBeUndefined();
  });

  it('gives an adopted launch the instances of before: all but the one it names, else all launched before it', () => {
    const ids = ['i-old1', 'i-old2', 'i-new'];
    expect(beforeOfMark(mark({ instanceId: 'i-new' }), ids, [])).toEqual(['i-old1', 'i-old2']);
    // Launched in the mark's second (EC2 has whole seconds) counts as since.
    const ec2 = [old('i-old1'), old('i-old2'), launched('i-new', 0)];
    expect(beforeOfMark(mark(), ids, ec2)).toEqual(['i-old1', 'i-old2']);
    expect(beforeOfMark(mark(), ids, [old('i-old1'), old('i-old2'), launched('i-new', -1000)])).toEqual(ids);
  });
});

describe('leftovers', () => {
  const facts = (over: Partial<LeftoverFacts> = {}): LeftoverFacts => ({
    releaseId: 'shop-1',
    marks: [mark()],
    desired: 3,
    min: 1,
    inGroup: inService('i-old1', 'i-old2', 'i-new'),
    ec2: [old('i-old1'), old('i-old2'), launched('i-new', 5_000)],
    ...over,
  });

  it('finds a launch no round saw by its mark: the first instance launched since, terminated, the mark deleted', () => {
    expect(leftovers(facts())).toEqual({
      terminate: [{ instanceId: 'i-new', region: 'eu-west' }],
      givenBack: [],
      deleteMarks: [mark().key],
    });
  });

  it('gives back the capacity of a marked launch that launched nothing yet, once per mark and never below its capacity of before or MinSize', () => {
    const none = facts({ inGroup: inService('i-old1', 'i-old2'), ec2: [old('i-old1'), old('i-old2')] });
    expect(leftovers(none)).toEqual({ terminate: [], desiredTo: 2, givenBack: ['eu-west'], deleteMarks: [mark().key] });
    expect(leftovers({ ...none, desired: 2 })).toEqual({ terminate: [], givenBack: [], deleteMarks: [mark().key] });
    expect(leftovers({ ...none, min: 3 })).toEqual({ terminate: [], givenBack: [], deleteMarks: [mark().key] });
    const two = [mark(), mark({ region: 'us-east', at: AT + 1 })];
    expect(leftovers({ ...none, marks: two, desired: 4 })).toEqual({
      terminate: [],
      desiredTo: 2,
      givenBack: ['eu-west', 'us-east'],
      deleteMarks: two.map((m) => m.key),
    });
  });

  it('takes the instance the mark names or the one tagged as its region’s new host, never one another release or mark claims', () => {
    const ec2 = [
      old('i-old1'),
      launched('i-theirs', 1_000, { 'flotilla:release': 'shop-0', 'flotilla:new-host': 'eu-west' }),
      launched('i-marked', 2_000),
      launched('i-policy', 3_000),
    ];
    const inGroup = inService('i-old1', 'i-theirs', 'i-marked', 'i-policy');
    const others = mark({ releaseId: 'shop-0', instanceId: 'i-marked' });
    // Not i-theirs (shop-0's tag), not i-marked (shop-0's mark names it): i-policy.
    expect(leftovers(facts({ marks: [mark(), others], inGroup, ec2 })).terminate).toEqual([
      { instanceId: 'i-policy', region: 'eu-west' },
    ]);
    // The mark names i-marked: that one, and only it.
    expect(leftovers(facts({ marks: [mark({ instanceId: 'i-marked' })], inGroup, ec2 })).terminate).toEqual([
      { instanceId: 'i-marked', region: 'eu-west' },
    ]);
    // Tagged as the release's new host of eu-west (the mark not updated): that one, not another.
    const tagged = [
      ...ec2,
      launched('i-mine', 4_000, { 'flotilla:release': 'shop-1', 'flotilla:new-host': 'eu-west' }),
    ];
    expect(leftovers(facts({ inGroup: inService('i-old1', 'i-policy', 'i-mine'), ec2: tagged }))).toEqual({
      terminate: [{ instanceId: 'i-mine', region: 'eu-west' }],
      givenBack: [],
      deleteMarks: [mark().key],
    });
  });

  it('leaves an instance on its way out or gone from the group, and lowers nothing for a launch whose instance it found', () => {
    const gone = facts({ marks: [mark({ instanceId: 'i-gone' })] });
    expect(leftovers(gone)).toEqual({ terminate: [], givenBack: [], deleteMarks: [mark().key] });
    const leaving = facts({
      inGroup: [...inService('i-old1', 'i-old2'), { instanceId: 'i-new', lifecycleState: 'Terminating' }],
    });
    expect(leftovers(leaving)).toEqual({ terminate: [], givenBack: [], deleteMarks: [mark().key] });
  });

  it('sweeps the instances tagged with the release (any release without one), and only the release’s marks', () => {
    const ec2 = [
      old('i-old1'),
      launched('i-a', 1_000, { 'flotilla:release': 'shop-1', 'flotilla:new-host': 'eu-west' }),
      launched('i-b', 1_000, { 'flotilla:release': 'shop-0', 'flotilla:new-host': 'us-east' }),
    ];
    const marks = [mark({ instanceId: 'i-a' }), mark({ releaseId: 'shop-0', region: 'us-east' })];
    const base = facts({ marks, ec2, inGroup: inService('i-old1', 'i-a', 'i-b') });
    expect(leftovers(base)).toEqual({
      terminate: [{ instanceId: 'i-a', region: 'eu-west' }],
      givenBack: [],
      deleteMarks: [mark().key],
    });
    const { releaseId: _, ...any } = base;
    expect(leftovers(any)).toEqual({
      terminate: [
        { instanceId: 'i-a', region: 'eu-west' },
        { instanceId: 'i-b', region: 'us-east' },
      ],
      givenBack: [],
      deleteMarks: [marks[0]?.key, marks[1]?.key],
    });
  });
});

describe('stopPlan', () => {
  const group = { desired: 3, min: 1, desiredBefore: 2 };
  const before = ['i-old1', 'i-old2'];
  const seen = (inGroup: { instanceId: string; lifecycleState: string }[], tagged?: string) =>
    asgNewHost({ inGroup, before, ...(tagged ? { tagged: { instanceId: tagged } } : {}) });

  it('names an instance found by difference in the mark before terminating it, then deletes the mark', () => {
    const s = seen(inService('i-old1', 'i-old2', 'i-new'));
    expect(stopPlan({ ...group, seen: s, mark: mark() })).toEqual({
      nameInMark: 'i-new',
      terminate: 'i-new',
      deleteMark: mark().key,
    });
    expect(stopPlan({ ...group, seen: s, mark: mark({ instanceId: 'i-new' }) })).toEqual({
      terminate: 'i-new',
      deleteMark: mark().key,
    });
    // A handle of before marks existed: no mark, as before.
    expect(stopPlan({ ...group, seen: s })).toEqual({ terminate: 'i-new' });
  });

  it('lowers the capacity of a launch with no instance yet while still raised, and leaves one already leaving or gone', () => {
    const none = seen(inService('i-old1', 'i-old2'));
    expect(stopPlan({ ...group, seen: none, mark: mark() })).toEqual({ desiredTo: 2, deleteMark: mark().key });
    expect(stopPlan({ ...group, desired: 2, seen: none, mark: mark() })).toEqual({ deleteMark: mark().key });
    const leaving = seen([...inService('i-old1', 'i-old2'), { instanceId: 'i-new', lifecycleState: 'Terminating' }]);
    expect(stopPlan({ ...group, seen: leaving, mark: mark() })).toEqual({ deleteMark: mark().key });
    expect(stopPlan({ ...group, seen: seen(inService('i-old1', 'i-old2'), 'i-new'), mark: mark() })).toEqual({
      deleteMark: mark().key,
    });
  });

  it('has a probe round name the new instance in the mark once, when there is a mark', () => {
    const s = seen(inService('i-old1', 'i-old2', 'i-new'));
    expect(toNameInMark(s, mark())).toBe('i-new');
    expect(toNameInMark(s, mark({ instanceId: 'i-new' }))).toBeUndefined();
    expect(toNameInMark(s, undefined)).toBeUndefined();
    expect(toNameInMark(seen(inService('i-old1', 'i-old2')), mark())).toBeUndefined();
  });
});
