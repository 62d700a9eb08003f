// HDF5, as much of it as Keras's weight files need. Reading goes through jsfive (pure JavaScript, read-only);
// writing is done here: float32 datasets in groups, in the format HDF5 1.8+ reads (superblock v2,
// version-2 object headers, compact links), which h5py and Keras load (scripts/keras_exports.py).
import * as jsfive from 'jsfive';

/** A float array read from or written to an HDF5 dataset, with its shape. */
export interface Array32 {
  shape: number[];
  values: Float32Array;
}

/** Read access to one HDF5 file held in memory. */
export interface Hdf5Reader {
  /** Names of a group's children, or undefined when `path` is not a group. */
  keys(path: string): string[] | undefined;
  /** A float dataset, or undefined when `path` is not a dataset. */
  dataset(path: string): Array32 | undefined;
  /** An attribute (strings stay strings, string arrays arrays), or undefined. */
  attribute(path: string, name: string): unknown;
}

interface JsfiveNode {
  keys?: string[];
  shape?: number[];
  value?: ArrayLike<number>;
  attrs: Record<string, unknown>;
}

/** Opens `bytes` as HDF5 and runs `read` on it. */
export async function readHdf5<T>(bytes: Uint8Array, read: (file: Hdf5Reader) => T): Promise<T> {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const file = new jsfive.File(buffer, 'model.h5') as unknown as JsfiveNode & { get(path: string): JsfiveNode | null };
  const node = (path: string): JsfiveNode | undefined => {
    if (path === '') return file;
    try {
      return file.get(path) ?? undefined;
    } catch {
      return undefined; // jsfive throws for a missing path
    }
  };
  return read({
    keys: (path) => {
      const n = node(path);
      return n && n.shape === undefined && Array.isArray(n.keys) ? n.keys : undefined;
    },
    dataset: (path) => {
      const n = node(path);
      return n?.shape !== undefined && n.value ? { shape: [...n.shape], values: Float32Array.from(n.value) } : undefined;
    },
    attribute: (path, name) => withoutPadding(node(path)?.attrs[name]),
  });
}

/** Keras 2 writes names as fixed-length strings: HDF5 hands them back NUL-padded ("lstm/bias:0\0\0"). */
function withoutPadding(value: unknown): unknown {
  const strip = (v: unknown) => (typeof v === 'string' ? v.replace(/\0+$/, '') : v);
  return Array.isArray(value) ? value.map(strip) : strip(value);
}

/** An attribute's value: a string, or a list of strings (fixed-length UTF-8, as h5py writes NumPy's bytes arrays). */
export type Hdf5Attribute = string | string[];

/**
 * What to write: groups and float32 datasets, by path ("layers/lstm/cell/vars/0"); parents are
 * created as needed. `attributes` go on groups ("" is the root).
 */
export interface Hdf5Content {
  groups: string[];
  datasets: { path: string; data: Array32 }[];
  attributes?: { path: string; name: string; value: Hdf5Attribute }[];
}

