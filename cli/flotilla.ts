#!/usr/bin/env node
/**
 * flotilla: validate and plan a release config, ship a build through its waves, ask what runs
 * where, and steer a running release. The program is cli/program.ts; exit codes cli/exit-codes.ts.
 */
import { run } from './program.ts';
import { installSignalHandlers } from './signals.ts';

installSignalHandlers();
// A reader that stops early (`flotilla where | head -1`) closes the pipe: what is left to print has
// no one to read it, which is no error (it was a stack trace), and a release still runs to its end.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}
const code = await run(process.argv.slice(2));
// Writes to a pipe are asynchronous: exiting before they drain cuts the output (a 3,000-line
// `validate | less` got 1,440 lines). An empty write calls back once everything before it is out.
await Promise.all([process.stdout, process.stderr].map((s) => new Promise((done) => s.write('', done))));
process.exit(code);
