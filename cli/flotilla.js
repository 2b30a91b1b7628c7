#!/usr/bin/env node
/**
 * The `flotilla` command (package.json "bin"): a plain-JavaScript launcher for cli/flotilla.ts.
 * First it refuses a Node too old to run Flotilla, in one line and before anything else loads (its
 * only static import, node-version.js, runs on any Node): the machine's own `node` may be older
 * than the project's, and would otherwise fail with a stack trace about a missing export.
 * Then start-up: V8's compile cache (Node's own, keyed by each file's text) and the cache of the
 * repository's files with their types stripped (strip-cache.js), so that a read verb does not spend
 * its time compiling and stripping the same files again. Then it runs the CLI itself, which
 * `node cli/flotilla.ts` also runs, without these caches.
 */
import { nodeTooOld, supportsNode } from './node-version.js';

if (!supportsNode(process.versions.node)) {
  process.stderr.write(`${nodeTooOld(process.versions.node)}\n`);
  process.exit(2);
}
const { enableCompileCache } = await import('node:module');
const { cacheStrippedTypes } = await import('./strip-cache.js');
enableCompileCache();
cacheStrippedTypes();
await import('./flotilla.ts');
