/** Types of cli/node-version.js, plain JavaScript so that it runs on any Node. */
export function supportsNode(version: string): boolean;
export function nodeTooOld(version: string): string;
