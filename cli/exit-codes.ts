/**
 * The CLI's exit codes: ONE table from error name to code, used by every command (through
 * program.ts) and printed in `flotilla --help` (and README's CLI section). Refusal names come from
 * core/errors.ts REFUSALS; the rest are the names the ledger, the local backend and the control
 * API already throw.
 */

import type { Refusal } from '../core/errors.ts';
import type { ReleaseOutcome } from '../core/types.ts';

export const EXIT = { ok: 0, failed: 1, usage: 2, busy: 3, notFound: 4, refused: 5, noChange: 6 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Bad usage: a wrong flag or argument, caught before anything is read or deployed. */
export class UsageError extends Error {
  override name = 'UsageError';
  /** The command whose `--help` to point at; program.ts fills it in when the thrower did not. */
  command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

/** Every refusal has its code: a new name in REFUSALS does not compile until it is given one. */
const REFUSAL_CODES: Readonly<Record<Refusal, ExitCode>> = {
  InvalidInput: EXIT.usage,
  Busy: EXIT.busy,
  NotFound: EXIT.notFound,
  NotApplicable: EXIT.refused,
  NoChange: EXIT.noChange,
};

/** Error name → exit code. A name not here is an unexpected failure: exit 1, with its stack. */
export const EXIT_CODES: Readonly<Record<string, ExitCode>> = {
  ...REFUSAL_CODES,
  UsageError: EXIT.usage,
  InvalidConfig: EXIT.usage,
  ServiceLocked: EXIT.busy,
  StateDirLocked: EXIT.busy,
  ReleaseExists: EXIT.busy,
  // Another program holds a region's port: refused before anything deploys (backends/local).
  PortInUse: EXIT.busy,
  Unauthorized: EXIT.refused,
  // Failures with a message that says it all (no stack): the verb recorded but the wake failed,
  // an unusable control token.
  WakeFailed: EXIT.failed,
  RollbackNotStarted: EXIT.failed,
  // The ledger's files are damaged: the message names the directory and what to do.
  LedgerDamaged: EXIT.failed,
  InsecureToken: EXIT.failed,
};

const MEANINGS: Readonly<Record<ExitCode, string>> = {
  0: 'success (release: SUCCEEDED, or with --no-wait started RUNNING or QUEUED; rollback: every region back)',
  1: 'the release did not succeed (rolled back, blocked, failed), or an unexpected error',
  2: 'bad usage, invalid input or invalid config (nothing deployed)',
  3: 'busy',
  4: 'not found',
  5: 'refused: the verb does not apply to the release as it stands',
  6: 'nothing to change',
};

/** The code of an error thrown by a command. */
export function exitCodeOf(error: unknown): ExitCode {
  return EXIT_CODES[(error as Error | undefined)?.name ?? ''] ?? EXIT.failed;
}

/** Whether the error is one of the table's (its message is enough) rather than a bug (show the stack). */
export function isExpected(error: unknown): boolean {
  return Object.hasOwn(EXIT_CODES, (error as Error | undefined)?.name ?? '');
}

/**
 * The exit code of a release: 0 once it SUCCEEDED, or with --no-wait once it is accepted (RUNNING,
 * or QUEUED behind another release: it runs when that one ends, or ends SUPERSEDED by a newer build).
 */
export function releaseExit(outcome: ReleaseOutcome): ExitCode {
  return outcome.status === 'SUCCEEDED' || outcome.status === 'RUNNING' || outcome.status === 'QUEUED'
    ? EXIT.ok
    : EXIT.failed;
}

/** A rollback release's exit code: 0 once every region is back (its own status says how). */
export function rollbackExit(outcome: ReleaseOutcome): ExitCode {
  return outcome.status === 'SUCCEEDED' || outcome.status === 'ROLLED_BACK' || outcome.status === 'RUNNING'
    ? EXIT.ok
    : EXIT.failed;
}

/** The table as help text: each code, what it means, and the error names that lead to it. */
export function exitCodesHelp(): string {
  const lines = Object.entries(MEANINGS).map(([code, meaning]) => {
    const names = Object.entries(EXIT_CODES)
      .filter(([name, c]) => c === Number(code) && name !== 'UsageError' && name !== 'InvalidConfig')
      .map(([name]) => name);
    return `  ${code}  ${meaning}${names.length > 0 && Number(code) > 1 ? ` (${names.join(', ')})` : ''}`;
  });
  return `exit codes:\n${lines.join('\n')}\n`;
}
