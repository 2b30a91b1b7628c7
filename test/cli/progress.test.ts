import { describe, expect, it } from 'vitest';
import { colorEnabled, TerminalProgress } from '../../cli/progress.ts';
import { PlainProgress } from '../../cli/progress-plain.ts';
import { plainLine } from '../../core/event-line.ts';
import { REGION_LOOK } from '../../core/region-display.ts';
import type { Stamped } from '../../ports/events.ts';

const at = '2026-01-01T10:00:00.000Z';
const stamp = (e: object) => ({ service: 'shop', releaseId: 'shop-1', at, ...e }) as Stamped;
const regions = Array.from({ length: 12 }, (_, i) => `region-number-${i}`);
const events: Stamped[] = [
  stamp({
    kind: 'release-started',
    version: '1.0.0',
    waves: [
      { name: 'canary', regions: ['us-east-1'] },
      { name: 'all', regions },
    ],
  }),
  stamp({
    kind: 'region',
    wave: 1,
    region: 'region-number-3',
    state: 'failed',
    version: null,
    message: 'x'.repeat(300),
  }),
  stamp({ kind: 'gate', wave: 1, regions, evaluation: { kind: 'Failed', signals: ['y'.repeat(500)] } }),
  stamp({ kind: 'rollback-started', regions, reason: 'z'.repeat(400) }),
];

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping the ANSI colour codes we write.
const visible = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

describe('TerminalProgress', () => {
  it('never writes a line wider than the terminal, so redrawing in place stays correct', () => {
    let last = '';
    const progress = new TerminalProgress({ columns: 80, write: (t) => (last = t) });
    for (const e of events) progress.emit(e);
    const lines = visible(last).split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(79);
  });

  it('labels and colours each region as Slack does (core/region-display.ts)', () => {
    let last = '';
    const progress = new TerminalProgress({ columns: 200, write: (t) => (last = t) });
    progress.emit(events[0] as Stamped);
    progress.emit(events[1] as Stamped);
    progress.emit(stamp({ kind: 'region', wave: 0, region: 'us-east-1', state: 'deployed', version: '1.0.0' }));
    progress.emit(
      stamp({ kind: 'gate', wave: 0, regions: ['us-east-1'], evaluation: { kind: 'Inconclusive', signals: [] } }),
    );
    expect(last).toContain(`\x1b[${REGION_LOOK.failed.color}mregion-number-3 deploy FAILED\x1b[0m`);
    expect(last).toContain(`\x1b[${REGION_LOOK['no-data'].color}mus-east-1 no health data\x1b[0m`);
    progress.emit(stamp({ kind: 'region', wave: 0, region: 'us-east-1', state: 'rolled-back', version: '0.9.0' }));
    expect(visible(last)).toContain('us-east-1 rolled back to 0.9.0');
  });

  it('moves the cursor up over the previous drawing before redrawing', () => {
    const writes: string[] = [];
    const progress = new TerminalProgress({ columns: 80, write: (t) => writes.push(t) });
    progress.emit(events[0] as Stamped);
    progress.emit(events[1] as Stamped);
    const firstHeight = (writes[0] as string).split('\n').length - 1;
    expect(writes[1]?.startsWith(`\u001b[${firstHeight}A`)).toBe(true);
  });
});

describe('plainLine', () => {
  it('writes one plain line per event with its time and no colour', () => {
    for (const e of events) {
      const line = plainLine(e);
      expect(line.startsWith('10:00:00 ')).toBe(true);
      expect(line).not.toContain('\n');
      expect(line).not.toContain('\u001b[');
    }
  });
});

/** A three-wave release of five regions, as the local engine emits it; each event `s` seconds in. */
const t0 = Date.parse(at);
const ev = (s: number, e: object) => stamp({ ...e, at: new Date(t0 + s * 1000).toISOString() });
const started = ev(0, {
  kind: 'release-started',
  version: '2.0.0',
  waves: [
    { name: 'canary', regions: ['us-east-1'] },
    { name: 'eu', regions: ['eu-west-1', 'eu-central-1'] },
    { name: 'rest', regions: ['ap-south-1', 'us-west-2'] },
  ],
});
const canaryPassed = [
  started,
  ev(1, { kind: 'wave-started', wave: 0, name: 'canary', regions: ['us-east-1'] }),
  ev(2, { kind: 'region', wave: 0, region: 'us-east-1', state: 'deployed', version: '2.0.0' }),
  ev(3, { kind: 'gate', wave: 0, regions: ['us-east-1'], evaluation: { kind: 'Baking', remainingMs: 60_000 } }),
  ev(63, { kind: 'gate', wave: 0, regions: ['us-east-1'], evaluation: { kind: 'Passed' } }),
];

