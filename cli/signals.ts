/**
 * Ctrl-C (SIGINT) and SIGTERM. A command that stops cleanly (`up`, a release serving the control
 * API, following a release through it) says how with `onStop`; the others exit now. Region
 * processes keep serving (they are detached: `flotilla down` stops them); a release stays RUNNING
 * under a dead pid, and the next command closes it as FAILED (interrupted) and adopts its regions.
 */

/** Stops what the command runs, and gives the exit code. */
export type StopHandler = (signal: NodeJS.Signals) => Promise<number>;

let handler: StopHandler | undefined;

/** Sets (or, with undefined, clears) how the running command stops. */
export function onStop(stop: StopHandler | undefined): void {
  handler = stop;
}

export function installSignalHandlers(): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      const stop = handler;
      if (stopping || !stop) {
        process.stderr.write(
          `\nflotilla: ${signal}: stopping; the next flotilla command will mark the release interrupted\n`,
        );
        process.exit(130);
      }
      stopping = true;
      stop(signal).then(
        (code) => process.exit(code),
        () => process.exit(130),
      );
    });
  }
}
