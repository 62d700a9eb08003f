// The fused engine's float32 LSTM direction in WebAssembly SIMD128 (AssemblyScript).
// Built by `npm run wasm` into src/training/fused/wasm/module.ts; the JavaScript side
// (src/training/fused/wasm/direction.ts) lays the buffers out in the (shared) memory and fills a
// descriptor; these functions only compute. The arithmetic follows src/training/fused/lstm.ts
// (tf.layers.lstm's layout, gates i, f, c, o) in float32, four lanes at a time.

// The descriptor: i32 fields at these indexes (the same table is in direction.ts).
const UNITS = 0;
const BATCH = 1;
const STEPS = 2;
const ONEHOT = 3;
const HARD = 4;
const REVERSE = 5;
const DIGITS = 6; // i32 [B, T]
const KERNEL = 7; // [in, 4u]
const RECURRENT = 8; // [u, 4u]
const RECURRENT_T = 9; // [4u, u]
const BIAS = 10; // [4u]
const GATES = 11; // [T, B, 4u] after activation
const CELL = 12; // [T, B, u]
const CELL_TANH = 13; // [T, B, u]
const HIDDEN = 14; // [T, B, u]
const DZ = 15; // [T, B, 4u]
const DH_NEXT = 16; // [B, u]
const DC_NEXT = 17; // [B, u]
const DH_OUT = 18; // [T, B, u]: gradient at this direction's outputs, by processing step
const G_KERNEL = 19;
const G_RECURRENT = 20;
const G_BIAS = 21;

@inline function field(d: usize, k: i32): i32 {
  return load<i32>(d + (<usize>k << 2));
}
@inline function ptr(d: usize, k: i32): usize {
  return <usize>load<i32>(d + (<usize>k << 2));
}
@inline function at(base: usize, index: i32): usize {
  return base + (<usize>index << 2);
}

// ---------------------------------------------------------------------------------------------
// The gates' activations on four lanes.

/** σ(x) = ½ + ½·tanh(x/2): one rational function, no exponential. */
@inline function sigmoidv(x: v128): v128 {
  const half = f32x4.splat(0.5);
  return f32x4.add(half, f32x4.mul(half, tanhv(f32x4.mul(x, half))));
}

/** Keras's hard sigmoid as tfjs computes it: clip(0.2·x + 0.5, 0, 1). */
@inline function hardSigmoidv(x: v128): v128 {
  const y = f32x4.add(f32x4.mul(x, f32x4.splat(0.2)), f32x4.splat(0.5));
  return f32x4.min(f32x4.max(y, f32x4.splat(0)), f32x4.splat(1));
}

@inline function gatev(x: v128, hard: bool): v128 {
  return hard ? hardSigmoidv(x) : sigmoidv(x);
}

/** d gate / d x from the gate's output y. */
@inline function gateSlopev(y: v128, hard: bool): v128 {
  if (!hard) return f32x4.mul(y, f32x4.sub(f32x4.splat(1), y));
  const inside = v128.and(f32x4.gt(y, f32x4.splat(0)), f32x4.lt(y, f32x4.splat(1)));
  return v128.and(inside, f32x4.splat(0.2));
}

/**
 * tanh as Eigen computes it for float32 (generic_fast_tanh_float): an odd degree-13 over an even
 * degree-6 polynomial on x clamped to ±7.9053 (where tanh rounds to ±1 in float32), x itself below
 * 4e-4; within a few ulp, with one division and no exponential.
 */
@inline function tanhv(x: v128): v128 {
  const clamp = f32x4.splat(7.90531110763549805);
  const c = f32x4.min(f32x4.max(x, f32x4.neg(clamp)), clamp);
  const x2 = f32x4.mul(c, c);
  let p = f32x4.splat(-2.76076847742355e-16);
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(2.00018790482477e-13));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-8.60467152213735e-11));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(5.12229709037114e-8));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(1.48572235717979e-5));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(6.37261928875436e-4));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(4.89352455891786e-3));
  p = f32x4.mul(p, c);
  let q = f32x4.splat(1.19825839466702e-6);
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(1.18534705686654e-4));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(2.26843463243900e-3));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(4.89352518554385e-3));
  const tiny = f32x4.lt(f32x4.abs(x), f32x4.splat(0.0004));
  return v128.bitselect(x, f32x4.div(p, q), tiny);
}

