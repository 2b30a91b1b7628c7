/**
 * What the operating system says about a process that is not (or no longer) our child: whether it
 * runs, where it runs from, with which environment, and how to stop it. Region processes are
 * detached and outlive the command that started them, so the next command knows them only by the
 * pid recorded in the state directory, and checks that pid before it trusts it (Linux /proc).
 */
import { readFile, readlink } from 'node:fs/promises';

/** How long a process may take to go after SIGTERM before it gets SIGKILL. */
export const STOP_GRACE_MS = 5_000;

/**
 * Whether the process runs. A zombie (exited, not yet reaped: an orphan's parent is PID 1, which in a
 * container may never reap) does not, though `kill(pid, 0)` still succeeds on it.
 */
export async function processRunning(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return process.platform !== 'linux';
  // "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** The process's working directory, or null when it cannot be read (gone, another user's, not Linux). */
export function processCwd(pid: number): Promise<string | null> {
  return readlink(`/proc/${pid}/cwd`).catch(() => null);
}

/** The environment the process was started with, or null when it cannot be read. */
export async function processEnvironment(pid: number): Promise<Map<string, string> | null> {
  const raw = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => null);
  if (raw === null) return null;
  const env = new Map<string, string>();
  for (const entry of raw.split('\0')) {
    const at = entry.indexOf('=');
    if (at > 0) env.set(entry.slice(0, at), entry.slice(at + 1));
  }
  return env;
}

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

/** Sends the signal to the process's group (a region process leads its own), else to the process. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
    return;
  } catch {
    // Not a group leader (or the group is gone): the process itself.
  }
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** SIGTERM a process that is not our child, SIGKILL it after `graceMs`, and wait until it is gone. */
export async function stopPid(pid: number, graceMs = STOP_GRACE_MS): Promise<'stopped' | 'killed'> {
  signalProcess(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while ((await processRunning(pid)) && Date.now() < deadline) await sleep(50);
  if (!(await processRunning(pid))) return 'stopped';
  signalProcess(pid, 'SIGKILL');
  while (await processRunning(pid)) await sleep(20);
  return 'killed';
}
