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

/** An instance of the kernels on `memory` (shared with the helper thread's instance). */
export function kernels(memory: WebAssembly.Memory, module = lstmModule()): LstmKernels {
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as LstmKernels;
}
