#!/usr/bin/env node
/**
 * The `flotilla` command (package.json "bin"): a plain-JavaScript launcher for cli/flotilla.ts.
 * Start-up comes first, before any TypeScript loads: V8's compile cache (Node's own, keyed by each
 * file's text) and the cache of the repository's files with their types stripped (strip-cache.js),
 * so that a read verb does not spend its time compiling and stripping the same files again. Then it
 * runs the CLI itself, which `node cli/flotilla.ts` also runs, without these caches.
 */
import { enableCompileCache } from 'node:module';
import { cacheStrippedTypes } from './strip-cache.js';

enableCompileCache();
cacheStrippedTypes();
await import('./flotilla.ts');
