// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs');
import type { Config, OutputActivation, RecurrentActivation } from './config.js';
import { inputWidth, NUM_CLASSES, SEQUENCE_LENGTH } from './data.js';

/**
 * The fused engine: the whole training step of LSTM (one or two directions) → TimeDistributed
 * Dense(2) → categorical crossentropy → optimizer, computed on typed arrays in one pass, with its
 * own backpropagation through time.
 *
 * Why: TensorFlow.js has no fused RNN kernel, so one training step of the seed model dispatches
 * ~1,400 tiny kernels and dispatch, not arithmetic, sets the speed. Here a step dispatches none.
 *
 * Faithfulness: weights live in tf.layers.lstm's layout (kernel [in, 4u], recurrent kernel
 * [u, 4u], bias [4u], gates i, f, c, o) and are read from and written back to the ordinary tfjs
 * model, so saved models are the standard LSTM + TimeDistributed(Dense) that stock tfjs loads.
 * The loss and the optimizers reproduce tfjs's formulas (crossentropy's row normalisation and clip,
 * RMSprop's epsilon inside the square root...). Arithmetic is float64, so results agree with the
 * float32 layers engine to rounding (test/fused.test.ts checks outputs, every gradient and a
 * training run against tf.layers).
 */

const T = SEQUENCE_LENGTH;
const C = NUM_CLASSES;
/** tfjs-layers' epsilon(): crossentropy clips probabilities to [EPS, 1 − EPS]. */
const EPS = 1e-7;

export type FusedConfig = Pick<
  Config,
  'units' | 'encoding' | 'bidirectional' | 'recurrentActivation' | 'activation' | 'optimizer' | 'lr' | 'adamEpsilon' | 'clipnorm' | 'clipvalue'
>;

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Keras's hard sigmoid, as tfjs computes it: clip(0.2·x + 0.5, 0, 1). */
function hardSigmoid(x: number): number {
  const y = 0.2 * x + 0.5;
  return y < 0 ? 0 : y > 1 ? 1 : y;
}

/** d hardSigmoid / dx from its output: 0.2 inside the linear part, 0 where it is clipped. */
function hardSigmoidSlope(y: number): number {
  return y > 0 && y < 1 ? 0.2 : 0;
}

/** tanh through one exp: V8's Math.tanh costs several times more, and training calls it ~10⁷ times. */
function tanh(x: number): number {
  return 1 - 2 / (Math.exp(2 * x) + 1);
}

/** Why the fused engine cannot run `config`, or undefined when it can. */
export function fusedUnsupported(config: Pick<Config, 'batchNorm' | 'layerNorm'>): string | undefined {
  if (config.batchNorm) return 'the fused engine has no BatchNormalization';
  if (config.layerNorm) return 'the fused engine has no LayerNormalization';
  return undefined;
}

/**
 * Trainable parameters in the order of `model.trainableWeights`: per direction kernel, recurrent
 * kernel, bias; then the Dense kernel [H, 2] and bias [2]. Float64 copies.
 */
export interface Parameters {
  tensors: Float64Array[];
  shapes: number[][];
}

export function readParameters(model: tf.LayersModel): Parameters {
  const weights = model.trainableWeights;
  return {
    tensors: weights.map((w) => Float64Array.from(w.read().dataSync())),
    shapes: weights.map((w) => w.shape as number[]),
  };
}

/** Writes trained parameters back into the tfjs model (rounded to float32). */
export function writeParameters(model: tf.LayersModel, params: Parameters): void {
  model.trainableWeights.forEach((w, k) => {
    const t = tf.tensor(Float32Array.from(params.tensors[k]), params.shapes[k]);
    w.write(t);
    t.dispose();
  });
}

/**
 * C[m×n] (+)= A[m×p] · Btᵀ, where Bt is [n×p]: every output is a dot product of two contiguous rows.
 * Register-blocked 2×4, so each loaded value feeds two to four multiply-adds: in V8 this runs
 * ~3× faster than a plain triple loop, and it is where the fused engine spends most of its time.
 */
