/**
 * `flotilla dashboard`: the web dashboard on 127.0.0.1, opened through a one-time login URL.
 * Locally it is served by `flotilla up` on the control API's port: with `up` running this asks it
 * for a new login URL and prints it; without, it runs what `up` runs. With --backend aws it serves
 * the dashboard from this process, reading the DynamoDB ledger and steering with your credentials,
 * until Ctrl-C.
 */
import type { Command } from 'commander';
import { refused } from '../../core/errors.ts';
import { awsDashboard } from '../dashboard.ts';
import { EXIT } from '../exit-codes.ts';
import { handle, subcommand } from '../options.ts';
import { print, printJson, warn } from '../output.ts';
import { findControl } from '../release-target.ts';
import { onStop } from '../signals.ts';
import { serveUp } from './up.ts';

export function register(program: Command): void {
  const command = subcommand(
    program,
    'dashboard',
    'the web dashboard on 127.0.0.1: versions × regions, the live release, history, steering',
    ['config', 'stateDir', 'backend', 'json', 'actor'],
  );
  command.addHelpText(
    'after',
    `
Prints a login URL carrying a one-time token: opening it starts a browser session (a cookie) and
the token cannot be used again; run the command again for another. Locally, with \`flotilla up\`
running, it asks that server for a new URL and exits; otherwise it serves the local backend as
\`up\` does until Ctrl-C. With --backend aws it serves the dashboard from here until Ctrl-C. Steering
from the page is recorded as --actor (default $USER@<hostname>).`,
  );
  handle(command, async (ctx) => {
    if (ctx.backend() === 'aws') {
      const config = await ctx.loadConfig();
      const server = await awsDashboard(ctx, config);
      const url = server.dashboard.loginUrl();
      if (ctx.json) printJson({ url, backend: 'aws' });
      else print(`flotilla dashboard: ${url} (Ctrl-C stops)`);
      const signal = await new Promise<NodeJS.Signals>((ok) => {
        onStop((s) => {
          ok(s);
          return new Promise<number>(() => {});
        });
      });
      warn(`\nflotilla dashboard: ${signal}: stopping`);
      await server.close();
      return EXIT.ok;
    }
    const running = await findControl(ctx);
    if (!running) return serveUp(ctx, 'dashboard');
    const { controlClient } = await import('../../control/client.ts');
    let url: string;
    try {
      ({ url } = await controlClient(running).dashboardLogin());
    } catch (error) {
      if ((error as Error).name !== 'NotFound') throw error;
      throw refused(
        'Busy',
        `the control server at ${running.url} (a \`flotilla release\`) serves no dashboard: run \`flotilla up\` for one`,
      );
    }
    if (ctx.json) printJson({ url, backend: 'local' });
    else print(`flotilla dashboard: ${url} (served by the control server at ${running.url})`);
    return EXIT.ok;
  });
}