const UNDEFINED_ADDRESS = 0xffffffffffffffffn;
const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** HDF5's checksum of metadata: Bob Jenkins's lookup3 `hashlittle`, byte by byte as H5_checksum_lookup3 computes it. */
export function lookup3(data: Uint8Array, initval = 0): number {
  let a = (0xdeadbeef + data.length + initval) >>> 0;
  let b = a;
  let c = a;
  const rot = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  const word = (at: number, n: number) => {
    let w = 0;
    for (let i = Math.min(n, 4) - 1; i >= 0; i--) w = (w * 256 + data[at + i]) >>> 0;
    return w;
  };
  let k = 0;
  let length = data.length;
  for (; length > 12; length -= 12, k += 12) {
    a = (a + word(k, 4)) >>> 0;
    b = (b + word(k + 4, 4)) >>> 0;
    c = (c + word(k + 8, 4)) >>> 0;
    a = (a - c) >>> 0;
    a = (a ^ rot(c, 4)) >>> 0;
    c = (c + b) >>> 0; // prettier-ignore
    b = (b - a) >>> 0;
    b = (b ^ rot(a, 6)) >>> 0;
    a = (a + c) >>> 0; // prettier-ignore
    c = (c - b) >>> 0;
    c = (c ^ rot(b, 8)) >>> 0;
    b = (b + a) >>> 0; // prettier-ignore
    a = (a - c) >>> 0;
    a = (a ^ rot(c, 16)) >>> 0;
    c = (c + b) >>> 0; // prettier-ignore
    b = (b - a) >>> 0;
    b = (b ^ rot(a, 19)) >>> 0;
    a = (a + c) >>> 0; // prettier-ignore
    c = (c - b) >>> 0;
    c = (c ^ rot(b, 4)) >>> 0;
    b = (b + a) >>> 0; // prettier-ignore
  }
  if (length === 0) return c;
  a = (a + word(k, Math.min(length, 4))) >>> 0;
  if (length > 4) b = (b + word(k + 4, Math.min(length - 4, 4))) >>> 0;
  if (length > 8) c = (c + word(k + 8, length - 8)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 14)) >>> 0; // prettier-ignore
  a = (a ^ c) >>> 0;
  a = (a - rot(c, 11)) >>> 0; // prettier-ignore
  b = (b ^ a) >>> 0;
  b = (b - rot(a, 25)) >>> 0; // prettier-ignore
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 16)) >>> 0; // prettier-ignore
  a = (a ^ c) >>> 0;
  a = (a - rot(c, 4)) >>> 0; // prettier-ignore
  b = (b ^ a) >>> 0;
  b = (b - rot(a, 14)) >>> 0; // prettier-ignore
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 24)) >>> 0; // prettier-ignore
  return c;
}

