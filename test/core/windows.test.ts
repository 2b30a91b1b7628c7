import { describe, expect, it } from 'vitest';
import type { DeployWindow } from '../../core/config.ts';
import { describeWindow, localTime, secondsUntilOpen, windowOpen } from '../../core/windows.ts';

const at = (iso: string) => Date.parse(iso);
const HOUR = 3600;
const ALL: DeployWindow['days'] = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const win = (timeZone: string, start: string, end: string, days = ALL): DeployWindow => ({
  days,
  start,
  end,
  timeZone,
});

// 2026 transitions (UTC instants):
//   Europe/Dublin      spring 29 Mar 01:00 (01:00 GMT → 02:00 IST)   fall 25 Oct 01:00 (02:00 IST → 01:00 GMT)
//   America/New_York   spring  8 Mar 07:00 (02:00 EST → 03:00 EDT)   fall  1 Nov 06:00 (02:00 EDT → 01:00 EST)
//   Australia/Sydney   spring  3 Oct 16:00 (02:00 AEST → 03:00 AEDT) fall  4 Apr 16:00 (03:00 AEDT → 02:00 AEST)

describe('localTime across daylight-saving changes', () => {
  it.each([
    ['Europe/Dublin', '2026-03-29T00:59:00Z', 'Sun', '00:59'],
    ['Europe/Dublin', '2026-03-29T01:00:00Z', 'Sun', '02:00'],
    ['Europe/Dublin', '2026-10-25T00:30:00Z', 'Sun', '01:30'],
    ['Europe/Dublin', '2026-10-25T01:30:00Z', 'Sun', '01:30'],
    ['America/New_York', '2026-03-08T06:59:00Z', 'Sun', '01:59'],
    ['America/New_York', '2026-03-08T07:00:00Z', 'Sun', '03:00'],
    ['America/New_York', '2026-11-01T05:30:00Z', 'Sun', '01:30'],
    ['America/New_York', '2026-11-01T06:30:00Z', 'Sun', '01:30'],
    ['Australia/Sydney', '2026-10-03T15:59:00Z', 'Sun', '01:59'],
    ['Australia/Sydney', '2026-10-03T16:00:00Z', 'Sun', '03:00'],
    ['Australia/Sydney', '2026-04-04T15:30:00Z', 'Sun', '02:30'],
    ['Australia/Sydney', '2026-04-04T16:30:00Z', 'Sun', '02:30'],
    // Midnight is 00:00, never 24:00.
    ['America/New_York', '2026-03-09T04:00:00Z', 'Mon', '00:00'],
  ])('%s at %s is %s %s', (zone, iso, day, hhmm) => {
    const { day: d, minutes } = localTime(at(iso), zone);
    expect([
      d,
      `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`,
    ]).toEqual([day, hhmm]);
  });
});

