/**
 * Who may use the dashboard, as Jupyter does it: the command that serves it prints a login URL
 * carrying a one-time token; opening it trades the token for a session cookie (HttpOnly,
 * SameSite=Strict) and the token is spent. Every other request needs that session (401 without
 * it). Every request must name the server as the browser reached it, `127.0.0.1:<port>`, in its
 * Host header, so a page on another name that resolves to 127.0.0.1 (DNS rebinding) is refused
 * (403); a state-changing request must also come from a page of this server (Origin), so no
 * other site can drive it with the user's cookie.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** How long a printed login URL can be used (once). */
export const LOGIN_TTL_MS = 15 * 60_000;
/** How long a session lasts without being used. */
export const SESSION_IDLE_MS = 12 * 60 * 60_000;

const secret = () => randomBytes(32).toString('hex');
const digest = (text: string) => createHash('sha256').update(text).digest();

/** Constant-time membership: the presented secret against each kept one, by digest. */
function findSecret(kept: Map<string, number>, presented: string | undefined): string | undefined {
  if (!presented || !/^[0-9a-f]{64}$/.test(presented)) return undefined;
  const wanted = digest(presented);
  let found: string | undefined;
  for (const key of kept.keys()) if (timingSafeEqual(digest(key), wanted)) found = key;
  return found;
}

export type Verdict = { ok: true } | { ok: false; status: 401 | 403; message: string };

export interface DashboardAuth {
  /** The session cookie's name: per port, as cookies are shared by every port of a host. */
  readonly cookieName: string;
  /** A new one-time login token. */
  newLoginToken(): string;
  /** Spends a login token: a new session id, or undefined when the token is unknown, spent or expired. */
  login(token: string | undefined): string | undefined;
  /** Whether the request carries a live session (and keeps it alive). */
  hasSession(req: IncomingMessage): boolean;
  /** Every request: the Host header names 127.0.0.1 and this port (no DNS rebinding). */
  checkHost(req: IncomingMessage): Verdict;
  /** A state-changing request (not GET or HEAD): its Origin is this server. */
  checkOrigin(req: IncomingMessage): Verdict;
  setCookie(session: string): string;
}

/** The auth of one dashboard server, listening on 127.0.0.1:`port`. `now` is injectable for tests. */
export function dashboardAuth(port: number, now: () => number = Date.now): DashboardAuth {
  const logins = new Map<string, number>();
  const sessions = new Map<string, number>();
  const cookieName = `flotilla_session_${port}`;
  const host = `127.0.0.1:${port}`;
  const origin = `http://${host}`;
  const sweep = (kept: Map<string, number>) => {
    for (const [key, until] of kept) if (until <= now()) kept.delete(key);
  };
  return {
    cookieName,
    newLoginToken() {
      sweep(logins);
      const token = secret();
      logins.set(token, now() + LOGIN_TTL_MS);
      return token;
    },
    login(token) {
      sweep(logins);
      const found = findSecret(logins, token);
      if (!found) return undefined;
      logins.delete(found);
      const session = secret();
      sessions.set(session, now() + SESSION_IDLE_MS);
      return session;
    },
    hasSession(req) {
      sweep(sessions);
      const found = findSecret(sessions, cookieOf(req.headers.cookie, cookieName));
      if (!found) return false;
      sessions.set(found, now() + SESSION_IDLE_MS);
      return true;
    },
    checkHost(req) {
      if (req.headers.host === host) return { ok: true };
      return {
        ok: false,
        status: 403,
        message: `Host must be ${host} (got ${JSON.stringify(req.headers.host ?? null)})`,
      };
    },
    checkOrigin(req) {
      const method = req.method ?? 'GET';
      if (method === 'GET' || method === 'HEAD' || req.headers.origin === origin) return { ok: true };
      return {
        ok: false,
        status: 403,
        message: `a ${method} must come from ${origin} (Origin ${JSON.stringify(req.headers.origin ?? null)})`,
      };
    },
    setCookie: (session) =>
      `${cookieName}=${session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_IDLE_MS / 1000}`,
  };
}

/** The value of cookie `name` in a Cookie header, if there. */
export function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
