/**
 * The peak of the fused engine's float32 arithmetic on this machine: its matrix-product kernel
 * (gemm: the WebAssembly module's, tools/wasm/assembly/lstm.ts, or the native build's,
 * native/kernels.cc) alone, on one thread, on the shape of a 128-unit step's
 * recurrent product (a batch of 32 × 128 inputs × 512 gate columns), data in cache. Training cannot
 * go faster than this per thread; bench:scale prints each row's GFLOP/s against it.
 * `node dist/bench/kernel.js` prints it alone.
 */
import { fileURLToPath } from 'node:url';
import { activeKernels, kernels, nativeKernels, newMemory, type KernelKind } from '../src/training/fused/wasm/instance.js';

export function kernelPeak(seconds = 1, kind: KernelKind = activeKernels()): { gflops: number; shape: string } {
  const [m, n, k] = [32, 512, 128];
  const memory = newMemory();
  memory.grow(8);
  const wasm = kernels(memory, undefined, kind);
  const f32 = new Float32Array(memory.buffer);
  const [a, b, c] = [1024, 1024 + m * k, 1024 + m * k + k * n];
  for (let i = a; i < c; i++) f32[i] = Math.sin(i);
  const run = () => wasm.gemm(4 * c, n, 4 * a, k, 1, 4 * b, n, m, n, k, 0);
  for (let r = 0; r < 100; r++) run();
  let reps = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    for (let r = 0; r < 100; r++) run();
    reps += 100;
  }
  const elapsed = (performance.now() - started) / 1000;
  return { gflops: (2 * m * n * k * reps) / elapsed / 1e9, shape: `${m}×${k} · ${k}×${n}` };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const kind of nativeKernels() ? (['wasm', 'native'] as const) : (['wasm'] as const)) {
    const peak = kernelPeak(3, kind);
    console.log(`${kind} matrix-product kernel (${peak.shape}), one thread: ${peak.gflops.toFixed(1)} GFLOP/s`);
  }
}