describe('windowOpen across daylight-saving changes', () => {
  it.each<[string, DeployWindow, string, boolean]>([
    // Spring forward: the local hour 01:00–02:00 (Dublin) / 02:00–03:00 (NY, Sydney) never happens.
    [
      'Dublin 09–17, spring day, 08:00 UTC = 09:00 IST',
      win('Europe/Dublin', '09:00', '17:00'),
      '2026-03-29T08:00:00Z',
      true,
    ],
    [
      'Dublin 09–17, spring day, 07:59 UTC = 08:59 IST',
      win('Europe/Dublin', '09:00', '17:00'),
      '2026-03-29T07:59:00Z',
      false,
    ],
    [
      'Dublin 09–17, spring day, 16:00 UTC = 17:00 IST',
      win('Europe/Dublin', '09:00', '17:00'),
      '2026-03-29T16:00:00Z',
      false,
    ],
    [
      'Dublin 09–17, fall day, 09:00 UTC = 09:00 GMT',
      win('Europe/Dublin', '09:00', '17:00'),
      '2026-10-25T09:00:00Z',
      true,
    ],
    [
      'Dublin 09–17, fall day, 08:30 UTC = 08:30 GMT',
      win('Europe/Dublin', '09:00', '17:00'),
      '2026-10-25T08:30:00Z',
      false,
    ],
    [
      'NY 09–17, spring day, 13:00 UTC = 09:00 EDT',
      win('America/New_York', '09:00', '17:00'),
      '2026-03-08T13:00:00Z',
      true,
    ],
    [
      'NY 09–17, spring day, 13:00 UTC the day before = 08:00 EST',
      win('America/New_York', '09:00', '17:00'),
      '2026-03-07T13:00:00Z',
      false,
    ],
    [
      'NY 09–17, fall day, 14:00 UTC = 09:00 EST',
      win('America/New_York', '09:00', '17:00'),
      '2026-11-01T14:00:00Z',
      true,
    ],
    [
      'NY 09–17, fall day, 13:30 UTC = 08:30 EST',
      win('America/New_York', '09:00', '17:00'),
      '2026-11-01T13:30:00Z',
      false,
    ],
    [
      'Sydney 09–17, spring day, 22:00 UTC = 09:00 AEDT',
      win('Australia/Sydney', '09:00', '17:00'),
      '2026-10-03T22:00:00Z',
      true,
    ],
    [
      'Sydney 09–17, spring day, 21:30 UTC = 08:30 AEDT',
      win('Australia/Sydney', '09:00', '17:00'),
      '2026-10-03T21:30:00Z',
      false,
    ],
    [
      'Sydney 09–17, fall day, 23:00 UTC = 09:00 AEST',
      win('Australia/Sydney', '09:00', '17:00'),
      '2026-04-04T23:00:00Z',
      true,
    ],
    [
      'Sydney 09–17, fall day, 22:30 UTC = 08:30 AEST',
      win('Australia/Sydney', '09:00', '17:00'),
      '2026-04-04T22:30:00Z',
      false,
    ],
    // Fall back: the repeated hour is inside the window both times round.
    ['NY 01:00–02:00, first 01:30 (EDT)', win('America/New_York', '01:00', '02:00'), '2026-11-01T05:30:00Z', true],
    ['NY 01:00–02:00, second 01:30 (EST)', win('America/New_York', '01:00', '02:00'), '2026-11-01T06:30:00Z', true],
    ['NY 01:00–02:00, 02:00 EST', win('America/New_York', '01:00', '02:00'), '2026-11-01T07:00:00Z', false],
    // A window starting in the skipped hour opens when the clocks jump past its start.
    [
      'NY 02:30–05:00, spring day, 06:59 UTC = 01:59 EST',
      win('America/New_York', '02:30', '05:00'),
      '2026-03-08T06:59:00Z',
      false,
    ],
    [
      'NY 02:30–05:00, spring day, 07:00 UTC = 03:00 EDT',
      win('America/New_York', '02:30', '05:00'),
      '2026-03-08T07:00:00Z',
      true,
    ],
    [
      'Dublin 01:30–03:00, spring day, 01:00 UTC = 02:00 IST',
      win('Europe/Dublin', '01:30', '03:00'),
      '2026-03-29T01:00:00Z',
      true,
    ],
    [
      'Sydney 02:30–03:30, spring day, 16:00 UTC = 03:00 AEDT',
      win('Australia/Sydney', '02:30', '03:30'),
      '2026-10-03T16:00:00Z',
      true,
    ],
    [
      'Sydney 02:30–03:30, spring day, 16:30 UTC = 03:30 AEDT',
      win('Australia/Sydney', '02:30', '03:30'),
      '2026-10-03T16:30:00Z',
      false,
    ],
    // The weekday is the region's, not UTC's.
    [
      'Sydney Sun only, Sat 16:00 UTC = Sun 03:00 AEDT',
      win('Australia/Sydney', '00:00', '23:59', ['Sun']),
      '2026-10-03T16:00:00Z',
      true,
    ],
    [
      'Sydney Sat only, Sat 16:00 UTC = Sun 03:00 AEDT',
      win('Australia/Sydney', '00:00', '23:59', ['Sat']),
      '2026-10-03T16:00:00Z',
      false,
    ],
  ])('%s', (_name, window, iso, open) => {
    expect(windowOpen(window, at(iso))).toBe(open);
  });
});

describe('secondsUntilOpen across daylight-saving changes', () => {
  const weekdays: DeployWindow['days'] = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'];
  it.each<[string, DeployWindow, string, number | null]>([
    // Sat 12:00 EST → Mon 09:00 EDT: 45 wall-clock hours, 44 real ones.
    [
      'NY weekdays 09–17, over the spring weekend',
      win('America/New_York', '09:00', '17:00', weekdays),
      '2026-03-07T17:00:00Z',
      44 * HOUR,
    ],
    // Sat 12:00 EDT → Mon 09:00 EST: 45 wall-clock hours, 46 real ones.
    [
      'NY weekdays 09–17, over the fall weekend',
      win('America/New_York', '09:00', '17:00', weekdays),
      '2026-10-31T16:00:00Z',
      46 * HOUR,
    ],
    [
      'Dublin weekdays 09–17, over the spring weekend',
      win('Europe/Dublin', '09:00', '17:00', weekdays),
      '2026-03-28T12:00:00Z',
      44 * HOUR,
    ],
    [
      'Dublin weekdays 09–17, over the fall weekend',
      win('Europe/Dublin', '09:00', '17:00', weekdays),
      '2026-10-24T11:00:00Z',
      46 * HOUR,
    ],
    // Sydney Sat 12:00 AEST → Mon 09:00 AEDT (3 Oct 02:00 UTC → 4 Oct 22:00 UTC).
    [
      'Sydney weekdays 09–17, over the spring weekend',
      win('Australia/Sydney', '09:00', '17:00', weekdays),
      '2026-10-03T02:00:00Z',
      44 * HOUR,
    ],
    // Sydney Sat 12:00 AEDT → Mon 09:00 AEST (4 Apr 01:00 UTC → 5 Apr 23:00 UTC).
    [
      'Sydney weekdays 09–17, over the fall weekend',
      win('Australia/Sydney', '09:00', '17:00', weekdays),
      '2026-04-04T01:00:00Z',
      46 * HOUR,
    ],
    // Start in the skipped hour: 01:00 EST → opens at 03:00 EDT, one real hour later.
    [
      'NY 02:30–05:00 from 01:00 EST on the spring day',
      win('America/New_York', '02:30', '05:00'),
      '2026-03-08T06:00:00Z',
      HOUR,
    ],
    [
      'Sydney 02:30–03:30 from 01:00 AEST on the spring day',
      win('Australia/Sydney', '02:30', '03:30'),
      '2026-10-03T15:00:00Z',
      HOUR,
    ],
    // A window wholly inside the skipped hour does not exist that day: the next one is a week on
    // (8 Mar 06:00 UTC = 01:00 EST → 15 Mar 06:00 UTC = 02:00 EDT).
    [
      'NY Sun 02:00–02:45 from 01:00 EST on the spring day',
      win('America/New_York', '02:00', '02:45', ['Sun']),
      '2026-03-08T06:00:00Z',
      7 * 24 * HOUR,
    ],
    ['open now', win('Europe/Dublin', '09:00', '17:00'), '2026-03-29T08:00:00Z', 0],
    [
      'mid-minute: rounds up to the whole second',
      win('Europe/Dublin', '09:00', '17:00'),
      '2026-03-29T07:59:30.250Z',
      30,
    ],
    ['a window with no minutes never opens', win('Europe/Dublin', '09:00', '09:00'), '2026-03-29T08:00:00Z', null],
  ])('%s', (_name, window, iso, seconds) => {
    expect(secondsUntilOpen(window, at(iso))).toBe(seconds);
  });
});

