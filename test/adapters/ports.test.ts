/**
 * Spare ports come from below the ephemeral range, where no outgoing connection or `listen(0)` of
 * another program can take them between the pick and the bind, and skip the ones in use or avoided.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ephemeralPorts, SPARE_PORTS_FROM, sparePorts } from '../../adapters/local/ports.ts';

const held: net.Server[] = [];
/** Handed out by the tests before: this process never hands them out again. */
const given = new Set<number>();

/** The first port of a run of `length` free ports in [from, to) of which none was handed out before. */
async function runOf(length: number, from: number, to: number): Promise<number> {
  for (;;) {
    const [first] = await sparePorts(1, { from, to });
    const base = first as number;
    given.add(base);
    if (Array.from({ length: length - 1 }, (_, i) => base + 1 + i).every((p) => !given.has(p) && p < to)) return base;
  }
}
afterEach(async () => {
  await Promise.all(held.splice(0).map((s) => new Promise((ok) => s.close(ok))));
});

function hold(port: number): Promise<void> {
  return new Promise((ok, fail) => {
    const server = net.createServer();
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      held.push(server);
      ok();
    });
  });
}

describe('sparePorts', () => {
  it('gives distinct ports below the ephemeral range, each free to bind', async () => {
    const { low } = ephemeralPorts();
    const ports = await sparePorts(12);
    for (const port of ports) given.add(port);
    expect(new Set(ports).size).toBe(12);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(SPARE_PORTS_FROM);
      expect(port).toBeLessThan(low);
    }
    // Free indeed: every one binds.
    for (const port of ports) await hold(port);
  });

  it('skips a port another program listens on, and the ones it is told to avoid', async () => {
    // A range of three: the first is held, the second avoided, so only the third is left.
    const base = await runOf(3, 24_000, 28_000);
    await hold(base);
    expect(await sparePorts(1, { from: base, to: base + 3, avoid: new Set([base + 1]) })).toEqual([base + 2]);
  });

  it('does not hand out a port twice in one process, even before anything binds it', async () => {
    const from = await runOf(2, 29_000, 29_500);
    const [b] = await sparePorts(1, { from, to: from + 2 });
    expect(b).toBe(from + 1);
  });

  it('falls back to listen(0) ports when the range has too few', async () => {
    const ports = await sparePorts(3, { from: 30_000, to: 30_001 });
    expect(new Set(ports).size).toBe(3);
    expect(ports.every((p) => p > 1024)).toBe(true);
  });
});
