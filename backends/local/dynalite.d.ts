/**
 * Minimal types for dynalite (v4), which ships none: only what backends/local/dynalite-server.ts uses.
 * dynalite is CommonJS (`module.exports = dynalite`) and returns a plain http.Server whose close()
 * also closes its LevelDB store.
 */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** LevelDB directory; in memory (memory-level) when omitted. */
    path?: string;
    /** How long tables stay CREATING / DELETING / UPDATING, in ms (default 500 each). */
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    /** Maximum item size in KB (default 400, as DynamoDB). */
    maxItemSizeKb?: number;
    ssl?: boolean;
    verbose?: boolean;
    debug?: boolean;
  }

  function dynalite(options?: DynaliteOptions): Server;
  export = dynalite;
}