describe('overnight windows', () => {
  // Opens on each of its days at start, closes at end on the next day, in wall-clock time.
  const night = (days: DeployWindow['days'], start = '22:00', end = '06:00', timeZone = 'Europe/Dublin') => ({
    ...win(timeZone, start, end, days),
    overnight: true,
  });
  it.each<[string, DeployWindow, string, boolean]>([
    ['Sat 21:59 GMT, before it opens', night(['Sat']), '2026-03-28T21:59:00Z', false],
    ['Sat 22:00 GMT, as it opens', night(['Sat']), '2026-03-28T22:00:00Z', true],
    ['Sun 05:59 IST, past the spring change', night(['Sat']), '2026-03-29T04:59:00Z', true],
    ['Sun 06:00 IST, as it closes (a 7-hour night)', night(['Sat']), '2026-03-29T05:00:00Z', false],
    ['Sat 03:00: the night from Friday, which is not a day of it', night(['Sat']), '2026-03-28T03:00:00Z', false],
    ['Sun 23:00 IST: Sunday is not a day of it', night(['Sat']), '2026-03-29T22:00:00Z', false],
    ['Sat 22:00 IST, the fall change ahead', night(['Sat']), '2026-10-24T21:00:00Z', true],
    ['Sat 21:59 IST', night(['Sat']), '2026-10-24T20:59:00Z', false],
    ['Sun 05:59 GMT, past the fall change', night(['Sat']), '2026-10-25T05:59:00Z', true],
    ['Sun 06:00 GMT, as it closes (a 9-hour night)', night(['Sat']), '2026-10-25T06:00:00Z', false],
    ['Sunday night runs into Monday', night(['Sun']), '2026-03-30T04:00:00Z', true],
    ['to midnight: Sat 23:59 open', night(['Sat'], '22:00', '00:00'), '2026-03-28T23:59:00Z', true],
    ['to midnight: Sun 00:00 closed', night(['Sat'], '22:00', '00:00'), '2026-03-29T00:00:00Z', false],
    // New York: the skipped hour 02:00–03:00 EDT inside the night.
    ['NY Sat night, Sun 03:30 EDT', night(['Sat'], '23:00', '04:00', 'America/New_York'), '2026-03-08T07:30:00Z', true],
    [
      'NY Sat night, Sun 04:00 EDT',
      night(['Sat'], '23:00', '04:00', 'America/New_York'),
      '2026-03-08T08:00:00Z',
      false,
    ],
  ])('%s', (_name, window, iso, open) => {
    expect(windowOpen(window, at(iso))).toBe(open);
  });

  it.each<[string, DeployWindow, string, number]>([
    ['Sat noon GMT to Sat 22:00 GMT', night(['Sat']), '2026-03-28T12:00:00Z', 10 * HOUR],
    // Closed at Sun 06:00 IST; opens again Sat 4 Apr 22:00 IST = 21:00 UTC.
    ['from its close to the next Saturday night', night(['Sat']), '2026-03-29T05:00:00Z', 6 * 24 * HOUR + 16 * HOUR],
    ['open now', night(['Sat']), '2026-03-29T01:30:00Z', 0],
  ])('secondsUntilOpen: %s', (_name, window, iso, seconds) => {
    expect(secondsUntilOpen(window, at(iso))).toBe(seconds);
  });

  it('says it is overnight in messages', () => {
    expect(describeWindow(night(['Fri']))).toBe('Fri 22:00–06:00 (overnight) Europe/Dublin');
    expect(describeWindow(win('Europe/Dublin', '09:00', '16:00', ['Mon']))).toBe('Mon 09:00–16:00 Europe/Dublin');
  });
});