/** tanh values of `n` floats at `from`, written to `to`: lets the tests hold tanhv to Math.tanh. */
export function tanhOf(to: usize, from: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(to + (<usize>i << 2), lane(tanhv(f32x4.splat(load<f32>(from + (<usize>i << 2))))));
}

/** The same for the sigmoid. */
export function sigmoidOf(to: usize, from: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(to + (<usize>i << 2), lane(sigmoidv(f32x4.splat(load<f32>(from + (<usize>i << 2))))));
}

// Scalar tails go through the same four-lane code, so a value does not depend on its position.
@inline function lane(v: v128): f32 {
  return f32x4.extract_lane(v, 0);
}

// ---------------------------------------------------------------------------------------------
// Matrix product C[m×n] (+)= A·B. A is read with element strides (A(i, q) = a[i·ars + q·acs], so
// a transposed A costs nothing); B [k×n] and C [m×n] are row-major with strides ldb and ldc.
// Blocks of 4 rows × 8 columns: 8 accumulators, each A value splatted once per 2 B vectors.

export function gemm(c: usize, ldc: i32, a: usize, ars: i32, acs: i32, b: usize, ldb: i32, m: i32, n: i32, k: i32, accumulate: bool): void {
  let i = 0;
  for (; i + 3 < m; i += 4) rows4(c, ldc, a, ars, acs, b, ldb, i, n, k, accumulate);
  for (; i < m; i++) rows1(c, ldc, a, ars, acs, b, ldb, i, n, k, accumulate);
}

function rows4(c: usize, ldc: i32, a: usize, ars: i32, acs: i32, b: usize, ldb: i32, i: i32, n: i32, k: i32, accumulate: bool): void {
  const a0 = at(a, i * ars);
  const a1 = at(a, (i + 1) * ars);
  const a2 = at(a, (i + 2) * ars);
  const a3 = at(a, (i + 3) * ars);
  const c0 = at(c, i * ldc);
  const c1 = at(c, (i + 1) * ldc);
  const c2 = at(c, (i + 2) * ldc);
  const c3 = at(c, (i + 3) * ldc);
  const step = <usize>acs << 2;
  const bStep = <usize>ldb << 2;
  let j = 0;
  for (; j + 7 < n; j += 8) {
    const jo = <usize>j << 2;
    let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
    let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
    let ao: usize = 0;
    let bp = b + jo;
    for (let q = 0; q < k; q++) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      const x0 = v128.load32_splat(a0 + ao);
      const x1 = v128.load32_splat(a1 + ao);
      const x2 = v128.load32_splat(a2 + ao);
      const x3 = v128.load32_splat(a3 + ao);
      s00 = f32x4.add(s00, f32x4.mul(x0, b0));
      s01 = f32x4.add(s01, f32x4.mul(x0, b1));
      s10 = f32x4.add(s10, f32x4.mul(x1, b0));
      s11 = f32x4.add(s11, f32x4.mul(x1, b1));
      s20 = f32x4.add(s20, f32x4.mul(x2, b0));
      s21 = f32x4.add(s21, f32x4.mul(x2, b1));
      s30 = f32x4.add(s30, f32x4.mul(x3, b0));
      s31 = f32x4.add(s31, f32x4.mul(x3, b1));
      ao += step;
      bp += bStep;
    }
    put(c0 + jo, s00, accumulate);
    put(c0 + jo + 16, s01, accumulate);
    put(c1 + jo, s10, accumulate);
    put(c1 + jo + 16, s11, accumulate);
    put(c2 + jo, s20, accumulate);
    put(c2 + jo + 16, s21, accumulate);
    put(c3 + jo, s30, accumulate);
    put(c3 + jo + 16, s31, accumulate);
  }
  for (; j + 3 < n; j += 4) {
    const jo = <usize>j << 2;
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let ao: usize = 0;
    let bp = b + jo;
    for (let q = 0; q < k; q++) {
      const b0 = v128.load(bp);
      s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(a0 + ao), b0));
      s1 = f32x4.add(s1, f32x4.mul(v128.load32_splat(a1 + ao), b0));
      s2 = f32x4.add(s2, f32x4.mul(v128.load32_splat(a2 + ao), b0));
      s3 = f32x4.add(s3, f32x4.mul(v128.load32_splat(a3 + ao), b0));
      ao += step;
      bp += bStep;
    }
    put(c0 + jo, s0, accumulate);
    put(c1 + jo, s1, accumulate);
    put(c2 + jo, s2, accumulate);
    put(c3 + jo, s3, accumulate);
  }
  for (; j < n; j++) {
    for (let r = 0; r < 4; r++) scalarEntry(c, ldc, a, ars, acs, b, ldb, i + r, j, k, accumulate);
  }
}

