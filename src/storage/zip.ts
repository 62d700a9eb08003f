// Reading the zip files users bring (Keras 3's `.keras`, numpy's `.npz`) without trusting them: only
// the entries asked for are inflated, each with a limit enforced while it inflates (a zip bomb stops
// at the limit, not at the machine's memory), and the archive's claims are checked against its bytes.
import { constants, crc32, inflateRawSync } from 'node:zlib';
import { formatBytes } from '../shared/format.js';

/** Raised for a zip that is broken or breaks a limit; the message says what, for "<file> … (message)". */
export class BadZip extends Error {}

/** One entry of the central directory. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated; others are refused when read. */
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  localHeader: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** The end record is within the last 22 + 65,535 (longest comment) bytes. */
const EOCD_SEARCH = 22 + 0xffff;

/** The central directory of `bytes`, by entry name. */
export function zipEntries(bytes: Uint8Array): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - EOCD_SEARCH); at--) {
    if (view.getUint32(at, true) === EOCD) {
      end = at;
      break;
    }
  }
  if (end < 0) throw new BadZip('it is not a readable zip (no end of central directory)');
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  const entries = new Map<string, ZipEntry>();
  for (let i = 0; i < count; i++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL) throw new BadZip('it is not a readable zip (broken central directory)');
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
    entries.set(name, {
      name,
      method: view.getUint16(at + 10, true),
      crc: view.getUint32(at + 16, true),
      compressedSize: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      localHeader: view.getUint32(at + 42, true),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/**
 * The content of `entry`, refused beyond `limit` bytes: checked against the size the archive
 * declares, then enforced while inflating (zlib stops at `maxOutputLength`), then the CRC.
 */
export function readZipEntry(bytes: Uint8Array, entry: ZipEntry, limit: number): Uint8Array {
  const tooLarge = () => new BadZip(`its ${entry.name} inflates to more than ${formatBytes(limit)}, the most seq-tag reads`);
  if (entry.size > limit) throw tooLarge();
  const raw = compressedBytes(bytes, entry);
  let data: Uint8Array;
  if (entry.method === 0) data = raw;
  else if (entry.method === 8) {
    try {
      data = inflateRawSync(raw, { maxOutputLength: limit });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw tooLarge();
      throw new BadZip(`it is not a readable zip (${entry.name}: ${(err as Error).message})`);
    }
  } else throw unsupportedMethod(entry);
  if (data.length !== entry.size || crc32(data) >>> 0 !== entry.crc) throw new BadZip(`it is not a readable zip (${entry.name} fails its size or CRC check)`);
  return data;
}

/** The bytes of `entry` as stored in the archive (compressed or not), checked to lie inside it. */
function compressedBytes(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = entry.localHeader;
  if (at + 30 > bytes.length || view.getUint32(at, true) !== LOCAL) throw new BadZip(`it is not a readable zip (${entry.name} has no local header)`);
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  if (start + entry.compressedSize > bytes.length) throw new BadZip(`it is not a readable zip (${entry.name} is cut short)`);
  return bytes.subarray(start, start + entry.compressedSize);
}

const unsupportedMethod = (entry: ZipEntry) =>
  new BadZip(`its ${entry.name} is compressed with method ${entry.method}; seq-tag reads stored and deflated entries`);

/** Compressed bytes inflated to read an entry's start: deflate expands at most ~1,032×, so this is at most ~4 MB. */
const PEEK_INPUT = 4096;

/**
 * The first bytes of `entry`'s content (at most its first ~4 MB, often fewer), without inflating
 * the rest: enough to read a header and count what the whole entry will become before reading it.
 */
export function peekZipEntry(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  const raw = compressedBytes(bytes, entry);
  if (entry.method === 0) return raw.subarray(0, PEEK_INPUT);
  if (entry.method !== 8) throw unsupportedMethod(entry);
  try {
    // A sync flush returns what the given input inflates to, without asking for the end of the stream.
    return inflateRawSync(raw.subarray(0, PEEK_INPUT), { finishFlush: constants.Z_SYNC_FLUSH });
  } catch (err) {
    throw new BadZip(`it is not a readable zip (${entry.name}: ${(err as Error).message})`);
  }
}
