/** A `.npy` file as numpy writes it (version 1.0, the header dict padded to 64 bytes); `header` overrides the dict. */
export function npyBytes(dtype: string, shape: number[], data: Uint8Array, header?: string): Uint8Array {
  let dict = header ?? `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  dict += ' '.repeat(63 - ((10 + dict.length) % 64)) + '\n';
  const out = new Uint8Array(10 + dict.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, dict.length & 0xff, dict.length >> 8]);
  out.set(new TextEncoder().encode(dict), 10);
  out.set(data, 10 + dict.length);
  return out;
}