function rows1(c: usize, ldc: i32, a: usize, ars: i32, acs: i32, b: usize, ldb: i32, i: i32, n: i32, k: i32, accumulate: bool): void {
  const a0 = at(a, i * ars);
  const c0 = at(c, i * ldc);
  const step = <usize>acs << 2;
  const bStep = <usize>ldb << 2;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const jo = <usize>j << 2;
    let s = f32x4.splat(0);
    let ao: usize = 0;
    let bp = b + jo;
    for (let q = 0; q < k; q++) {
      s = f32x4.add(s, f32x4.mul(v128.load32_splat(a0 + ao), v128.load(bp)));
      ao += step;
      bp += bStep;
    }
    put(c0 + jo, s, accumulate);
  }
  for (; j < n; j++) scalarEntry(c, ldc, a, ars, acs, b, ldb, i, j, k, accumulate);
}

function scalarEntry(c: usize, ldc: i32, a: usize, ars: i32, acs: i32, b: usize, ldb: i32, i: i32, j: i32, k: i32, accumulate: bool): void {
  let s: f32 = 0;
  for (let q = 0; q < k; q++) s += load<f32>(at(a, i * ars + q * acs)) * load<f32>(at(b, q * ldb + j));
  const p = at(c, i * ldc + j);
  store<f32>(p, accumulate ? load<f32>(p) + s : s);
}

@inline function put(p: usize, s: v128, accumulate: bool): void {
  v128.store(p, accumulate ? f32x4.add(v128.load(p), s) : s);
}

/** dst[n×m] = srcᵀ for src[m×n]. */
export function transpose(dst: usize, src: usize, m: i32, n: i32): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) store<f32>(at(dst, j * m + i), load<f32>(at(src, i * n + j)));
  }
}

// ---------------------------------------------------------------------------------------------
// The direction's forward pass: per step, bias + input projection, + h_{t−1}·R, then the cell.

export function lstmForward(d: usize): void {
  const u = field(d, UNITS);
  const batch = field(d, BATCH);
  const T = field(d, STEPS);
  const g4 = 4 * u;
  for (let step = 0; step < T; step++) {
    inputProjection(d, step);
    if (step > 0) {
      const z = at(ptr(d, GATES), step * batch * g4);
      const h = at(ptr(d, HIDDEN), (step - 1) * batch * u);
      gemm(z, g4, h, u, 1, ptr(d, RECURRENT), g4, batch, g4, u, true);
    }
    cellForward(d, step);
  }
}

/** Position of processing step `step` in the sequence (a reversed direction reads right to left). */
@inline function position(d: usize, step: i32): i32 {
  return field(d, REVERSE) ? field(d, STEPS) - 1 - step : step;
}

function inputProjection(d: usize, step: i32): void {
  const g4 = 4 * field(d, UNITS);
  const batch = field(d, BATCH);
  const T = field(d, STEPS);
  const t = position(d, step);
  const onehot = field(d, ONEHOT) != 0;
  const kernel = ptr(d, KERNEL);
  const bias = ptr(d, BIAS);
  const digits = ptr(d, DIGITS);
  for (let b = 0; b < batch; b++) {
    const digit = load<i32>(at(digits, b * T + t));
    const z = at(ptr(d, GATES), (step * batch + b) * g4);
    const row = onehot ? at(kernel, digit * g4) : kernel;
    const x = f32x4.splat(onehot ? 1 : <f32>digit);
    for (let k = 0; k < g4; k += 4) {
      const o = <usize>k << 2;
      v128.store(z + o, f32x4.add(v128.load(bias + o), f32x4.mul(x, v128.load(row + o))));
    }
  }
}

