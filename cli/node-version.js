/**
 * Which Node runs Flotilla, checked by the launcher (cli/flotilla.js) before it loads anything else.
 * Plain JavaScript with no imports, so that it runs on any Node: on an older one the first of the
 * others to load (node:module's `registerHooks`, `.ts` files without a flag) fails with a stack trace
 * instead. Flotilla needs TypeScript stripped by default (Node 22.18 and 23.6), and what it uses
 * besides (`registerHooks`, `stripTypeScriptTypes`, `Promise.withResolvers`) comes before that.
 */

/** The first release of each Node line that strips types by default; lines after the last run it too. */
const FIRST = { 22: 18, 23: 6 };

/** Whether Node `version` ("22.18.0", no "v") runs Flotilla. */
export function supportsNode(version) {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > 23) return true;
  const first = FIRST[major];
  return first !== undefined && minor >= first;
}

/** The one line a too-old Node gets. */
export function nodeTooOld(version) {
  return `flotilla needs Node 22.18 or later (this is Node ${version}): run it with npx flotilla or npm start, which use the project's Node`;
}
