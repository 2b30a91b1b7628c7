/**
 * The one rule for a version string, wherever it comes from (`--version`, a build's package.json,
 * the control API, a push, PlanRelease): 1 to 64 characters, a letter or digit first, then
 * letters, digits, `.`, `_`, `+` or `-`. A version names a directory on a region
 * (`releases/<version>/`) and part of a release id, so nothing else gets through: no `/`, no `..`
 * at the start, no space, no shell or control characters. `1.2.0`, `1.2.0-rc.1+build.5` and a
 * 12-character commit sha pass.
 */
import { REFUSALS, refused } from './errors.ts';

export const VERSION_MAX_LENGTH = 64;
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
/** The rule as people read it, in every refusal. */
export const VERSION_RULE = `1-${VERSION_MAX_LENGTH} characters of ${VERSION_PATTERN.source.slice(1, -1)}`;

/** Why the value is not a version (undefined: it is one). */
export function versionProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `must be a string (${VERSION_RULE})`;
  if (value === '') return `must not be empty (${VERSION_RULE})`;
  if (value.length > VERSION_MAX_LENGTH)
    return `is ${value.length} characters long; at most ${VERSION_MAX_LENGTH} (${VERSION_RULE})`;
  if (!VERSION_PATTERN.test(value)) return `${JSON.stringify(value)} is not a version (${VERSION_RULE})`;
  return undefined;
}

/** The version, or an InvalidInput refusal (CLI exit 2, HTTP 400) naming `what` and the rule. */
export function checkVersion(value: unknown, what = 'version'): string {
  const problem = versionProblem(value);
  if (problem !== undefined) throw refused(REFUSALS.InvalidInput, `${what} ${problem}`);
  return value as string;
}
