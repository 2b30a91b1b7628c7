/** `flotilla up`: the local backend kept open, the control API, the dashboard (and POST /github) served, until Ctrl-C. */
import { join } from 'node:path';
import type { Command } from 'commander';
import type { StartedRelease } from '../../backends/local/index.ts';
import { EventLog } from '../../control/event-log.ts';
import type { ControlServer } from '../../control/server.ts';
import { refused } from '../../core/errors.ts';
import type { Context } from '../context.ts';
import { eventHub, localDashboard } from '../dashboard.ts';
import { EXIT, UsageError } from '../exit-codes.ts';
import { handle, subcommand } from '../options.ts';
import { print, warn } from '../output.ts';
import { findControl } from '../release-target.ts';
import { closeQuietly, noting, serveControl, teeEvents } from '../serve.ts';
import { onStop } from '../signals.ts';
import { openLocal, resumeLeftQueue } from '../targets/local.ts';

export function register(program: Command): void {
  const command = subcommand(
    program,
    'up',
    'local: keep the backend open and serve the control API on 127.0.0.1; Ctrl-C stops it',
  );
  command.addHelpText(
    'after',
    `
The token is in <state-dir>/control-token, new at every start; a client sends it only after the
server proved it holds it (GET /v1/challenge). Releases it runs show live. POST /github is served too
when FLOTILLA_GITHUB_SECRET and FLOTILLA_ARTIFACT_TEMPLATE are set. The web dashboard is served on the
same port: open the login URL it prints (one use; \`flotilla dashboard\` prints a new one). It adopts
the region processes an earlier command left serving; after Ctrl-C they keep serving (\`flotilla down\`
stops them).`,
  );
  handle(command, (ctx) => serveUp(ctx, 'up'));
}

/**
 * Runs the local backend with the control API, POST /github when configured, and the web
 * dashboard on the same port, until a signal; `flotilla dashboard` runs this too when no server
 * serves the state dir.
 */
export async function serveUp(ctx: Context, name: 'up' | 'dashboard'): Promise<number> {
  if (ctx.backend() !== 'local') {
    throw new UsageError('up serves the local backend; on AWS the verbs go to Step Functions directly');
  }
  const running = await findControl(ctx);
  if (running) throw refused('Busy', `a control server already serves ${ctx.stateDir()} at ${running.url}`);
  const config = await ctx.loadConfig();
  const events = ctx.progress();
  const hub = eventHub();
  // Kept for whoever follows a release from another terminal (status --watch, release).
  const log = new EventLog();
  const backend = await openLocal(
    ctx,
    config,
    teeEvents(
      {
        async emit(event) {
          hub.emit(event);
          await events.emit(event);
        },
        note: (line) => events.note(line),
      },
      log,
    ),
  );
  const inFlight = new Set<string>();
  const onStarted = (started: StartedRelease) => {
    inFlight.add(started.releaseId);
    started.done.then(
      () => inFlight.delete(started.releaseId),
      (error: unknown) => {
        inFlight.delete(started.releaseId);
        const name = (error as Error).name;
        // A release refused before it started was answered 409 already; anything else is news.
        if (name !== 'ServiceLocked' && name !== 'ReleaseExists') {
          events.note(`release ${started.releaseId} stopped: ${(error as Error).message}`);
        }
      },
    );
  };
  let server: ControlServer;
  try {
    server = await serveControl(
      ctx,
      backend,
      config,
      { events: log, onStarted },
      (handler) => noting(handler, events),
      events,
      (handler) => localDashboard(ctx, backend.ledger, config, handler, hub),
    );
  } catch (error) {
    await backend.close();
    throw error;
  }
  const { github } = server;
  // `up` runs the state dir's releases: the queue a killed process left in the ledger runs here
  // (`dashboard` serves the API too, but leaves the queue to the next release or up).
  if (name === 'up') {
    try {
      for (const started of await resumeLeftQueue(backend)) onStarted(started);
    } catch (error) {
      await closeQuietly(server);
      await backend.close();
      throw error;
    }
  }
  const tokenFile = join(ctx.stateDir(), 'control-token');
  const login = server.dashboardLogin?.() ?? '(not served)';
  if (ctx.json) {
    print(JSON.stringify({ controlApi: server.url, tokenFile, dashboard: login, pid: process.pid, github }));
  } else {
    print(
      `flotilla ${name}: control API on ${server.url} (token in ${tokenFile}); Ctrl-C stops it, the regions keep serving`,
    );
    print(name === 'up' ? `flotilla up: dashboard: ${login}` : `flotilla dashboard: ${login} (Ctrl-C stops)`);
    print(
      github.enabled
        ? `flotilla ${name}: GitHub webhook on ${github.url} (pushes to ${github.branch}; builds ${github.artifactTemplate}; secret from ${github.secretFrom})`
        : `flotilla ${name}: GitHub webhook off: ${github.why}`,
    );
  }
  // Runs until a signal; the command then exits with this code.
  const signal = await new Promise<NodeJS.Signals>((ok) => {
    onStop((s) => {
      ok(s);
      return new Promise<number>(() => {});
    });
  });
  warn(
    `\nflotilla ${name}: ${signal}: stopping the control API; the regions keep serving (\`flotilla down\` stops them)`,
  );
  for (const id of inFlight) {
    warn(
      `flotilla ${name}: ${id} was running or queued here; the next flotilla command marks a running one ` +
        'interrupted, and the next `flotilla release` or `flotilla up` runs a queued one',
    );
  }
  await closeQuietly(server);
  await backend.close();
  return EXIT.ok;
}
