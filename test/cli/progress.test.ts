import { describe, expect, it } from 'vitest';
import { TerminalProgress } from '../../cli/progress.ts';
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