/** A little-endian byte buffer that grows. */
class Bytes {
  private parts: number[] = [];
  u8(...values: number[]): this {
    this.parts.push(...values);
    return this;
  }
  u16(v: number): this {
    return this.u8(v & 0xff, (v >>> 8) & 0xff);
  }
  u32(v: number): this {
    return this.u8(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  u64(v: number | bigint): this {
    const big = BigInt(v);
    for (let i = 0n; i < 8n; i++) this.u8(Number((big >> (8n * i)) & 0xffn));
    return this;
  }
  bytes(data: ArrayLike<number>): this {
    for (let i = 0; i < data.length; i++) this.parts.push(data[i]);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** An object header (version 2) holding `messages` ([type, body]), with its checksum. */
function objectHeader(messages: [number, Uint8Array][]): Uint8Array {
  const body = new Bytes();
  // Message flags: 1 = constant (the datatype, the fill value), as the library writes them.
  for (const [type, data] of messages) {
    if (data.length > 0xffff) throw new RangeError(`an HDF5 header message of ${data.length} bytes (at most 65,535 in a compact object header)`);
    body
      .u8(type)
      .u16(data.length)
      .u8(type === 3 || type === 5 ? 1 : 0)
      .bytes(data);
  }
  const header = new Bytes().bytes([0x4f, 0x48, 0x44, 0x52]).u8(2, 0x02).u32(body.length).bytes(body.done()); // "OHDR", v2, 4-byte chunk size
  const bytes = header.done();
  return new Bytes().bytes(bytes).u32(lookup3(bytes)).done();
}

/** A new-style group: link info (compact, no heap), group info, one hard link per child, then its attributes. */
function groupHeader(children: [string, bigint][], attributes: [string, Hdf5Attribute][] = []): Uint8Array {
  const linkInfo = new Bytes().u8(0, 0).u64(UNDEFINED_ADDRESS).u64(UNDEFINED_ADDRESS).done();
  const groupInfo = new Bytes().u8(0, 0).done();
  const links = children.map(([name, address]): [number, Uint8Array] => {
    const utf8 = new TextEncoder().encode(name);
    if (utf8.length > 255) throw new Error(`HDF5 link name too long: ${name}`);
    return [6, new Bytes().u8(1, 0, utf8.length).bytes(utf8).u64(address).done()];
  });
  const attrs = attributes.map(([name, value]): [number, Uint8Array] => [12, attributeMessage(name, value)]);
  return objectHeader([[2, linkInfo], [10, groupInfo], ...links, ...attrs]);
}

/** A contiguous little-endian float32 dataset at `address` (its `size` bytes written there). */
function datasetHeader(shape: number[], address: bigint, size: number): Uint8Array {
  const dataspace = new Bytes().u8(2, shape.length, 0, shape.length ? 1 : 0);
  for (const d of shape) dataspace.u64(d);
  // IEEE float, version 1, little-endian, mantissa normalised with an implied msb, sign at bit 31; size 4.
  const datatype = new Bytes().u8(0x11, 0x20, 0x1f, 0x00).u32(4).u16(0).u16(32).u8(23, 8, 0, 23).u32(127);
  const fillValue = new Bytes().u8(3, 0x0a).done(); // v3: allocated late, written if set, none defined
  const layout = new Bytes()
    .u8(3, 1)
    .u64(size ? address : UNDEFINED_ADDRESS)
    .u64(size);
  return objectHeader([
    [1, dataspace.done()],
    [3, datatype.done()],
    [5, fillValue],
    [8, layout.done()],
  ]);
}

/**
 * An attribute message (version 3): a fixed-length, null-padded UTF-8 string datatype as long as the
 * longest value, over a scalar dataspace (a string) or a simple one (a list; an empty list is one
 * of no elements of a 1-byte string).
 */
function attributeMessage(name: string, value: Hdf5Attribute): Uint8Array {
  const utf8 = new TextEncoder();
  const values = (typeof value === 'string' ? [value] : value).map((v) => utf8.encode(v));
  const size = Math.max(1, ...values.map((v) => v.length));
  const datatype = new Bytes().u8(0x13, 0x11, 0, 0).u32(size).done(); // string, version 1; null pad, UTF-8
  const dataspace = typeof value === 'string' ? new Bytes().u8(2, 0, 0, 0).done() : new Bytes().u8(2, 1, 0, 1).u64(values.length).done();
  const data = new Uint8Array(values.length * size);
  values.forEach((v, i) => data.set(v, i * size));
  const nameBytes = utf8.encode(`${name}\0`);
  return new Bytes()
    .u8(3, 0)
    .u16(nameBytes.length)
    .u16(datatype.length)
    .u16(dataspace.length)
    .u8(1)
    .bytes(nameBytes)
    .bytes(datatype)
    .bytes(dataspace)
    .bytes(data)
    .done();
}

interface Node {
  children: Map<string, Node>;
  data?: Array32;
  attributes: [string, Hdf5Attribute][];
}

/** Builds an HDF5 file in memory: children are written before their parents, so every address is known when it is written. */
export async function writeHdf5(content: Hdf5Content): Promise<Uint8Array> {
  const root: Node = { children: new Map(), attributes: [] };
  const at = (path: string): Node =>
    path
      .split('/')
      .filter(Boolean)
      .reduce((node, name) => {
        if (!node.children.has(name)) node.children.set(name, { children: new Map(), attributes: [] });
        return node.children.get(name)!;
      }, root);
  for (const group of content.groups) at(group);
  for (const { path, data } of content.datasets) at(path).data = data;
  for (const { path, name, value } of content.attributes ?? []) at(path).attributes.push([name, value]);

  const SUPERBLOCK_SIZE = 48;
  const chunks: Uint8Array[] = [];
  let offset = SUPERBLOCK_SIZE;
  const append = (bytes: Uint8Array): bigint => {
    chunks.push(bytes);
    offset += bytes.length;
    return BigInt(offset - bytes.length);
  };
  const write = (node: Node): bigint => {
    if (node.data) {
      const raw = new Uint8Array(Float32Array.from(node.data.values).buffer);
      const address = raw.length ? append(raw) : UNDEFINED_ADDRESS;
      return append(datasetHeader(node.data.shape, address, raw.length));
    }
    const links = [...node.children].map(([name, child]): [string, bigint] => [name, write(child)]);
    return append(groupHeader(links, node.attributes));
  };
  const rootAddress = write(root);
  const superblock = new Bytes().bytes(SIGNATURE).u8(2, 8, 8, 0).u64(0).u64(UNDEFINED_ADDRESS).u64(offset).u64(rootAddress).done();
  const file = new Uint8Array(offset);
  file.set(new Bytes().bytes(superblock).u32(lookup3(superblock)).done(), 0);
  let position = SUPERBLOCK_SIZE;
  for (const chunk of chunks) {
    file.set(chunk, position);
    position += chunk.length;
  }
  return file;
}
