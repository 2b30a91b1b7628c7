/** Helpers for tests that run the CLI as a user does: a real `node cli/flotilla.js` process (the bin, which runs cli/flotilla.ts). */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const CLI = resolve(import.meta.dirname, '../../cli/flotilla.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one command to its end. */
export function runCli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('close', (code) => ok({ code: code ?? -1, stdout, stderr }));
  });
}

/** A command left running (`up`, a long `release`): its output so far, and a way to stop it. */
export interface Background {
  child: ChildProcessWithoutNullStreams;
  output(): { stdout: string; stderr: string };
  /** Resolves once stdout matches, rejects if the process exits first or the time is up. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  /** Sends the signal (default SIGTERM) unless it has exited, and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export function startCli(args: string[], cwd: string, env: Record<string, string> = {}): Background {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0', ...env } });
  let stdout = '';
  let stderr = '';
  let code: number | undefined;
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const exited = new Promise<number>((ok) =>
    child.on('close', (c, signal) => {
      code = c ?? (signal ? 128 : -1);
      ok(code);
    }),
  );
  return {
    child,
    output: () => ({ stdout, stderr }),
    exited,
    waitForOutput(pattern, timeoutMs = 30_000) {
      return new Promise((ok, bad) => {
        const deadline = Date.now() + timeoutMs;
        const timer = setInterval(() => {
          if (pattern.test(stdout)) {
            clearInterval(timer);
            ok();
          } else if (code !== undefined || Date.now() > deadline) {
            clearInterval(timer);
            bad(
              new Error(
                `${code !== undefined ? `exited (${code})` : 'timed out'} before ${pattern}:\n${stdout}\n${stderr}`,
              ),
            );
          }
        }, 50);
      });
    },
    async stop(signal = 'SIGTERM') {
      if (code === undefined) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Polls until `check` returns a value (not undefined), or fails after the timeout. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, everyMs));
  }
}
