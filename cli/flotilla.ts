#!/usr/bin/env node
/**
 * flotilla: validate and plan a release config, ship a build through its waves, ask what runs
 * where, and steer a running release. The program is cli/program.ts; exit codes cli/exit-codes.ts.
 */
import { run } from './program.ts';
import { installSignalHandlers } from './signals.ts';

installSignalHandlers();
process.exit(await run(process.argv.slice(2)));
