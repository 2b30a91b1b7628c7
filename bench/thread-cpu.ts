/**
 * CPU time of this process's threads, from /proc (Linux): what a stretch of work cost the main
 * thread, libuv's pool (file system, LevelDB) and the rest (V8's helper threads, which compile and
 * collect for every isolate, and worker threads such as the embedded DynamoDB server's). Elsewhere
 * it reads nothing and says so.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU ms by thread id, with each thread's name. */
export type ThreadTimes = Map<string, { name: string; ms: number }>;

/** What one stretch cost, in ms of CPU. */
export interface CpuSplit {
  main: number;
  pool: number;
  other: number;
}

/** Linux's USER_HZ: /proc reports CPU time in clock ticks of 10 ms. */
const MS_PER_TICK = 10;

/** Every thread's CPU time so far, or null where /proc/self/task cannot be read. */
export function threadTimes(): ThreadTimes | null {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return null;
  }
  const times: ThreadTimes = new Map();
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      // After the name: state is field 3, utime and stime fields 14 and 15 (proc(5)).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      times.set(tid, { name, ms: (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK });
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return times;
}

/** The CPU used between two readings, by kind of thread. */
export function cpuSplit(before: ThreadTimes, after: ThreadTimes): CpuSplit {
  const split: CpuSplit = { main: 0, pool: 0, other: 0 };
  for (const [tid, { name, ms }] of after) {
    const used = ms - (before.get(tid)?.ms ?? 0);
    if (tid === String(process.pid)) split.main += used;
    else if (name.startsWith('libuv-worker')) split.pool += used;
    else split.other += used;
  }
  return split;
}
