/**
 * The fused engine's arithmetic kernels: matrix products and activations on float64 typed arrays.
 * Everything here is a hot loop: plain functions over locals, no allocation.
 */

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Keras's hard sigmoid, as tfjs computes it: clip(0.2·x + 0.5, 0, 1). */
export function hardSigmoid(x: number): number {
  const y = 0.2 * x + 0.5;
  return y < 0 ? 0 : y > 1 ? 1 : y;
}

/** d hardSigmoid / dx from its output: 0.2 inside the linear part, 0 where it is clipped. */
export function hardSigmoidSlope(y: number): number {
  return y > 0 && y < 1 ? 0.2 : 0;
}

/** tanh through one exp: V8's Math.tanh costs several times more, and training calls it ~10⁷ times. */
export function tanh(x: number): number {
  return 1 - 2 / (Math.exp(2 * x) + 1);
}

/**
 * C[m×n] (+)= A[m×p] · Btᵀ, where Bt is [n×p]: every output is a dot product of two contiguous rows.
 * Register-blocked 2×4, so each loaded value feeds two to four multiply-adds: in V8 this runs
 * ~3× faster than a plain triple loop, and it is where the fused engine spends most of its time.
 */
export function gemmNT(
  c: Float64Array,
  cOff: number,
  a: Float64Array,
  aOff: number,
  bt: Float64Array,
  bOff: number,
  m: number,
  n: number,
  p: number,
  accumulate: boolean,
): void {
  let i = 0;
  for (; i + 1 < m; i += 2) {
    const a0 = aOff + i * p;
    const a1 = a0 + p;
    const c0 = cOff + i * n;
    const c1 = c0 + n;
    let j = 0;
    for (; j + 3 < n; j += 4) {
      const b0 = bOff + j * p;
      const b1 = b0 + p;
      const b2 = b1 + p;
      const b3 = b2 + p;
      let s00 = 0,
        s01 = 0,
        s02 = 0,
        s03 = 0,
        s10 = 0,
        s11 = 0,
        s12 = 0,
        s13 = 0;
      for (let q = 0; q < p; q++) {
        const x0 = a[a0 + q],
          x1 = a[a1 + q];
        const w0 = bt[b0 + q],
          w1 = bt[b1 + q],
          w2 = bt[b2 + q],
          w3 = bt[b3 + q];
        s00 += x0 * w0;
        s01 += x0 * w1;
        s02 += x0 * w2;
        s03 += x0 * w3;
        s10 += x1 * w0;
        s11 += x1 * w1;
        s12 += x1 * w2;
        s13 += x1 * w3;
      }
      c[c0 + j] = accumulate ? c[c0 + j] + s00 : s00;
      c[c0 + j + 1] = accumulate ? c[c0 + j + 1] + s01 : s01;
      c[c0 + j + 2] = accumulate ? c[c0 + j + 2] + s02 : s02;
      c[c0 + j + 3] = accumulate ? c[c0 + j + 3] + s03 : s03;
      c[c1 + j] = accumulate ? c[c1 + j] + s10 : s10;
      c[c1 + j + 1] = accumulate ? c[c1 + j + 1] + s11 : s11;
      c[c1 + j + 2] = accumulate ? c[c1 + j + 2] + s12 : s12;
      c[c1 + j + 3] = accumulate ? c[c1 + j + 3] + s13 : s13;
    }
    for (; j < n; j++) {
      const b0 = bOff + j * p;
      let s0 = 0,
        s1 = 0;
      for (let q = 0; q < p; q++) {
        const w = bt[b0 + q];
        s0 += a[a0 + q] * w;
        s1 += a[a1 + q] * w;
      }
      c[c0 + j] = accumulate ? c[c0 + j] + s0 : s0;
      c[c1 + j] = accumulate ? c[c1 + j] + s1 : s1;
    }
  }
  for (; i < m; i++) {
    const a0 = aOff + i * p;
    const c0 = cOff + i * n;
    for (let j = 0; j < n; j++) {
      const b0 = bOff + j * p;
      let s0 = 0;
      for (let q = 0; q < p; q++) s0 += a[a0 + q] * bt[b0 + q];
      c[c0 + j] = accumulate ? c[c0 + j] + s0 : s0;
    }
  }
}

/** dst[n×m] = srcᵀ for src[m×n] starting at `off`. */
export function transpose(dst: Float64Array, src: Float64Array, off: number, m: number, n: number): void {
  for (let i = 0; i < m; i++) {
    const row = off + i * n;
    for (let j = 0; j < n; j++) dst[j * m + i] = src[row + j];
  }
}