/** Feeds the events to a table and returns what it shows now, colour stripped, one string. */
function table(list: readonly Stamped[], options: { color?: boolean } = {}) {
  let last = '';
  const progress = new TerminalProgress({ columns: 200, write: (t) => (last = t) }, options);
  for (const e of list) progress.emit(e);
  return { progress, shown: () => visible(last), raw: () => last };
}

describe('TerminalProgress, the view of a release', () => {
  it('counts the bake down, between gate checks too', () => {
    const { progress, shown } = table(canaryPassed.slice(0, 4));
    expect(shown()).toMatch(/wave 1 canary +us-east-1 baking/);
    expect(shown()).toMatch(/wave 1 baking: 60s left/);
    progress.tick(t0 + 3_000 + 18_000);
    expect(shown()).toMatch(/42s left/);
  });

  it('keeps a region that passed as passed through later waves and holds', () => {
    const { shown } = table([
      ...canaryPassed,
      ev(64, { kind: 'wave-held', wave: 1, reasons: ['paused by ops@host: lunch'] }),
      ev(65, { kind: 'wave-held', wave: 1, reasons: ['paused by ops@host: lunch'] }),
    ]);
    expect(shown()).toContain('us-east-1 passed');
    expect(shown()).toMatch(/HELD before wave 2: paused by ops@host: lunch/);
    // One line for the hold, however often the hold is re-checked.
    expect(shown().match(/paused by ops@host/g)).toHaveLength(1);
    const later = table([
      ...canaryPassed,
      ev(70, { kind: 'wave-started', wave: 1, name: 'eu', regions: ['eu-west-1', 'eu-central-1'] }),
      ev(71, { kind: 'region', wave: 1, region: 'eu-west-1', state: 'deployed', version: '2.0.0' }),
      ev(71, { kind: 'region', wave: 1, region: 'eu-central-1', state: 'deployed', version: '2.0.0' }),
      ev(72, {
        kind: 'gate',
        wave: 1,
        regions: ['us-east-1', 'eu-west-1', 'eu-central-1'],
        evaluation: { kind: 'Baking', remainingMs: 30_000 },
      }),
    ]);
    expect(later.shown()).toContain('us-east-1 passed');
    expect(later.shown()).toContain('eu-west-1 baking');
    expect(later.shown()).not.toMatch(/HELD/);
  });

  it('says a skipped region is skipped, during the release and after it', () => {
    const list = [
      ...canaryPassed,
      ev(70, { kind: 'wave-started', wave: 1, name: 'eu', regions: ['eu-west-1'] }),
      ev(71, { kind: 'region', wave: 1, region: 'eu-west-1', state: 'deployed', version: '2.0.0' }),
    ];
    expect(table(list).shown()).toContain('eu-central-1 skipped');
    const finished = ev(200, {
      kind: 'release-finished',
      outcome: {
        releaseId: 'shop-1',
        service: 'shop',
        version: '2.0.0',
        status: 'SUCCEEDED',
        reason: 'every wave passed',
        regions: [
          { region: 'us-east-1', version: '2.0.0', phase: 'deployed' },
          { region: 'eu-west-1', version: '2.0.0', phase: 'deployed' },
          { region: 'eu-central-1', version: '1.0.0', phase: 'skipped' },
          { region: 'ap-south-1', version: '2.0.0', phase: 'deployed' },
          { region: 'us-west-2', version: '2.0.0', phase: 'deployed' },
        ],
      },
    });
    expect(table([...list, finished]).shown()).toContain('eu-central-1 skipped');
  });

  it('says the regions a ROLLED_BACK release never reached are not deployed', () => {
    const { shown } = table([
      ...canaryPassed.slice(0, 3),
      ev(10, {
        kind: 'gate',
        wave: 0,
        regions: ['us-east-1'],
        evaluation: { kind: 'Failed', signals: ['us-east-1: 500'] },
      }),
      ev(11, { kind: 'rollback-started', regions: ['us-east-1'], reason: 'gate failed' }),
      ev(12, { kind: 'region', wave: 0, region: 'us-east-1', state: 'rolled-back', version: '1.0.0' }),
      ev(13, {
        kind: 'release-finished',
        outcome: {
          releaseId: 'shop-1',
          service: 'shop',
          version: '2.0.0',
          status: 'ROLLED_BACK',
          reason: 'gate failed',
          regions: [
            { region: 'us-east-1', version: '1.0.0', phase: 'rolled-back' },
            { region: 'eu-west-1', version: '1.0.0', phase: 'pending' },
          ],
        },
      }),
    ]);
    expect(shown()).not.toMatch(/waiting/);
    for (const region of ['eu-west-1', 'eu-central-1', 'ap-south-1', 'us-west-2']) {
      expect(shown()).toContain(`${region} not deployed`);
    }
    expect(shown()).toContain('us-east-1 rolled back to 1.0.0');
  });

  it('prints the verdict of a promote that ends a bake, and shows the regions passed', () => {
    const promoted = ev(20, {
      kind: 'gate',
      wave: 0,
      regions: ['us-east-1'],
      evaluation: { kind: 'Baking', remainingMs: 43_000 },
      control: { kind: 'Promoted', actor: 'alice@host', reason: 'looks good' },
    });
    const { shown } = table([...canaryPassed.slice(0, 4), promoted]);
    expect(shown()).toMatch(/wave 1 gate: promoted by alice@host — looks good \(bake ended 43s early\)/);
    expect(shown()).toContain('us-east-1 passed');
    expect(shown()).not.toMatch(/left/);
    expect(plainLine(promoted)).toMatch(/wave 1 gate .*: promoted by alice@host — looks good \(bake ended 43s early\)/);
  });

  it('says once a wave that it has no new host, and why, in the table and the plain line', () => {
    const why = 'EC2/Server deployment groups get no new host on AWS';
    const baking = ev(20, {
      kind: 'gate',
      wave: 0,
      regions: ['us-east-1'],
      evaluation: { kind: 'Baking', remainingMs: 10_000 },
      noNewHost: why,
    });
    const passed = ev(21, {
      kind: 'gate',
      wave: 0,
      regions: ['us-east-1'],
      evaluation: { kind: 'Passed' },
      noNewHost: why,
    });
    const { shown } = table([...canaryPassed.slice(0, 4), baking, passed]);
    expect(shown().split(`wave 1 gate: no new host: ${why}`)).toHaveLength(2);
    expect(plainLine(baking)).toMatch(
      /wave 1 gate \(1 region, no new host: EC2\/Server deployment groups get no new host on AWS\): baking/,
    );
  });

  it('writes no colour when told not to', () => {
    const coloured = table(canaryPassed, { color: true }).raw();
    expect(coloured).toContain(`\x1b[${REGION_LOOK.passed.color}m`);
    const plain = table(canaryPassed, { color: false }).raw();
    expect(plain).toContain('us-east-1 passed');
    expect(plain).not.toContain('\x1b[3');
  });
});

