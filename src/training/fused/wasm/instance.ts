import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../../errors.js';
import { WASM_BASE64 } from './module.js';

/** The module's exports (tools/wasm/assembly/lstm.ts): pointers are byte offsets in the memory. */
export interface LstmKernels {
  lstmForward(descriptor: number): void;
  lstmBackward(descriptor: number): void;
  /** Activations of n floats at byte offset `from`, written at `to` (for the tests). */
  tanhOf(to: number, from: number, n: number): void;
  sigmoidOf(to: number, from: number, n: number): void;
  gemm(c: number, ldc: number, a: number, ars: number, acs: number, b: number, ldb: number, m: number, n: number, k: number, accumulate: number): void;
}

/** WebAssembly's 32-bit memory: 65,536 pages of 64 KiB (the module declares this maximum). */
export const MAX_PAGES = 65536;
export const PAGE_BYTES = 65536;

/** Where JavaScript's layouts in a memory start: below it, AssemblyScript's (empty) static data and stack. */
export const LAYOUT_BASE = PAGE_BYTES;

/** Grows `memory` to hold `bytes` from its start; false (nothing grown) past WebAssembly's 4 GiB. */
export function growTo(memory: WebAssembly.Memory, bytes: number): boolean {
  const pages = Math.ceil(bytes / PAGE_BYTES);
  if (pages > MAX_PAGES) return false;
  const have = memory.buffer.byteLength / PAGE_BYTES;
  if (pages > have) memory.grow(pages - have);
  return true;
}

/** A memory the module can run on, shared so a helper thread can work on it too. */
export function newMemory(): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES, shared: true });
}

let compiled: WebAssembly.Module | undefined;

/** The compiled module, once per thread (compiling takes a few milliseconds). */
export function lstmModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
  return compiled;
}

/** What --kernels accepts: `auto` takes the native build when there is one. */
export const KERNEL_CHOICES = ['auto', 'native', 'wasm'] as const;
export type KernelChoice = (typeof KERNEL_CHOICES)[number];
/** The kernels that run: the WebAssembly module, or the same functions compiled for this machine (native/kernels.cc). */
export type KernelKind = 'native' | 'wasm';

/** The native build's exports: the module's functions, each taking the memory's buffer first. */
export type NativeKernels = { [K in keyof LstmKernels]: (buffer: ArrayBufferLike, ...args: Parameters<LstmKernels[K]>) => void } & {
  /** The vector instructions it was compiled for: "AVX-512", "AVX2", "NEON" or "scalar". */
  target(): string;
  // The float64 bookkeeping around the kernels, the same bits as the JavaScript it replaces:
  /** optimizers.ts's adamStep. */
  adam(p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, step: number, scale: number, eps: number, beta1: number, beta2: number): void;
  /** directions.ts's addInto: target += the float32 arrays at byte offsets a and b (b = −1: a alone). */
  addInto(target: Float64Array, buffer: ArrayBufferLike, a: number, b: number): void;
  /** head.ts's Dense(2) pre-activations of `rows` rows of features [rows, H] into out [rows, 2]. */
  denseForward(features: Float64Array, rows: number, H: number, kernel: Float64Array, bias: Float64Array, out: Float64Array): void;
  /** head.ts's way back through the Dense(2) head from da [rows, 2]. */
  denseBackward(
    features: Float64Array,
    da: Float64Array,
    rows: number,
    H: number,
    kernel: Float64Array,
    gKernel: Float64Array,
    gBias: Float64Array,
    dFeatures: Float64Array,
  ): void;
  /** The text tagger's LSTM cells at one step (tagger.ts): byte offsets of its float32 arrays, prevCell −1 when no sentence carries. */
  taggerCells(
    buffer: ArrayBufferLike,
    gates: number,
    cell: number,
    cellTanh: number,
    hidden: number,
    prevCell: number,
    rows: number,
    carried: number,
    units: number,
    hard: boolean,
    bias: Float64Array,
  ): void;
  /** directions.ts's copySteps. */
  copySteps(
    buffer: ArrayBufferLike,
    at: number,
    features: Float64Array,
    H: number,
    direction: number,
    first: number,
    count: number,
    units: number,
    steps: number,
    toFeatures: boolean,
  ): void;
};

let native: NativeKernels | null | undefined;
/** Why a build that is there did not load (compiled for another Node, say). */
let nativeError: string | undefined;

/** The native build (`npm install` compiles it where a C++ compiler is found), or null. */
export function nativeKernels(): NativeKernels | null {
  if (native === undefined) {
    try {
      native = createRequire(import.meta.url)(nativePath()) as NativeKernels;
    } catch (err) {
      native = null;
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') nativeError = (err as Error).message.split('\n')[0];
    }
  }
  return native;
}

/** Where native/build.mjs puts the build: dist/src/training/fused/wasm/ → the package root's native/. */
function nativePath(): string {
  return fileURLToPath(new URL('../../../../../native/build/Release/seqtag_kernels.node', import.meta.url));
}

let chosen: KernelKind | undefined;

/**
 * Picks the kernels this thread runs from now on (its helper threads and sweep workers are handed
 * the same): `auto` the native build when it loads, else WebAssembly. Throws a UserError for
 * `native` without a build (`built`: whether there is one; the tests say there is none).
 */
export function useKernels(choice: KernelChoice, built = nativeKernels() !== null): KernelKind {
  const kind: KernelKind = choice === 'wasm' ? 'wasm' : built ? 'native' : 'wasm';
  if (choice === 'native' && kind !== 'native') {
    const why = nativeError === undefined ? 'they are not built here' : `their build did not load (${nativeError})`;
    throw new UserError(`cannot use --kernels native: ${why} (npm run build:native needs a C++ compiler); try --kernels auto`);
  }
  chosen = kind;
  return kind;
}

/** The kernels this thread runs: as useKernels set them, else auto's choice. */
export function activeKernels(): KernelKind {
  return (chosen ??= nativeKernels() ? 'native' : 'wasm');
}

/** The native build when this thread runs it (for the float64 bookkeeping around the kernels), else null. */
export function nativeBookkeeping(): NativeKernels | null {
  return activeKernels() === 'native' ? nativeKernels() : null;
}

/** "native (AVX-512)" or "WebAssembly SIMD": for the run's header. */
export function describeKernels(kind: KernelKind = activeKernels()): string {
  // Without a build, `native` runs the module (kernels() falls back), and says so.
  const n = kind === 'native' ? nativeKernels() : null;
  return n ? `native ${n.target()}` : 'WebAssembly SIMD';
}

/** The kernels on `memory` (shared with the helper thread's): the native build's or an instance of the module. */
export function kernels(memory: WebAssembly.Memory, module = lstmModule(), kind: KernelKind = activeKernels()): LstmKernels {
  const n = kind === 'native' ? nativeKernels() : null;
  if (!n) return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as LstmKernels;
  // memory.buffer is read at each call: a grown memory hands out a new (longer) buffer object.
  return {
    lstmForward: (d) => n.lstmForward(memory.buffer, d),
    lstmBackward: (d) => n.lstmBackward(memory.buffer, d),
    tanhOf: (to, from, count) => n.tanhOf(memory.buffer, to, from, count),
    sigmoidOf: (to, from, count) => n.sigmoidOf(memory.buffer, to, from, count),
    gemm: (c, ldc, a, ars, acs, b, ldb, m, n2, k, acc) => n.gemm(memory.buffer, c, ldc, a, ars, acs, b, ldb, m, n2, k, acc),
  };
}
