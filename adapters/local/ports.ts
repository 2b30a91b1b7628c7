/**
 * Free ports for processes Flotilla starts on 127.0.0.1 (a new host, test and bench regions), taken
 * below the kernel's ephemeral range. A port from `listen(0)` is an ephemeral one: once that server
 * closes, any program's next outgoing connection or `listen(0)` may take it before the process it
 * was meant for binds it, and on a busy machine one did ("port … is in use by another program").
 * No outgoing connection and no `listen(0)` takes a port below that range, so a port found free
 * here stays free unless a program asks for that very number.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Where the ports are picked by default: above the usual fixed ports of dev servers (3000, 5432, 8080, 9000…). */
export const SPARE_PORTS_FROM = 20_000;

/** The kernel's ephemeral range (Linux's default when it cannot be read). */
export function ephemeralPorts(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && (low as number) > 1024) {
      return { low: low as number, high: high as number };
    }
  } catch {
    // Not Linux, or no /proc: the default below.
  }
  return { low: 32_768, high: 60_999 };
}

export interface SparePortOptions {
  /** Lowest port to pick (default SPARE_PORTS_FROM). */
  from?: number;
  /** One past the highest port to pick (default: the start of the ephemeral range). */
  to?: number;
  /** Ports never to pick (e.g. the regions' own, which may be down just now). */
  avoid?: ReadonlySet<number>;
}

/** Handed out by this process: not handed out again while another caller may not have bound it yet. */
const handedOut = new Set<number>();

/**
 * `n` distinct ports in [from, to) that were free a moment ago, tried from a random start so that
 * two processes picking at once rarely try the same ones. Falls back to `listen(0)` ports when the
 * range has too few (an ephemeral range that starts low).
 */
export async function sparePorts(n: number, options: SparePortOptions = {}): Promise<number[]> {
  const from = Math.max(1025, options.from ?? SPARE_PORTS_FROM);
  const to = Math.min(65_536, options.to ?? ephemeralPorts().low);
  const size = to - from;
  const picked: number[] = [];
  if (size >= n) {
    const start = Math.floor(Math.random() * size);
    for (let i = 0; i < size && picked.length < n; i++) {
      const port = from + ((start + i) % size);
      if (handedOut.has(port) || options.avoid?.has(port)) continue;
      if (await bindable(port)) {
        picked.push(port);
        handedOut.add(port);
      }
    }
  }
  while (picked.length < n) {
    const port = await anyPort();
    if (picked.includes(port) || options.avoid?.has(port)) continue;
    picked.push(port);
  }
  // Keep the memory small: only the newest hand-outs matter.
  if (handedOut.size > 4096) for (const port of [...handedOut].slice(0, handedOut.size - 2048)) handedOut.delete(port);
  return picked;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function anyPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
