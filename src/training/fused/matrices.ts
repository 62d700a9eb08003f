import { growTo, kernels, LAYOUT_BASE, newMemory, type LstmKernels } from './wasm/instance.js';

/**
 * Where the text tagger's arrays live and how their matrix products run, in one interface for
 * both arithmetics: float64 JavaScript (the reference) or float32 WebAssembly SIMD, whose arrays
 * are views of one WebAssembly memory and whose products run tools/wasm/assembly/lstm.ts's gemm.
 */
export type Floats = Float64Array | Float32Array;

/**
 * C[m×n] (+)= A·B. A(i, q) = a[aOff + i·ars + q·acs], so a transposed A costs nothing; B is [k×n]
 * with rows at bOff + q·ldb, C [m×n] with rows at cOff + i·ldc.
 */
export type Gemm = (
  c: Floats,
  cOff: number,
  ldc: number,
  a: Floats,
  aOff: number,
  ars: number,
  acs: number,
  b: Floats,
  bOff: number,
  ldb: number,
  m: number,
  n: number,
  k: number,
  accumulate: boolean,
) => void;

export interface Matrices {
  readonly precision: 'float32' | 'float64';
  /** n zeros in this arithmetic's storage (only such arrays go into `gemm`). */
  alloc(n: number): Floats;
  gemm: Gemm;
  /** The float32 arrays' memory as it is now (a view made before it grew holds the shorter buffer of then). */
  readonly buffer?: ArrayBufferLike;
}

/** The float64 products: each row of C a sum of rows of B, four at a time (one pass over C's row per four). */
const gemm64: Gemm = (c, cOff, ldc, a, aOff, ars, acs, b, bOff, ldb, m, n, k, accumulate) => {
  for (let i = 0; i < m; i++) {
    const ci = cOff + i * ldc;
    if (!accumulate) c.fill(0, ci, ci + n);
    const ai = aOff + i * ars;
    let q = 0;
    for (; q + 3 < k; q += 4) {
      const v0 = a[ai + q * acs];
      const v1 = a[ai + (q + 1) * acs];
      const v2 = a[ai + (q + 2) * acs];
      const v3 = a[ai + (q + 3) * acs];
      const b0 = bOff + q * ldb;
      const b1 = b0 + ldb;
      const b2 = b1 + ldb;
      const b3 = b2 + ldb;
      for (let j = 0; j < n; j++) c[ci + j] += v0 * b[b0 + j] + v1 * b[b1 + j] + v2 * b[b2 + j] + v3 * b[b3 + j];
    }
    for (; q < k; q++) {
      const v = a[ai + q * acs];
      const bq = bOff + q * ldb;
      for (let j = 0; j < n; j++) c[ci + j] += v * b[bq + j];
    }
  }
};

export const FLOAT64: Matrices = { precision: 'float64', alloc: (n) => new Float64Array(n), gemm: gemm64 };

/**
 * Float32 arrays in one WebAssembly memory, handed out from the bottom up (a tagger allocates as its
 * batches grow and keeps what it has; the memory goes with the tagger). The memory is shared, so a
 * view made before the memory grew still sees its numbers.
 */
export class WasmMatrices implements Matrices {
  readonly precision = 'float32';
  private readonly memory = newMemory();
  private readonly kernels: LstmKernels = kernels(this.memory);
  private top = LAYOUT_BASE;

  get buffer(): ArrayBufferLike {
    return this.memory.buffer;
  }

  alloc(n: number): Float32Array {
    const bytes = Math.ceil((4 * n) / 16) * 16;
    if (!growTo(this.memory, this.top + bytes))
      throw new RangeError(`the fused tagger needs ${Math.ceil((this.top + bytes) / 2 ** 20)} MiB of WebAssembly memory, more than its 4 GiB`);
    const view = new Float32Array(this.memory.buffer, this.top, n);
    this.top += bytes;
    return view;
  }

  readonly gemm: Gemm = (c, cOff, ldc, a, aOff, ars, acs, b, bOff, ldb, m, n, k, accumulate) => {
    if (m === 0 || n === 0) return;
    this.kernels.gemm(c.byteOffset + 4 * cOff, ldc, a.byteOffset + 4 * aOff, ars, acs, b.byteOffset + 4 * bOff, ldb, m, n, k, accumulate ? 1 : 0);
  };
}

/** The arithmetic of a tagger: float64 JavaScript, or a fresh float32 WebAssembly memory. */
export function matricesFor(precision: 'float32' | 'float64'): Matrices {
  return precision === 'float64' ? FLOAT64 : new WasmMatrices();
}

/** dst [n×m] = srcᵀ, src [m×n] (row-major both). */
export function transposeInto(dst: Floats, src: Floats, m: number, n: number): void {
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) dst[j * m + i] = src[i * n + j];
}
