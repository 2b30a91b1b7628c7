/**
 * What a region runs, asked of the region itself and never of the ledger: the `current` link in its
 * directory and what its process answers on its port.
 */
import { readlink } from 'node:fs/promises';
import { get } from 'node:http';
import { connect } from 'node:net';
import { basename, join } from 'node:path';

export interface Observed {
  region: string;
  /** The version `current` points at; null: no link. */
  link: string | null;
  /** 'ok': 2xx; 'error': any other answer; 'silent': accepts connections, never answers; 'down': nothing listens. */
  health: 'ok' | 'error' | 'silent' | 'down';
  /** The version the process says it runs (in a 2xx or an error body). */
  served: string | null;
}

export async function observeRegion(stateDir: string, region: string, port: number): Promise<Observed> {
  const link = await readlink(join(stateDir, 'regions', region, 'current')).then(
    (target) => basename(target),
    () => null,
  );
  const answer = await healthOf(port);
  if (answer) return { region, link, health: answer.ok ? 'ok' : 'error', served: answer.version };
  return { region, link, health: (await listens(port)) ? 'silent' : 'down', served: null };
}

function healthOf(port: number): Promise<{ ok: boolean; version: string | null } | null> {
  return new Promise((done) => {
    const req = get({ host: '127.0.0.1', port, path: '/health', timeout: 1500, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        let version: string | null = null;
        try {
          version = (JSON.parse(body) as { version?: string }).version ?? null;
        } catch {
          // not JSON
        }
        const status = res.statusCode ?? 0;
        done({ ok: status >= 200 && status < 300, version });
      });
      res.on('error', () => done(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(null));
  });
}

function listens(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', () => done(false));
  });
}
