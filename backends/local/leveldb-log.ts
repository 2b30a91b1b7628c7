/**
 * A check of LevelDB's write-ahead log (`<n>.log` in the ledger directory), before LevelDB opens it.
 * LevelDB replays the log at open and, without paranoid checks, drops a record it cannot read
 * (a file cut short, a flipped byte) and everything after it *without a word*: the ledger's latest
 * writes (a release's end, a freeze) would be gone while every command went on as if nothing
 * happened. So the log's framing is read here first: 32 KiB blocks of records, each with a 7-byte
 * header (masked CRC-32C of its type and data, its length, its type) and the block's tail under 7
 * bytes zero-filled (leveldb/doc/log_format.md).
 *
 * One state is accepted though it reads as incomplete: a record split over blocks whose last
 * fragments never came. LevelDB writes (and flushes) a record fragment by fragment, so a process
 * killed between two of them leaves exactly that, and that write was never acknowledged (dynalite
 * answers once the whole write returns): nothing that anyone was told was written is lost.
 */
import { readFile } from 'node:fs/promises';

const BLOCK_SIZE = 32_768;
const HEADER_SIZE = 7;
const FULL = 1;
const FIRST = 2;
const MIDDLE = 3;
const LAST = 4;

/** CRC-32C (Castagnoli), as LevelDB's crc32c.cc computes it. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

export function crc32c(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = (CRC_TABLE[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** LevelDB stores CRCs masked (crc32c.h `Mask`), so a CRC of data holding CRCs is not confused with them. */
const mask = (crc: number) => (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;

/** What is wrong with the log's bytes (undefined: every record LevelDB would replay is whole). */
export function logDamage(bytes: Uint8Array): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  let inRecord = false;
  while (offset < bytes.length) {
    const blockLeft = BLOCK_SIZE - (offset % BLOCK_SIZE);
    if (blockLeft < HEADER_SIZE) {
      // The writer zero-fills a block's tail too short for a header.
      const tailEnd = Math.min(offset + blockLeft, bytes.length);
      for (let i = offset; i < tailEnd; i++) {
        if (bytes[i] !== 0) return `it is corrupted at byte ${i} (a block trailer that is not zero)`;
      }
      offset += blockLeft;
      continue;
    }
    if (bytes.length - offset < HEADER_SIZE) {
      return `it is truncated: it ends ${bytes.length - offset} bytes into a record header at byte ${offset}`;
    }
    const stored = view.getUint32(offset, true);
    const length = view.getUint16(offset + 4, true);
    const type = bytes[offset + 6] as number;
    if (HEADER_SIZE + length > blockLeft || type < FULL || type > LAST) {
      return `it is corrupted at byte ${offset} (a record header LevelDB cannot read)`;
    }
    const end = offset + HEADER_SIZE + length;
    if (end > bytes.length) {
      return `it is truncated: its record at byte ${offset} needs ${end - bytes.length} bytes more than the file holds`;
    }
    if (mask(crc32c(bytes, offset + 6, end)) !== stored) {
      return `it is corrupted at byte ${offset} (a record whose checksum does not match)`;
    }
    const starts = type === FULL || type === FIRST;
    if (starts === inRecord) return `it is corrupted at byte ${offset} (record fragments out of order)`;
    inRecord = type === FIRST || type === MIDDLE;
    offset = end;
  }
  return undefined;
}

/** The log file's damage, as `logDamage` says, read from disk. */
export async function logFileDamage(file: string): Promise<string | undefined> {
  return logDamage(await readFile(file));
}
