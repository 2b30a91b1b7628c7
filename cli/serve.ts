/**
 * Serving the control API from this process (`flotilla up`, and a local `release` or `rollback`
 * while it runs), and saying on the progress output what each API call did.
 */
import type { LocalBackend } from '../backends/local/index.ts';
import type { FlotillaConfig } from '../config/types.ts';
import type { EventLog } from '../control/event-log.ts';
import type { ControlHandler, ControlServer, HandlerHooks, Mount } from '../control/server.ts';
import type { Context, ProgressSink } from './context.ts';
import { auditLine, warn } from './output.ts';

/** Serves the control API on a local backend. */
export async function serveControl(
  ctx: Context,
  backend: LocalBackend,
  config: FlotillaConfig,
  hooks: HandlerHooks,
  wrap: (handler: ControlHandler) => ControlHandler,
  /** `flotilla up` only: serve POST /github when configured, telling `note` of each delivery. */
  github?: { note(text: string): void },
  /** `flotilla up` only: a site served beside the API (the dashboard), steering through the same handler. */
  mount?: (handler: ControlHandler) => Promise<Mount>,
): Promise<ControlServer> {
  const { controlHandlerFor, githubLogLine, githubReleasesFor, startControlServer } = await import(
    '../control/server.ts'
  );
  const handler = wrap(controlHandlerFor(backend, config, hooks));
  return startControlServer({
    stateDir: ctx.stateDir(),
    handler,
    ...(mount ? { mount: await mount(handler) } : {}),
    onError: (error) => warn(`flotilla: control API: ${(error as Error).stack ?? String(error)}`),
    ...(github
      ? {
          github: {
            releases: githubReleasesFor(backend, config, hooks),
            log: (entry: Record<string, unknown>) => github.note(githubLogLine(entry)),
          },
        }
      : {}),
  });
}

/** Stops the server, but never waits long for it: the command is ending. */
export async function closeQuietly(server: ControlServer | undefined): Promise<void> {
  if (!server) return;
  await Promise.race([server.close().catch(() => {}), new Promise((ok) => setTimeout(ok, 2_000).unref())]);
}

/** The handler, saying on the progress output what each API call did. */
export function noting(handler: ControlHandler, sink: { note(text: string): void }): ControlHandler {
  return {
    ...handler,
    async intent(request) {
      const intent = await handler.intent(request);
      sink.note(`intent for ${intent.releaseId ?? `every ${intent.service} release`}: ${auditLine(intent, false)}`);
      return intent;
    },
    async start(request) {
      const started = await handler.start(request);
      sink.note(`started ${started.releaseId} (${request.version}) through the control API`);
      return started;
    },
    async rollback(releaseId, person) {
      const started = await handler.rollback(releaseId, person);
      sink.note(`started ${started.releaseId}: ${person.actor} rollback ${releaseId} — ${person.reason}`);
      return started;
    },
  };
}

/** The progress sink, and the event log kept for followers in other terminals. */
export function teeEvents(progress: ProgressSink, log: EventLog): ProgressSink {
  return {
    emit(event) {
      log.emit(event);
      return progress.emit(event);
    },
    note: (text) => progress.note(text),
  };
}
