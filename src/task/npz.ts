// numpy's `.npz` (what np.savez and np.savez_compressed write: a zip of `.npy` arrays), read without
// trusting it: entries inflate within a limit, headers are parsed as data (never evaluated), and
// each array's byte count must be what its dtype and shape say.
import { LIMITS } from '../shared/limits.js';
import { BadZip, peekZipEntry, readZipEntry, zipEntries } from '../storage/zip.js';

/** One array: its shape and its values as float32 (what the model computes in; integer ids are exact up to 2^24). */
export interface NpyArray {
  shape: number[];
  values: Float32Array;
  /** numpy's dtype string, e.g. "<f4", "<i8". */
  dtype: string;
  integer: boolean;
}

/** Raised for a file that is not a readable .npz; the message completes "<file> is not a readable .npz (…)". */
export class BadNpz extends Error {}

/** Readers of the dtypes np.savez writes for numbers and booleans, by kind and size. */
const READERS: Record<string, (view: DataView, at: number, little: boolean) => number> = {
  f4: (v, at, le) => v.getFloat32(at, le),
  f8: (v, at, le) => v.getFloat64(at, le),
  f2: (v, at, le) => halfToFloat(v.getUint16(at, le)),
  i1: (v, at) => v.getInt8(at),
  u1: (v, at) => v.getUint8(at),
  b1: (v, at) => v.getUint8(at),
  i2: (v, at, le) => v.getInt16(at, le),
  u2: (v, at, le) => v.getUint16(at, le),
  i4: (v, at, le) => v.getInt32(at, le),
  u4: (v, at, le) => v.getUint32(at, le),
  i8: (v, at, le) => Number(v.getBigInt64(at, le)),
  u8: (v, at, le) => Number(v.getBigUint64(at, le)),
};

function halfToFloat(h: number): number {
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** numpy's own cap on a header it reads (np.load's max_header_size). */
const MAX_HEADER = 10000;

/** What a `.npy` header declares: the dtype, the shape, the element count and where the data starts. */
export interface NpyHeader {
  dtype: string;
  shape: number[];
  count: number;
  /** Bytes before the data: magic, version, header length and the header. */
  dataStart: number;
}

/** Bytes per element of a header's dtype ("<f4" → 4). */
export const itemSize = (header: NpyHeader): number => Number(header.dtype.slice(2));

/** The header dict ("{'descr': '<f4', 'fortran_order': False, 'shape': (600, 24), }"), read by pattern, never evaluated. */
function parseHeader(header: string, name: string): { dtype: string; shape: number[] } {
  if (/'descr':\s*'[<>|=]?O/.test(header)) throw new BadNpz(`its ${name} holds Python objects (a pickle); seq-tag never unpickles: save numeric arrays`);
  if (/'descr':\s*\[/.test(header)) throw new BadNpz(`its ${name} is a structured array (named fields); save one numeric array per name`);
  const descr = /'descr':\s*'([<>|=]?)([^']*)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([\d,\s]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new BadNpz(`its ${name} has a header numpy did not write`);
  if (!READERS[descr[2]]) throw new BadNpz(`its ${name} holds ${descr[2]} values; seq-tag reads numeric arrays`);
  if (fortran[1] === 'True') throw new BadNpz(`its ${name} is in Fortran order; save np.ascontiguousarray(...) instead`);
  const dims = shape[1]
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
    .map(Number);
  if (!dims.every(Number.isSafeInteger)) throw new BadNpz(`its ${name} declares the shape (${shape[1]}), which seq-tag cannot count`);
  return { dtype: `${descr[1] === '>' ? '>' : '<'}${descr[2]}`, shape: dims };
}

/** The header at the start of a `.npy` file (`bytes` may be only its first bytes). */
export function parseNpyHeader(bytes: Uint8Array, name: string): NpyHeader {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || !magic.every((b, i) => bytes[i] === b)) throw new BadNpz(`its ${name} is not a .npy array`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  if (major !== 1 && bytes.length < 12) throw new BadNpz(`its ${name} is cut short`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLength > MAX_HEADER) throw new BadNpz(`its ${name} has a header of ${headerLength} bytes, more than numpy's own limit of ${MAX_HEADER}`);
  const dataStart = (major === 1 ? 10 : 12) + headerLength;
  if (dataStart > bytes.length) throw new BadNpz(`its ${name} is cut short`);
  const { dtype, shape } = parseHeader(new TextDecoder().decode(bytes.subarray(major === 1 ? 10 : 12, dataStart)), name);
  return { dtype, shape, count: shape.reduce((a, b) => a * b, 1), dataStart };
}

/** One `.npy` file's bytes as an array. */
export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  const header = parseNpyHeader(bytes, name);
  const { dtype, shape, count, dataStart: start } = header;
  const size = itemSize(header);
  if (count * size !== bytes.length - start) throw new BadNpz(`its ${name} has ${bytes.length - start} bytes of data, not the ${count * size} its shape says`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = READERS[dtype.slice(1)];
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = read(view, start + i * size, dtype[0] === '<');
  return { shape, values, dtype, integer: /^[<>][iub]/.test(dtype) };
}

/** An `.npz` held in memory, whose arrays are read one at a time after their headers are known. */
export interface Npz {
  /** The header of each `wanted` array found (by name without ".npy"), read without inflating the array. */
  headers: Map<string, NpyHeader>;
  /** The array `name`, inflated and parsed (its header already checked against the entry's size). */
  read(name: string): NpyArray;
}

/**
 * Opens an `.npz`: reads the headers of the `wanted` arrays from their entries' first bytes, and
 * checks each against the size the archive declares, so that a caller can count what the arrays
 * will become in memory before any of them is inflated.
 */
export function openNpz(bytes: Uint8Array, wanted: string[]): Npz {
  const headers = new Map<string, NpyHeader>();
  const entries = npzCall(() => zipEntries(bytes));
  for (const name of wanted) {
    const entry = entries.get(`${name}.npy`);
    if (!entry) continue;
    const header = npzCall(() => parseNpyHeader(peekZipEntry(bytes, entry), `${name}.npy`));
    const dataBytes = header.count * itemSize(header);
    if (header.dataStart + dataBytes !== entry.size)
      throw new BadNpz(
        `its ${name}.npy declares ${header.shape.join(' × ') || 'one'} ${header.dtype} values (${dataBytes} bytes) in an entry of ${entry.size} bytes`,
      );
    headers.set(name, header);
  }
  return { headers, read: (name) => npzCall(() => parseNpy(readZipEntry(bytes, entries.get(`${name}.npy`)!, LIMITS.entryBytes), `${name}.npy`)) };
}

/** Runs `read`, turning a broken zip into a broken npz. */
function npzCall<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof BadZip) throw new BadNpz(err.message);
    throw err;
  }
}
