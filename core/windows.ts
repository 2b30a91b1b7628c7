/**
 * Deploy windows, in each region's own local time. Pure: `now` comes in as milliseconds.
 */
import type { DeployWindow } from './config.ts';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The weekday ('Mon') and minute of the day at `now` in `timeZone`. */
export function localTime(now: number, timeZone: string): { day: string; minutes: number } {
  let day = '';
  let hour = 0;
  let minute = 0;
  for (const part of formatter(timeZone).formatToParts(now)) {
    if (part.type === 'weekday') day = part.value;
    if (part.type === 'hour') hour = Number(part.value);
    if (part.type === 'minute') minute = Number(part.value);
  }
  return { day, minutes: hour * 60 + minute };
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

const WEEK = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const dayBefore = (day: string) => WEEK[(WEEK.indexOf(day) + 6) % 7] as string;

/**
 * Whether the window is open at `now`, in the region's wall-clock time. A day window is open on
 * each of its days from `start` (inclusive) to `end` (exclusive); an overnight window opens on
 * each of its days at `start` and stays open until `end` on the next day (Fri 22:00 to Sat 06:00
 * for `days: [Fri]`). Wall-clock times, so a daylight-saving change makes that night an hour
 * shorter or longer, never moves its ends.
 */
export function windowOpen(window: DeployWindow, now: number): boolean {
  const { day, minutes } = localTime(now, window.timeZone);
  const days = window.days as string[];
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  if (window.overnight === true) {
    return (days.includes(day) && minutes >= start) || (days.includes(dayBefore(day)) && minutes < end);
  }
  return days.includes(day) && minutes >= start && minutes < end;
}

/**
 * Seconds from `now` until the window next opens (0 if open now), found minute by minute over
 * the next 8 days so daylight-saving shifts come out right; null if it never opens.
 */
export function secondsUntilOpen(window: DeployWindow, now: number): number | null {
  if (windowOpen(window, now)) return 0;
  const nextMinute = Math.ceil((now + 1) / 60_000) * 60_000;
  for (let t = nextMinute; t < now + 8 * 86_400_000; t += 60_000) {
    if (windowOpen(window, t)) return Math.ceil((t - now) / 1000);
  }
  return null;
}

/** "Mon–Thu 09:00–16:00 Europe/Dublin", for messages. */
export function describeWindow(window: DeployWindow): string {
  const overnight = window.overnight === true ? ' (overnight)' : '';
  return `${window.days.join(',')} ${window.start}–${window.end}${overnight} ${window.timeZone}`;
}