describe('colorEnabled', () => {
  it('honours NO_COLOR and FORCE_COLOR, else colours a terminal only', () => {
    expect(colorEnabled({}, true)).toBe(true);
    expect(colorEnabled({}, false)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '' }, true)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '0' }, true)).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: 'false' }, true)).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '1', NO_COLOR: '1' }, true)).toBe(true);
  });
});

describe('PlainProgress', () => {
  it('prints a gate line when the verdict changes, plus a heartbeat, not one a second', () => {
    const out: string[] = [];
    const plain = new PlainProgress({ write: (t) => out.push(t) }, { heartbeatMs: 30_000 });
    plain.emit(started);
    const gateLines = () => out.filter((l) => / gate /.test(l));
    for (let s = 3; s <= 63; s++) {
      plain.emit(
        ev(s, {
          kind: 'gate',
          wave: 0,
          regions: ['us-east-1'],
          evaluation: { kind: 'Baking', remainingMs: (63 - s) * 1000 },
        }),
      );
    }
    // The first Baking line, then one every 30 s of the bake (at 33 s and 63 s).
    expect(gateLines()).toHaveLength(3);
    expect(gateLines()[1]).toMatch(/^10:00:33 wave 1 gate \(1 region\): baking, 30s left/);
    plain.emit(ev(64, { kind: 'gate', wave: 0, regions: ['us-east-1'], evaluation: { kind: 'Passed' } }));
    expect(gateLines()).toHaveLength(4);
    expect(gateLines()[3]).toMatch(/passed/);
    // Every other event is a line of its own.
    plain.emit(ev(65, { kind: 'wave-started', wave: 1, name: 'eu', regions: ['eu-west-1'] }));
    expect(out.at(-1)).toMatch(/wave 2 \(eu\)/);
    for (const line of out) expect(line.endsWith('\n')).toBe(true);
  });

  it('says a hold once until it changes, then again on the heartbeat', () => {
    const out: string[] = [];
    const plain = new PlainProgress({ write: (t) => out.push(t) }, { heartbeatMs: 30_000 });
    for (let s = 0; s < 20; s++) plain.emit(ev(s, { kind: 'wave-held', wave: 1, reasons: ['paused by a: b'] }));
    expect(out).toHaveLength(1);
    plain.emit(ev(21, { kind: 'wave-held', wave: 1, reasons: ['frozen by c: d'] }));
    expect(out).toHaveLength(2);
    plain.emit(ev(60, { kind: 'wave-held', wave: 1, reasons: ['frozen by c: d'] }));
    expect(out).toHaveLength(3);
  });
});
