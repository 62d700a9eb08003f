// numpy's `.npz` (what np.savez and np.savez_compressed write: a zip of `.npy` arrays), read without
// trusting it: entries inflate within a limit, headers are parsed as data (never evaluated), and
// each array's byte count must be what its dtype and shape say.
import { LIMITS } from '../storage/limits.js';
import { BadZip, readZipEntry, zipEntries } from '../storage/zip.js';

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

/** The header dict of a .npy ("{'descr': '<f4', 'fortran_order': False, 'shape': (600, 24), }"), read by pattern. */
function parseHeader(header: string, name: string): { dtype: string; shape: number[] } {
  const descr = /'descr':\s*'([<>|=]?)([a-z]\d+)'/.exec(header);
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
  return { dtype: `${descr[1] === '>' ? '>' : '<'}${descr[2]}`, shape: dims };
}

/** One `.npy` file's bytes as an array. */
export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || !magic.every((b, i) => bytes[i] === b)) throw new BadNpz(`its ${name} is not a .npy array`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = (major === 1 ? 10 : 12) + headerLength;
  if (start > bytes.length) throw new BadNpz(`its ${name} is cut short`);
  const { dtype, shape } = parseHeader(new TextDecoder().decode(bytes.subarray(major === 1 ? 10 : 12, start)), name);
  const size = Number(dtype.slice(2));
  const count = shape.reduce((a, b) => a * b, 1);
  if (count * size !== bytes.length - start) throw new BadNpz(`its ${name} has ${bytes.length - start} bytes of data, not the ${count * size} its shape says`);
  const read = READERS[dtype.slice(1)];
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = read(view, start + i * size, dtype[0] === '<');
  return { shape, values, dtype, integer: /^[<>][iub]/.test(dtype) };
}

/** The arrays of an `.npz` held in memory, by name (without ".npy"); only `wanted` are inflated. */
export function readNpz(bytes: Uint8Array, wanted: string[]): Map<string, NpyArray> {
  const arrays = new Map<string, NpyArray>();
  try {
    const entries = zipEntries(bytes);
    for (const name of wanted) {
      const entry = entries.get(`${name}.npy`);
      if (entry) arrays.set(name, parseNpy(readZipEntry(bytes, entry, LIMITS.entryBytes), `${name}.npy`));
    }
  } catch (err) {
    if (err instanceof BadZip) throw new BadNpz(err.message);
    throw err;
  }
  return arrays;
}
