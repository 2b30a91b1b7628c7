/**
 * The write-ahead log check (backends/local/leveldb-log.ts) on logs built byte by byte as LevelDB
 * writes them (leveldb/doc/log_format.md): what a crash can leave is accepted, damage is not.
 */
import { describe, expect, it } from 'vitest';
import { crc32c, logDamage } from '../../backends/local/leveldb-log.ts';

const mask = (crc: number) => (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;

/** One physical record: masked CRC-32C of type and data, length, type, data. */
function record(type: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(7 + data.length);
  out[6] = type;
  out.set(data, 7);
  const view = new DataView(out.buffer);
  view.setUint16(4, data.length, true);
  view.setUint32(0, mask(crc32c(out, 6)), true);
  return out;
}

const join = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const data = (n: number, fill = 7) => new Uint8Array(n).fill(fill);

describe('logDamage', () => {
  it('computes CRC-32C as LevelDB does (its crc32c test vector)', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
  });

  it('accepts whole records, an empty log, and a block tail of zeros', () => {
    expect(logDamage(new Uint8Array(0))).toBeUndefined();
    expect(logDamage(join(record(1, data(10)), record(1, data(20))))).toBeUndefined();
    // A first record filling a block to 3 bytes short of its end: the writer pads those with zeros.
    const first = record(1, data(32_768 - 7 - 3));
    expect(logDamage(join(first, new Uint8Array(3), record(1, data(5))))).toBeUndefined();
  });

  it('accepts a record whose last fragments never came (a kill between fragments: never acknowledged)', () => {
    expect(logDamage(join(record(1, data(10)), record(2, data(40))))).toBeUndefined();
  });

  it('refuses a cut record, a cut header, a flipped byte, a bad trailer and fragments out of order', () => {
    const whole = join(record(1, data(10)), record(1, data(30)));
    expect(logDamage(whole.subarray(0, whole.length - 5))).toMatch(/truncated: its record at byte 17/);
    expect(logDamage(whole.subarray(0, 20))).toMatch(/truncated: it ends 3 bytes into a record header/);
    const flipped = whole.slice();
    flipped[30] = (flipped[30] as number) ^ 1;
    expect(logDamage(flipped)).toMatch(/corrupted at byte 17 \(a record whose checksum/);
    const first = record(1, data(32_768 - 7 - 3));
    expect(logDamage(join(first, new Uint8Array([0, 1, 0])))).toMatch(/block trailer/);
    expect(logDamage(record(4, data(3)))).toMatch(/fragments out of order/);
    expect(logDamage(join(record(2, data(3)), record(1, data(3))))).toMatch(/fragments out of order/);
  });
});
