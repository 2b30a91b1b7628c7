/**
 * Who may use the control API: whoever presents the token in `<stateDir>/control-token` as
 * `Authorization: Bearer <token>`, compared in constant time; and, the other way round, how a
 * client makes sure a server holds that token before it sends it (the challenge, below). Every
 * server start writes a new token. The token file (and the GitHub
 * webhook secret's file, which the bridge reads the same way) must be private to its owner.
 * There are no Origin or Host checks here: the server listens on 127.0.0.1, and a browser page
 * cannot send the bearer token it does not know. The dashboard mounted beside the API, which a
 * browser does use, has its own session and checks (dashboard/auth.ts).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { namedError } from '../core/errors.ts';

/** In the state dir while a control API serves it: its address (control/server.ts writes it, control/client.ts finds it). */
export const CONTROL_FILE = 'control.json';

export const TOKEN_FILE = 'control-token';

/**
 * Writes a new token (32 random bytes, hex) to the token file, mode 0600, and returns it: every
 * server start gets its own, so a token that leaked from an earlier run (or was sent to whatever
 * took a dead server's port) is worth nothing. The file is written under a fresh name and renamed
 * over the old one: a symlink, a file of another mode or owner left there is replaced, not followed.
 */
export async function freshToken(stateDir: string): Promise<string> {
  await mkdir(stateDir, { recursive: true });
  const path = join(stateDir, TOKEN_FILE);
  const token = randomBytes(32).toString('hex');
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const created = await open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await created.chmod(0o600);
    await created.writeFile(`${token}\n`);
    await created.sync();
  } finally {
    await created.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  return token;
}

/** The token a client presents: the token file, refused (InsecureToken) unless it is private to this user. */
export async function readToken(stateDir: string): Promise<string | undefined> {
  const path = join(stateDir, TOKEN_FILE);
  const token = await readPrivateFile(path, 'InsecureToken', {
    what: 'the control token',
    risk: 'anyone who can read it can steer releases',
    fix: `Run \`chmod 600 ${path}\` (or stop the server and start it again for a new token)`,
  });
  if (token !== undefined && token.length < 32) {
    throw namedError('InsecureToken', `${path} holds no usable token (under 32 characters)`);
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

/**
 * The challenge a client sends before it sends the token: `GET /v1/challenge?nonce=<64 hex>`,
 * answered without the token by `{proof}`, HMAC-SHA256 keyed with the token over the nonce and the
 * port the question came in on. Only a server holding the token can answer; binding the port
 * means a program on a stale port cannot relay the question to the real server and pass its
 * answer off as its own. The client asks on the very connection it then sends the token on
 * (control/client.ts), and compares the answer in constant time.
 */
export const CHALLENGE_PATH = '/v1/challenge';
export const NONCE_PATTERN = /^[0-9a-f]{64}$/;

export function newNonce(): string {
  return randomBytes(32).toString('hex');
}

export function challengeProof(token: string, port: number, nonce: string): string {
  return createHmac('sha256', token).update(`flotilla-control-challenge/v1 ${port} ${nonce}`).digest('hex');
}

/** Constant-time: whether `answer` is the proof for this token, port and nonce. */
export function proofMatches(answer: unknown, token: string, port: number, nonce: string): boolean {
  if (typeof answer !== 'string' || !/^[0-9a-f]{64}$/.test(answer)) return false;
  return timingSafeEqual(Buffer.from(answer, 'hex'), Buffer.from(challengeProof(token, port, nonce), 'hex'));
}
