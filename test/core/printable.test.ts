/** Control characters and terminal escapes from outside are shown escaped, never sent raw (core/printable.ts). */
import { describe, expect, it } from 'vitest';
import { TerminalProgress } from '../../cli/progress.ts';
import { plainLine } from '../../core/event-line.ts';
import { printable, printableJson, printableLine } from '../../core/printable.ts';
import type { Stamped } from '../../ports/events.ts';

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for what must not be there.
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('printable', () => {
  it.each([
    ['clear screen', '\u001b[2Jhi', '\\x1b[2Jhi'],
    ['window title (OSC, BEL)', '\u001b]0;pwned\u0007', '\\x1b]0;pwned\\x07'],
    ['8-bit CSI', 'a\u009b31mb', 'a\\x9b31mb'],
    ['carriage return hiding a line', 'ok\rFAILED', 'ok\\rFAILED'],
    ['backspace and DEL', 'a\bb\u007f', 'a\\x08b\\x7f'],
    ['NUL', 'a\u0000b', 'a\\x00b'],
    ['bidi override', 'abc\u202edcba', 'abc\\u202edcba'],
    ['line separator', 'a\u2028b', 'a\\u2028b'],
    ['plain text', 'wave 2 (eu) — ünïcødé ok', 'wave 2 (eu) — ünïcødé ok'],
  ])('%s', (_name, raw, shown) => {
    expect(printable(raw)).toBe(shown);
    expect(printableLine(raw)).toBe(shown);
  });

  it('keeps line feeds and tabs in text, escapes them in a one-line field', () => {
    expect(printable('a\n\tb')).toBe('a\n\tb');
    expect(printableLine('a\n\tb')).toBe('a\\n\\tb');
  });

  it('keeps JSON the same value', () => {
    const value = { reason: 'a\u009b\u202e\u2028\u001b b' };
    const json = printableJson(JSON.stringify(value));
    expect(json).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(json)).toEqual(value);
  });
});

describe('what the CLI shows of names and reasons from outside', () => {
  const at = '2026-01-01T10:00:00.000Z';
  const stamp = (e: object) => ({ service: 'shop', releaseId: 'shop-1', at, ...e }) as Stamped;
  const events: Stamped[] = [
    stamp({
      kind: 'release-started',
      version: '1.0.0',
      waves: [{ name: 'canary\u001b[2J', regions: ['us-east-1'] }],
    }),
    stamp({ kind: 'wave-held', wave: 0, reasons: ['paused by eve: \u001b]0;pwned\u0007\nsecond line'] }),
    stamp({ kind: 'region', wave: 0, region: 'us-east-1', state: 'failed', version: null, message: 'bad\r\u001b[1A' }),
  ];

  it('plain event lines escape them and stay one line each', () => {
    for (const e of events) {
      const line = plainLine(e);
      expect(line).not.toMatch(RAW_CONTROL);
      expect(line).not.toContain('\n');
    }
    expect(plainLine(events[0] as Stamped)).toContain('canary\\x1b[2J');
  });

  it('the live table writes only its own colour and cursor sequences', () => {
    let last = '';
    const progress = new TerminalProgress({ columns: 120, write: (t) => (last = t) });
    for (const e of events) progress.emit(e);
    // Ours are ESC [ <digits;> m|A|J; anything else raw came from outside.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing the sequences the table itself writes.
    const withoutOurs = last.replace(/\u001b\[[0-9;]*[mAJ]/g, '');
    expect(withoutOurs.replace(/\n/g, '')).not.toMatch(RAW_CONTROL);
    expect(last).toContain('canary\\x1b[2J');
    expect(last).toContain('\\x1b]0;pwned\\x07\\nsecond line');
  });
});
