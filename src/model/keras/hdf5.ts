// HDF5 through h5wasm (the HDF5 C library compiled to WebAssembly), on its in-memory file system:
// nothing touches the disk but the bytes seq-tag reads and writes itself. Loaded on first use, so
// commands that never see a Keras file do not pay for it.
import type * as H5 from 'h5wasm';

let module: Promise<typeof H5> | undefined;
let files = 0;

async function h5wasm(): Promise<typeof H5> {
  module ??= import('h5wasm').then(async (m) => {
    await m.ready;
    return m;
  });
  return module;
}

/** A float array read from an HDF5 dataset, with its shape. */
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
  /** An attribute as JSON-compatible data (strings stay strings), or undefined. */
  attribute(path: string, name: string): unknown;
}

/** Opens `bytes` as HDF5, runs `read` on it, and frees the in-memory copy whatever happens. */
export async function readHdf5<T>(bytes: Uint8Array, read: (file: Hdf5Reader) => T): Promise<T> {
  const h5 = await h5wasm();
  const name = `/seq-tag-${process.pid}-${files++}.h5`;
  h5.FS!.writeFile(name, bytes);
  let file: H5.File | undefined;
  try {
    file = new h5.File(name, 'r');
    const root = file;
    const entity = (path: string) => (path === '' ? root : root.get(path));
    return read({
      keys: (path) => {
        const e = entity(path);
        return e instanceof h5.Group ? e.keys() : undefined;
      },
      dataset: (path) => {
        const e = entity(path);
        if (!(e instanceof h5.Dataset)) return undefined;
        const value = e.value;
        const values = value instanceof Float32Array ? value : Float32Array.from(value as ArrayLike<number>);
        return { shape: e.shape ?? [], values };
      },
      attribute: (path, attr) => {
        const e = entity(path);
        if (!(e instanceof h5.Group || e instanceof h5.Dataset) || !(attr in e.attrs)) return undefined;
        return e.get_attribute(attr, true);
      },
    });
  } finally {
    file?.close();
    h5.FS!.unlink(name);
  }
}

/** What to write: groups (names ending in `/`), float datasets and string attributes, by path. */
export interface Hdf5Content {
  groups: string[];
  datasets: { path: string; data: Array32 }[];
  attributes?: { path: string; name: string; value: string }[];
}

/** Builds an HDF5 file in memory and returns its bytes. */
export async function writeHdf5(content: Hdf5Content): Promise<Uint8Array> {
  const h5 = await h5wasm();
  const name = `/seq-tag-${process.pid}-${files++}.h5`;
  try {
    const file = new h5.File(name, 'w');
    try {
      for (const group of content.groups) file.create_group(group);
      for (const { path, data } of content.datasets) file.create_dataset({ name: path, data: data.values, shape: data.shape, dtype: '<f' });
      for (const { path, name: attr, value } of content.attributes ?? []) (path === '' ? file : (file.get(path) as H5.Group)).create_attribute(attr, value);
    } finally {
      file.close();
    }
    return h5.FS!.readFile(name);
  } finally {
    if (h5.FS!.analyzePath(name).exists) h5.FS!.unlink(name);
  }
}
