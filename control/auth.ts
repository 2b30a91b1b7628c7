/**
 * Who may use the control API: whoever presents the token in `<stateDir>/control-token` as
 * `Authorization: Bearer <token>`, compared in constant time. The token file (and the GitHub
 * webhook secret's file, which the bridge reads the same way) must be private to its owner.
 * There are no Origin or Host checks: the server listens on 127.0.0.1, and a browser page cannot
 * send the bearer token it does not know.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { namedError } from '../core/errors.ts';

export const TOKEN_FILE = 'control-token';

/**
 * Reads the token file, or creates it (32 random bytes, hex, mode 0600). An existing file is used
 * only if no one but its owner may read or write it, it is a regular file (not a symlink) and it
 * belongs to this user; otherwise this throws, saying why.
 */
export async function ensureToken(stateDir: string): Promise<string> {
  await mkdir(stateDir, { recursive: true });
  const path = join(stateDir, TOKEN_FILE);
  const fresh = randomBytes(32).toString('hex');
  try {
    const created = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await created.chmod(0o600);
      await created.writeFile(`${fresh}\n`);
    } finally {
      await created.close();
    }
    return fresh;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const token = await readPrivateFile(path, 'InsecureToken', {
    what: 'the control token',
    risk: 'anyone who can read it can steer releases',
    fix: `Run \`chmod 600 ${path}\` (or delete it for a new token) and start again`,
  });
  if (token === undefined) throw namedError('InsecureToken', `${path} went away while it was being read`);
  if (token.length < 32) {
    throw namedError('InsecureToken', `${path} holds no usable token (under 32 characters): delete it for a new one`);
  }
  return token;
}

/**
 * The trimmed text of a file that must be private: a regular file (not a symlink) of this user that
 * no one else may read or write (mode 0600 or narrower). `undefined` when there is no such file;
 * otherwise a wider mode, a link or another owner throws `errorName`, saying why and what to do.
 */
export async function readPrivateFile(
  path: string,
  errorName: string,
  about: { what: string; risk: string; fix: string },
): Promise<string | undefined> {
  let existing: Awaited<ReturnType<typeof open>>;
  try {
    existing = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') {
      throw namedError(errorName, `${path} is a symbolic link: refusing to use it as ${about.what}`);
    }
    throw error;
  }
  try {
    const info = await existing.stat();
    if (!info.isFile()) throw namedError(errorName, `${path} is not a regular file`);
    const mode = info.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw namedError(
        errorName,
        `${path} has mode ${mode.toString(8).padStart(4, '0')}, wider than 0600: ${about.risk}. ${about.fix}`,
      );
    }
    if (typeof process.getuid === 'function' && info.uid !== process.getuid()) {
      throw namedError(errorName, `${path} belongs to another user (uid ${info.uid})`);
    }
    return (await existing.readFile('utf8')).trim();
  } finally {
    await existing.close();
  }
}

/** Constant-time comparison of the presented token with ours: equal-length digests, whatever was sent. */
export function tokenMatches(presented: string, token: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header; another scheme, or none, is no token. */
export function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer ([^\s]+)$/i.exec(header.trim());
  return match?.[1];
}

/** Whether the request carries our token. */
export function authorized(req: IncomingMessage, token: string): boolean {
  const presented = bearer(req);
  return presented !== undefined && tokenMatches(presented, token);
}