export function gemmNT(
  c: Float64Array, cOff: number,
  a: Float64Array, aOff: number,
  bt: Float64Array, bOff: number,
  m: number, n: number, p: number,
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
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let q = 0; q < p; q++) {
        const x0 = a[a0 + q], x1 = a[a1 + q];
        const w0 = bt[b0 + q], w1 = bt[b1 + q], w2 = bt[b2 + q], w3 = bt[b3 + q];
        s00 += x0 * w0; s01 += x0 * w1; s02 += x0 * w2; s03 += x0 * w3;
        s10 += x1 * w0; s11 += x1 * w1; s12 += x1 * w2; s13 += x1 * w3;
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
      let s0 = 0, s1 = 0;
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
function transpose(dst: Float64Array, src: Float64Array, off: number, m: number, n: number): void {
  for (let i = 0; i < m; i++) {
    const row = off + i * n;
    for (let j = 0; j < n; j++) dst[j * m + i] = src[row + j];
  }
}

/** One direction's buffers for a batch, indexed by processing step: [step, B, ·]. */
interface DirectionState {
  gates: Float64Array; // [T, B, 4u]: i, f, g (tanh candidate), o after activation
  cell: Float64Array; // [T, B, u]
  cellTanh: Float64Array; // [T, B, u]
  hidden: Float64Array; // [T, B, u]
  dz: Float64Array; // [T, B, 4u]: gradient at the gates' pre-activations
}

export class FusedNetwork {
  readonly units: number;
  readonly directions: number;
  readonly inputWidth: number;
  readonly hiddenWidth: number;
  readonly params: Parameters;
  readonly grads: Float64Array[];
  private readonly onehot: boolean;
  private readonly hard: boolean;
  private readonly activation: OutputActivation;
  private capacity = 0;
  private states: DirectionState[] = [];
  private features = new Float64Array(0); // [B, T, H]
  private outputs = new Float64Array(0); // [B, T, 2] after the head's activation
  private dFeatures = new Float64Array(0); // [B, T, H]
  private dhNext = new Float64Array(0); // [B, u]
  private dcNext = new Float64Array(0); // [B, u]
  private recurrentT: Float64Array; // [4u, u]
  private hiddenT = new Float64Array(0); // [u, (T-1)·B]
  private dzT = new Float64Array(0); // [4u, (T-1)·B]

  constructor(config: Pick<FusedConfig, 'units' | 'encoding' | 'bidirectional' | 'recurrentActivation' | 'activation'>, params: Parameters) {
    this.units = config.units;
    this.directions = config.bidirectional ? 2 : 1;
    this.inputWidth = inputWidth(config.encoding);
    this.hiddenWidth = this.units * this.directions;
    this.onehot = config.encoding === 'onehot';
    this.hard = (config.recurrentActivation as RecurrentActivation) === 'hardSigmoid';
    this.activation = config.activation;
    this.params = params;
    this.grads = params.tensors.map((p) => new Float64Array(p.length));
    this.recurrentT = new Float64Array(4 * this.units * this.units);
    const expected = 3 * this.directions + 2;
    if (params.tensors.length !== expected) throw new Error(`fused engine expects ${expected} weight tensors, got ${params.tensors.length}`);
  }

  private ensureCapacity(batch: number): void {
    if (batch <= this.capacity) return;
    const u = this.units;
    this.capacity = batch;
    this.states = Array.from({ length: this.directions }, () => ({
      gates: new Float64Array(T * batch * 4 * u),
      cell: new Float64Array(T * batch * u),
      cellTanh: new Float64Array(T * batch * u),
      hidden: new Float64Array(T * batch * u),
      dz: new Float64Array(T * batch * 4 * u),
    }));
    this.features = new Float64Array(batch * T * this.hiddenWidth);
    this.outputs = new Float64Array(batch * T * C);
    this.dFeatures = new Float64Array(batch * T * this.hiddenWidth);
    this.dhNext = new Float64Array(batch * u);
    this.dcNext = new Float64Array(batch * u);
    this.hiddenT = new Float64Array(u * (T - 1) * batch);
    this.dzT = new Float64Array(4 * u * (T - 1) * batch);
  }

  /**
   * Runs one direction over the batch. digits: [B, T] row-major. Direction 1 reads right to left
   * (Keras's goBackwards); its outputs are stored by processing step and mapped back to positions.
   */
  private forwardDirection(dir: number, digits: Int32Array, batch: number): void {
    // Hot loop: arrays are locals so V8 keeps them in registers.
    const u = this.units;
    const g4 = 4 * u;
    const kernel = this.params.tensors[3 * dir];
    const recurrent = this.params.tensors[3 * dir + 1];
    const bias = this.params.tensors[3 * dir + 2];
    const recurrentT = this.recurrentT;
    transpose(recurrentT, recurrent, 0, u, g4);
    const { gates, cell, cellTanh, hidden } = this.states[dir];
    const onehot = this.onehot;
    const hard = this.hard;
    for (let step = 0; step < T; step++) {
      const t = dir === 0 ? step : T - 1 - step;
      const z = gates; // pre-activations are written in place, then replaced by the activations
      const zOff = step * batch * g4;
      for (let b = 0; b < batch; b++) {
        const d = digits[b * T + t];
        const zo = zOff + b * g4;
        if (onehot) {
          const row = d * g4;
          for (let k = 0; k < g4; k++) z[zo + k] = bias[k] + kernel[row + k];
        } else {
          for (let k = 0; k < g4; k++) z[zo + k] = bias[k] + d * kernel[k];
        }
      }
      if (step > 0) gemmNT(z, zOff, hidden, (step - 1) * batch * u, recurrentT, 0, batch, g4, u, true);
      for (let b = 0; b < batch; b++) {
        const gi = zOff + b * g4;
        const ci = (step * batch + b) * u;
        const prev = ci - batch * u;
        for (let j = 0; j < u; j++) {
          const i = hard ? hardSigmoid(z[gi + j]) : sigmoid(z[gi + j]);
          const f = hard ? hardSigmoid(z[gi + u + j]) : sigmoid(z[gi + u + j]);
          const g = tanh(z[gi + 2 * u + j]);
          const o = hard ? hardSigmoid(z[gi + 3 * u + j]) : sigmoid(z[gi + 3 * u + j]);
          const c = (step === 0 ? 0 : f * cell[prev + j]) + i * g;
          const tc = tanh(c);
          gates[gi + j] = i;
          gates[gi + u + j] = f;
          gates[gi + 2 * u + j] = g;
          gates[gi + 3 * u + j] = o;
          cell[ci + j] = c;
          cellTanh[ci + j] = tc;
          hidden[ci + j] = o * tc;
        }
      }
    }
    const H = this.hiddenWidth;
    const features = this.features;
    for (let step = 0; step < T; step++) {
      const t = dir === 0 ? step : T - 1 - step;
      for (let b = 0; b < batch; b++) {
        const src = (step * batch + b) * u;
        const dst = (b * T + t) * H + dir * u;
        for (let j = 0; j < u; j++) features[dst + j] = hidden[src + j];
      }
    }
  }

  /** The head's post-activation outputs [B, T, 2] for a batch of digit sequences [B, T]. */
  forward(digits: Int32Array, batch: number): Float64Array {
    this.ensureCapacity(batch);
    for (let dir = 0; dir < this.directions; dir++) this.forwardDirection(dir, digits, batch);
    const H = this.hiddenWidth;
    const kernel = this.params.tensors[3 * this.directions];
    const bias = this.params.tensors[3 * this.directions + 1];
    const features = this.features;
    const out = this.outputs;
    const activation = this.activation;
    for (let p = 0; p < batch * T; p++) {
      let a0 = bias[0];
      let a1 = bias[1];
      const f = p * H;
      for (let j = 0; j < H; j++) {
        const v = features[f + j];
        a0 += v * kernel[j * C];
        a1 += v * kernel[j * C + 1];
      }
      let o0: number;
      let o1: number;
      switch (activation) {
        case 'softmax': {
          const m = Math.max(a0, a1);
          const e0 = Math.exp(a0 - m);
          const e1 = Math.exp(a1 - m);
          o0 = e0 / (e0 + e1);
          o1 = e1 / (e0 + e1);
          break;
        }
        case 'sigmoid':
          o0 = sigmoid(a0);
          o1 = sigmoid(a1);
          break;
        case 'relu':
          o0 = a0 > 0 ? a0 : 0;
          o1 = a1 > 0 ? a1 : 0;
          break;
        case 'linear':
          o0 = a0;
          o1 = a1;
          break;
      }
      out[2 * p] = o0;
      out[2 * p + 1] = o1;
    }
    return out.subarray(0, batch * T * C);
  }

  /**
   * Forward and backward for one batch; fills `grads` (in trainableWeights order) and returns the
   * mean crossentropy over the batch's B·T positions, exactly as tfjs defines it: each output row
   * divided by its sum, clipped to [1e-7, 1 − 1e-7], then −Σ y log p.
   * labels: [B, T] of 0/1.
   */
  lossAndGradients(digits: Int32Array, labels: Int32Array, batch: number): number {
    const out = this.forward(digits, batch);
    for (const g of this.grads) g.fill(0);
    const H = this.hiddenWidth;
    const nd = this.directions;
    const kernel = this.params.tensors[3 * nd];
    const gKernel = this.grads[3 * nd];
    const gBias = this.grads[3 * nd + 1];
    const features = this.features;
    const dFeatures = this.dFeatures;
    const activation = this.activation;
    const scale = 1 / (batch * T);
    let lossSum = 0;
    for (let p = 0; p < batch * T; p++) {
      const o0 = out[2 * p];
      const o1 = out[2 * p + 1];
      const y1 = labels[p];
      const y0 = 1 - y1;
      const sum = o0 + o1;
      const p0 = o0 / sum;
      const p1 = o1 / sum;
      // Comparisons with NaN are false, so a NaN probability stays NaN, as tfjs's clip leaves it on cpu.
      const c0 = p0 < EPS ? EPS : p0 > 1 - EPS ? 1 - EPS : p0;
      const c1 = p1 < EPS ? EPS : p1 > 1 - EPS ? 1 - EPS : p1;
      lossSum += -(y0 * Math.log(c0) + y1 * Math.log(c1));
      // d loss / d p_k, zero where the clip is active (tfjs's clipByValue gradient).
      const g0 = p0 >= EPS && p0 <= 1 - EPS ? (-y0 / c0) * scale : 0;
      const g1 = p1 >= EPS && p1 <= 1 - EPS ? (-y1 / c1) * scale : 0;
      // Through p = o / sum(o).
      const gp = (g0 * o0 + g1 * o1) / (sum * sum);
      const do0 = g0 / sum - gp;
      const do1 = g1 / sum - gp;
      let da0: number;
      let da1: number;
      switch (activation) {
        case 'softmax': {
          const dot = do0 * o0 + do1 * o1;
          da0 = o0 * (do0 - dot);
          da1 = o1 * (do1 - dot);
          break;
        }
        case 'sigmoid':
          da0 = do0 * o0 * (1 - o0);
          da1 = do1 * o1 * (1 - o1);
          break;
        case 'relu':
          da0 = o0 > 0 ? do0 : 0;
          da1 = o1 > 0 ? do1 : 0;
          break;
        case 'linear':
          da0 = do0;
          da1 = do1;
          break;
      }
      gBias[0] += da0;
      gBias[1] += da1;
      const f = p * H;
      for (let j = 0; j < H; j++) {
        const v = features[f + j];
        gKernel[j * C] += v * da0;
        gKernel[j * C + 1] += v * da1;
        dFeatures[f + j] = da0 * kernel[j * C] + da1 * kernel[j * C + 1];
      }
    }
    for (let dir = 0; dir < nd; dir++) this.backwardDirection(dir, digits, batch);
    return lossSum * scale;
  }

  /**
   * d loss / d input features [B, T, width] for the batch of the last `lossAndGradients` call:
   * what tf.grad gives for the [B, 10, 1] or [B, 10, 10] feature tensor. Used to check parity.
   */
  inputGradient(batch: number): Float64Array {
    const u = this.units;
    const g4 = 4 * u;
    const w = this.inputWidth;
    const dx = new Float64Array(batch * T * w);
    for (let dir = 0; dir < this.directions; dir++) {
      const kernel = this.params.tensors[3 * dir];
      const { dz } = this.states[dir];
      for (let step = 0; step < T; step++) {
        const t = dir === 0 ? step : T - 1 - step;
        for (let b = 0; b < batch; b++) {
          const gi = (step * batch + b) * g4;
          for (let r = 0; r < w; r++) {
            let acc = 0;
            for (let k = 0; k < g4; k++) acc += dz[gi + k] * kernel[r * g4 + k];
            dx[(b * T + t) * w + r] += acc;
          }
        }
      }
    }
    return dx;
  }

  /** Backpropagation through time for one direction, accumulating into its three gradients. */
  private backwardDirection(dir: number, digits: Int32Array, batch: number): void {
    const u = this.units;
    const g4 = 4 * u;
    const H = this.hiddenWidth;
    const recurrent = this.params.tensors[3 * dir + 1];
    const gKernel = this.grads[3 * dir];
    const gRecurrent = this.grads[3 * dir + 1];
    const gBias = this.grads[3 * dir + 2];
    const { gates, cell, cellTanh, hidden, dz } = this.states[dir];
    const dFeatures = this.dFeatures;
    const dhNext = this.dhNext;
    const dcNext = this.dcNext;
    const hard = this.hard;
    dhNext.fill(0, 0, batch * u);
    dcNext.fill(0, 0, batch * u);
    for (let step = T - 1; step >= 0; step--) {
      const t = dir === 0 ? step : T - 1 - step;
      for (let b = 0; b < batch; b++) {
        const fi = (b * T + t) * H + dir * u;
        const bu = b * u;
        const gi = (step * batch + b) * g4;
        const ci = (step * batch + b) * u;
        const prevC = ci - batch * u;
        for (let j = 0; j < u; j++) {
          const dh = dFeatures[fi + j] + dhNext[bu + j];
          const i = gates[gi + j];
          const f = gates[gi + u + j];
          const g = gates[gi + 2 * u + j];
          const o = gates[gi + 3 * u + j];
          const tc = cellTanh[ci + j];
          const dc = dh * o * (1 - tc * tc) + dcNext[bu + j];
          const cPrev = step === 0 ? 0 : cell[prevC + j];
          dz[gi + j] = dc * g * (hard ? hardSigmoidSlope(i) : i * (1 - i));
          dz[gi + u + j] = dc * cPrev * (hard ? hardSigmoidSlope(f) : f * (1 - f));
          dz[gi + 2 * u + j] = dc * i * (1 - g * g);
          dz[gi + 3 * u + j] = dh * tc * (hard ? hardSigmoidSlope(o) : o * (1 - o));
          dcNext[bu + j] = dc * f;
        }
      }
      // dh_{step-1} = dz_step · recurrentᵀ: recurrent's rows [u, 4u] are already the Bt layout.
      if (step > 0) gemmNT(dhNext, 0, dz, step * batch * g4, recurrent, 0, batch, u, g4, false);
    }
    // Weight gradients for the whole sequence at once: dRecurrent = Σ_step h_{step-1}ᵀ dz_step.
    const rows = (T - 1) * batch;
    transpose(this.hiddenT, hidden, 0, rows, u);
    transpose(this.dzT, dz, batch * g4, rows, g4);
    gemmNT(gRecurrent, 0, this.hiddenT, 0, this.dzT, 0, u, g4, rows, true);
    for (let step = 0; step < T; step++) {
      const t = dir === 0 ? step : T - 1 - step;
      for (let b = 0; b < batch; b++) {
        const gi = (step * batch + b) * g4;
        const d = digits[b * T + t];
        const row = this.onehot ? d * g4 : 0;
        const x = this.onehot ? 1 : d;
        for (let k = 0; k < g4; k++) {
          const v = dz[gi + k];
          gBias[k] += v;
          gKernel[row + k] += x * v;
        }
      }
    }
  }
}

/** Keras's clipnorm (per tensor) and clipvalue (per element), in place. */
export function clipInPlace(grads: Float64Array[], clipnorm: number | null, clipvalue: number | null): void {
  for (const g of grads) {
    if (clipnorm !== null) {
      let sq = 0;
      for (let k = 0; k < g.length; k++) sq += g[k] * g[k];
      const norm = Math.sqrt(sq);
      if (norm > clipnorm) {
        const f = clipnorm / norm;
        for (let k = 0; k < g.length; k++) g[k] *= f;
      }
    }
    if (clipvalue !== null) {
      for (let k = 0; k < g.length; k++) g[k] = g[k] < -clipvalue ? -clipvalue : g[k] > clipvalue ? clipvalue : g[k];
    }
  }
}

/** The four optimizers with tfjs's update formulas and Keras's defaults, on typed arrays. */
export class TypedOptimizer {
  private readonly slots1: Float64Array[];
  private readonly slots2: Float64Array[];
  private step = 0;

  constructor(
    private readonly config: Pick<Config, 'optimizer' | 'lr' | 'adamEpsilon'>,
    params: Float64Array[],
  ) {
    const init = config.optimizer === 'adagrad' ? 0.1 : 0;
    this.slots1 = params.map((p) => new Float64Array(p.length).fill(init));
    this.slots2 = params.map((p) => new Float64Array(p.length));
  }

  apply(params: Float64Array[], grads: Float64Array[]): void {
    this.step++;
    const lr = this.config.lr;
    switch (this.config.optimizer) {
      case 'adam': {
        const b1 = 0.9;
        const b2 = 0.999;
        const eps = this.config.adamEpsilon;
        const c1 = 1 - b1 ** this.step;
        const c2 = 1 - b2 ** this.step;
        params.forEach((p, k) => {
          const g = grads[k];
          const m = this.slots1[k];
          const v = this.slots2[k];
          for (let i = 0; i < p.length; i++) {
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            p[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
          }
        });
        return;
      }
      case 'sgd':
        params.forEach((p, k) => {
          const g = grads[k];
          for (let i = 0; i < p.length; i++) p[i] -= lr * g[i];
        });
        return;
      case 'rmsprop': {
        const rho = 0.9;
        params.forEach((p, k) => {
          const g = grads[k];
          const ms = this.slots1[k];
          for (let i = 0; i < p.length; i++) {
            ms[i] = rho * ms[i] + (1 - rho) * g[i] * g[i];
            p[i] -= (lr * g[i]) / Math.sqrt(ms[i] + EPS);
          }
        });
        return;
      }
      case 'adagrad':
        params.forEach((p, k) => {
          const g = grads[k];
          const acc = this.slots1[k];
          for (let i = 0; i < p.length; i++) {
            acc[i] += g[i] * g[i];
            p[i] -= (lr * g[i]) / Math.sqrt(acc[i] + EPS);
          }
        });
        return;
    }
  }
}