function cellForward(d: usize, step: i32): void {
  const u = field(d, UNITS);
  const batch = field(d, BATCH);
  const hard = field(d, HARD) != 0;
  for (let b = 0; b < batch; b++) {
    const row = step * batch + b;
    const gates = at(ptr(d, GATES), row * 4 * u);
    const cell = at(ptr(d, CELL), row * u);
    const cellTanh = at(ptr(d, CELL_TANH), row * u);
    const hidden = at(ptr(d, HIDDEN), row * u);
    const prev = at(ptr(d, CELL), (row - batch) * u);
    const u4 = <usize>u << 2;
    let j = 0;
    for (; j + 3 < u; j += 4) {
      const o = <usize>j << 2;
      const i = gatev(v128.load(gates + o), hard);
      const f = gatev(v128.load(gates + u4 + o), hard);
      const g = tanhv(v128.load(gates + 2 * u4 + o));
      const og = gatev(v128.load(gates + 3 * u4 + o), hard);
      const carried = step == 0 ? f32x4.splat(0) : f32x4.mul(f, v128.load(prev + o));
      const c = f32x4.add(carried, f32x4.mul(i, g));
      const tc = tanhv(c);
      v128.store(gates + o, i);
      v128.store(gates + u4 + o, f);
      v128.store(gates + 2 * u4 + o, g);
      v128.store(gates + 3 * u4 + o, og);
      v128.store(cell + o, c);
      v128.store(cellTanh + o, tc);
      v128.store(hidden + o, f32x4.mul(og, tc));
    }
    for (; j < u; j++) {
      const o = <usize>j << 2;
      const i = lane(gatev(f32x4.splat(load<f32>(gates + o)), hard));
      const f = lane(gatev(f32x4.splat(load<f32>(gates + u4 + o)), hard));
      const g = lane(tanhv(f32x4.splat(load<f32>(gates + 2 * u4 + o))));
      const og = lane(gatev(f32x4.splat(load<f32>(gates + 3 * u4 + o)), hard));
      const c = (step == 0 ? <f32>0 : f * load<f32>(prev + o)) + i * g;
      const tc = lane(tanhv(f32x4.splat(c)));
      store<f32>(gates + o, i);
      store<f32>(gates + u4 + o, f);
      store<f32>(gates + 2 * u4 + o, g);
      store<f32>(gates + 3 * u4 + o, og);
      store<f32>(cell + o, c);
      store<f32>(cellTanh + o, tc);
      store<f32>(hidden + o, og * tc);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backpropagation through time. Zeroes and fills G_KERNEL, G_RECURRENT, G_BIAS.

export function lstmBackward(d: usize): void {
  const u = field(d, UNITS);
  const batch = field(d, BATCH);
  const T = field(d, STEPS);
  const g4 = 4 * u;
  const width = field(d, ONEHOT) ? 10 : 1;
  transpose(ptr(d, RECURRENT_T), ptr(d, RECURRENT), u, g4);
  memory.fill(ptr(d, DH_NEXT), 0, <usize>(batch * u) << 2);
  memory.fill(ptr(d, DC_NEXT), 0, <usize>(batch * u) << 2);
  memory.fill(ptr(d, G_KERNEL), 0, <usize>(width * g4) << 2);
  memory.fill(ptr(d, G_RECURRENT), 0, <usize>(u * g4) << 2);
  memory.fill(ptr(d, G_BIAS), 0, <usize>g4 << 2);
  for (let step = T - 1; step >= 0; step--) {
    cellBackward(d, step);
    // dh_{step−1} = dz_step · Rᵀ
    if (step > 0) gemm(ptr(d, DH_NEXT), u, at(ptr(d, DZ), step * batch * g4), g4, 1, ptr(d, RECURRENT_T), u, batch, u, g4, false);
  }
  // dR = Σ_step h_{step−1}ᵀ dz_step over all steps at once: A = hiddenᵀ read by strides.
  gemm(ptr(d, G_RECURRENT), g4, ptr(d, HIDDEN), 1, u, at(ptr(d, DZ), batch * g4), g4, u, g4, (T - 1) * batch, true);
  inputWeightGradients(d);
}

function cellBackward(d: usize, step: i32): void {
  const u = field(d, UNITS);
  const batch = field(d, BATCH);
  const hard = field(d, HARD) != 0;
  const u4 = <usize>u << 2;
  for (let b = 0; b < batch; b++) {
    const row = step * batch + b;
    const gates = at(ptr(d, GATES), row * 4 * u);
    const dz = at(ptr(d, DZ), row * 4 * u);
    const cellTanh = at(ptr(d, CELL_TANH), row * u);
    const prev = at(ptr(d, CELL), (row - batch) * u);
    const dOut = at(ptr(d, DH_OUT), row * u);
    const dhNext = at(ptr(d, DH_NEXT), b * u);
    const dcNext = at(ptr(d, DC_NEXT), b * u);
    let j = 0;
    for (; j + 3 < u; j += 4) {
      const o = <usize>j << 2;
      const cPrev = step == 0 ? f32x4.splat(0) : v128.load(prev + o);
      cellBackwardLanes(gates + o, u4, dz + o, v128.load(cellTanh + o), cPrev, dOut + o, dhNext + o, dcNext + o, hard, true);
    }
    for (; j < u; j++) {
      const o = <usize>j << 2;
      const cPrev = step == 0 ? f32x4.splat(0) : f32x4.splat(load<f32>(prev + o));
      cellBackwardLanes(gates + o, u4, dz + o, f32x4.splat(load<f32>(cellTanh + o)), cPrev, dOut + o, dhNext + o, dcNext + o, hard, false);
    }
  }
}

/** One cell's backward step on four units (`full`) or on one (a tail unit, lane 0). */
@inline function cellBackwardLanes(gates: usize, u4: usize, dz: usize, tc: v128, cPrev: v128, dOut: usize, dhNext: usize, dcNext: usize, hard: bool, full: bool): void {
  const i = get(gates, full);
  const f = get(gates + u4, full);
  const g = get(gates + 2 * u4, full);
  const o = get(gates + 3 * u4, full);
  const dh = f32x4.add(get(dOut, full), get(dhNext, full));
  const one = f32x4.splat(1);
  const dc = f32x4.add(f32x4.mul(f32x4.mul(dh, o), f32x4.sub(one, f32x4.mul(tc, tc))), get(dcNext, full));
  set(dz, f32x4.mul(f32x4.mul(dc, g), gateSlopev(i, hard)), full);
  set(dz + u4, f32x4.mul(f32x4.mul(dc, cPrev), gateSlopev(f, hard)), full);
  set(dz + 2 * u4, f32x4.mul(f32x4.mul(dc, i), f32x4.sub(one, f32x4.mul(g, g))), full);
  set(dz + 3 * u4, f32x4.mul(f32x4.mul(dh, tc), gateSlopev(o, hard)), full);
  set(dcNext, f32x4.mul(dc, f), full);
}

@inline function get(p: usize, full: bool): v128 {
  return full ? v128.load(p) : f32x4.splat(load<f32>(p));
}
@inline function set(p: usize, v: v128, full: bool): void {
  if (full) v128.store(p, v);
  else store<f32>(p, lane(v));
}

/** Kernel and bias gradients: a one-hot input touches one kernel row, a scalar one scales the single row. */
function inputWeightGradients(d: usize): void {
  const g4 = 4 * field(d, UNITS);
  const batch = field(d, BATCH);
  const T = field(d, STEPS);
  const onehot = field(d, ONEHOT) != 0;
  const gBias = ptr(d, G_BIAS);
  const gKernel = ptr(d, G_KERNEL);
  const digits = ptr(d, DIGITS);
  for (let step = 0; step < T; step++) {
    const t = position(d, step);
    for (let b = 0; b < batch; b++) {
      const dz = at(ptr(d, DZ), (step * batch + b) * g4);
      const digit = load<i32>(at(digits, b * T + t));
      const row = onehot ? at(gKernel, digit * g4) : gKernel;
      const x = f32x4.splat(onehot ? 1 : <f32>digit);
      for (let k = 0; k < g4; k += 4) {
        const o = <usize>k << 2;
        const v = v128.load(dz + o);
        v128.store(gBias + o, f32x4.add(v128.load(gBias + o), v));
        v128.store(row + o, f32x4.add(v128.load(row + o), f32x4.mul(x, v)));
      }
    }
  }
}
