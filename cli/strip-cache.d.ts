/** Types of cli/strip-cache.js, plain JavaScript so that it runs before any TypeScript is stripped. */
export function cacheStrippedTypes(env?: NodeJS.ProcessEnv): void;
export function userCacheDir(env?: NodeJS.ProcessEnv): string | undefined;
