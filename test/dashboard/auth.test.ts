import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { cookieOf, dashboardAuth, LOGIN_TTL_MS, SESSION_IDLE_MS } from '../../dashboard/auth.ts';

const req = (headers: Record<string, string>, method = 'GET') => ({ headers, method }) as unknown as IncomingMessage;

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('dashboardAuth', () => {
  it('trades a login token for a session once: the same token again gets nothing', () => {
    const auth = dashboardAuth(4100);
    const token = auth.newLoginToken();
    const session = auth.login(token);
    expect(session).toMatch(/^[0-9a-f]{64}$/);
    expect(auth.login(token)).toBeUndefined();
    expect(auth.hasSession(req({ cookie: `other=1; flotilla_session_4100=${session}` }))).toBe(true);
  });

  it('refuses an unknown, malformed or expired token', () => {
    const c = clock();
    const auth = dashboardAuth(4100, c.now);
    expect(auth.login(undefined)).toBeUndefined();
    expect(auth.login('x'.repeat(64))).toBeUndefined();
    expect(auth.login('a'.repeat(64))).toBeUndefined();
    const token = auth.newLoginToken();
    c.advance(LOGIN_TTL_MS + 1);
    expect(auth.login(token)).toBeUndefined();
  });

  it('has no session without the cookie, with another port’s cookie, or after the idle time', () => {
    const c = clock();
    const auth = dashboardAuth(4100, c.now);
    const session = auth.login(auth.newLoginToken()) as string;
    expect(auth.hasSession(req({}))).toBe(false);
    expect(auth.hasSession(req({ cookie: `flotilla_session_4101=${session}` }))).toBe(false);
    expect(auth.hasSession(req({ cookie: `flotilla_session_4100=${session.slice(1)}0` }))).toBe(false);
    c.advance(SESSION_IDLE_MS - 1);
    expect(auth.hasSession(req({ cookie: `flotilla_session_4100=${session}` }))).toBe(true);
    c.advance(SESSION_IDLE_MS + 1);
    expect(auth.hasSession(req({ cookie: `flotilla_session_4100=${session}` }))).toBe(false);
  });

  it('sets an HttpOnly, SameSite=Strict cookie named for its port', () => {
    expect(dashboardAuth(4100).setCookie('abc')).toBe(
      'flotilla_session_4100=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200',
    );
  });

  it('accepts only 127.0.0.1:<its port> as Host (no DNS rebinding)', () => {
    const auth = dashboardAuth(4100);
    expect(auth.checkHost(req({ host: '127.0.0.1:4100' }))).toEqual({ ok: true });
    for (const host of ['localhost:4100', '127.0.0.1:4101', 'evil.example:4100', '127.0.0.1', '']) {
      expect(auth.checkHost(req({ host })), host).toMatchObject({ ok: false, status: 403 });
    }
    expect(auth.checkHost(req({}))).toMatchObject({ ok: false, status: 403 });
  });

  it('lets a POST through only from its own origin; reads need none', () => {
    const auth = dashboardAuth(4100);
    expect(auth.checkOrigin(req({}, 'GET'))).toEqual({ ok: true });
    expect(auth.checkOrigin(req({ origin: 'http://127.0.0.1:4100' }, 'POST'))).toEqual({ ok: true });
    for (const origin of ['https://evil.example', 'http://127.0.0.1:4101', 'http://localhost:4100', 'null']) {
      expect(auth.checkOrigin(req({ origin }, 'POST')), origin).toMatchObject({ ok: false, status: 403 });
    }
    expect(auth.checkOrigin(req({}, 'POST'))).toMatchObject({ ok: false, status: 403 });
  });
});

describe('cookieOf', () => {
  it('finds a cookie by exact name', () => {
    expect(cookieOf('a=1; flotilla_session_1=x; b=2', 'flotilla_session_1')).toBe('x');
    expect(cookieOf('xflotilla_session_1=y', 'flotilla_session_1')).toBeUndefined();
    expect(cookieOf(undefined, 'a')).toBeUndefined();
  });
});
