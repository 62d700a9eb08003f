/**
 * The text tagger's two arithmetics (src/training/fused/matrices.ts): the same products in float64
 * JavaScript and in float32 WebAssembly, for every stride the tagger uses, and views that outlive a
 * growing memory.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import seedrandom from 'seedrandom';
import { FLOAT64, transposeInto, WasmMatrices, type Floats, type Matrices } from '../src/training/fused/matrices.js';

/** C = A·B by the definition, in float64: A(i, q) = a[i·ars + q·acs], B [k×n], C [m×n]. */
function reference(a: Floats, ars: number, acs: number, b: Floats, m: number, n: number, k: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let q = 0; q < k; q++) c[i * n + j] += a[i * ars + q * acs] * b[q * n + j];
  return c;
}

function filled(m: Matrices, n: number, rng: () => number): Floats {
  const x = m.alloc(n);
  for (let i = 0; i < n; i++) x[i] = rng() * 2 - 1;
  return x;
}

describe('the tagger arithmetic: float64 JavaScript and float32 WebAssembly', () => {
  // Sizes around the kernel's blocks (4 rows, 8 and 4 columns) and tails, and k = 0.
  const sizes = [
    [1, 1, 1],
    [3, 5, 7],
    [4, 8, 4],
    [9, 13, 6],
    [17, 256, 64],
    [5, 3, 0],
  ];
  for (const matrices of [FLOAT64, new WasmMatrices()]) {
    it(`${matrices.precision}: C (+)= A·B and C (+)= Aᵀ·B within rounding, at offsets, for block and tail sizes`, () => {
      const rng = seedrandom('matrices');
      const tolerance = matrices.precision === 'float32' ? 1e-5 : 1e-12;
      for (const [m, n, k] of sizes) {
        for (const transposed of [false, true]) {
          const a = filled(matrices, m * k + 3, rng);
          const b = filled(matrices, k * n + 5, rng);
          const c = filled(matrices, m * n + 2, rng);
          const before = Float64Array.from(c);
          // A at offset 3 (row-major [m×k], or stored [k×m] and read transposed), B at 5, C at 2.
          const [ars, acs] = transposed ? [1, m] : [k, 1];
          const expected = reference(a.subarray(3), ars, acs, b.subarray(5), m, n, k);
          for (const accumulate of [true, false]) {
            c.set(before);
            matrices.gemm(c, 2, n, a, 3, ars, acs, b, 5, n, m, n, k, accumulate);
            for (let x = 0; x < m * n; x++) {
              const want = expected[x] + (accumulate ? before[2 + x] : 0);
              assert.ok(
                Math.abs(c[2 + x] - want) <= tolerance * (1 + Math.abs(want)),
                `${m}×${n}×${k} ${transposed ? 'Aᵀ' : 'A'} ${accumulate ? '+=' : '='}: ${c[2 + x]} vs ${want}`,
              );
            }
            assert.deepEqual(Array.from(c.subarray(0, 2)), Array.from(before.subarray(0, 2)), 'nothing before C written');
          }
        }
      }
    });
  }

  it('float32 arrays made before the memory grew keep their numbers and still multiply', () => {
    const matrices = new WasmMatrices();
    const a = matrices.alloc(4);
    a.set([1, 2, 3, 4]);
    // 40 MiB more: the memory grows by hundreds of pages.
    const big = matrices.alloc(10_000_000);
    big[big.length - 1] = 7;
    assert.deepEqual(Array.from(a), [1, 2, 3, 4]);
    const c = matrices.alloc(4);
    matrices.gemm(c, 0, 2, a, 0, 2, 1, a, 0, 2, 2, 2, 2, false);
    assert.deepEqual(Array.from(c), [7, 10, 15, 22], '[[1,2],[3,4]]²');
    assert.equal(big[big.length - 1], 7);
  });

  it('transposeInto', () => {
    const t = new Float64Array(6);
    transposeInto(t, Float64Array.from([1, 2, 3, 4, 5, 6]), 2, 3);
    assert.deepEqual(Array.from(t), [1, 4, 2, 5, 3, 6]);
  });
});
