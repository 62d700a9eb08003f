// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');
import type { Config, OutputActivation, RecurrentActivation } from '../model/config.js';
import { inputWidth, NUM_CLASSES, SEQUENCE_LENGTH } from '../task/data.js';

/**
 * The fused engine: the whole training step of LSTM (one or two directions) → optional
 * BatchNormalization / LayerNormalization → TimeDistributed Dense(2) → categorical crossentropy →
 * optimizer, computed on typed arrays in one pass, with its own backpropagation through time.
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

/** What the network needs to know of the config (the optimizer settings go to TypedOptimizer). */
export type NetworkConfig = Pick<Config, 'units' | 'encoding' | 'bidirectional' | 'recurrentActivation' | 'activation' | 'batchNorm' | 'layerNorm'>;

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

/**
 * Parameters in the order of `model.trainableWeights`: per LSTM direction kernel, recurrent kernel,
 * bias; BatchNormalization gamma, beta; LayerNormalization gamma, beta; the Dense kernel [H, 2] and
 * bias [2]. `state` holds the non-trainable weights (BatchNormalization's moving mean and
 * variance). Float64 copies.
 */
export interface Parameters {
  tensors: Float64Array[];
  shapes: number[][];
  state: Float64Array[];
  stateShapes: number[][];
}

export function readParameters(model: tfl.LayersModel): Parameters {
  const copy = (weights: tfl.LayerVariable[]) => weights.map((w) => Float64Array.from(w.read().dataSync()));
  return {
    tensors: copy(model.trainableWeights),
    shapes: model.trainableWeights.map((w) => w.shape as number[]),
    state: copy(model.nonTrainableWeights),
    stateShapes: model.nonTrainableWeights.map((w) => w.shape as number[]),
  };
}

/** A deep copy, to return to (Ctrl-C restores the last completed epoch's weights). */
export function copyParameters(p: Parameters): Parameters {
  return { ...p, tensors: p.tensors.map((t) => t.slice()), state: p.state.map((t) => t.slice()) };
}

/** Writes trained parameters and moving statistics back into the tfjs model (rounded to float32). */
export function writeParameters(model: tfl.LayersModel, params: Parameters): void {
  const write = (weights: tfl.LayerVariable[], values: Float64Array[], shapes: number[][]) =>
    weights.forEach((w, k) => {
      const t = tf.tensor(Float32Array.from(values[k]), shapes[k]);
      w.write(t);
      t.dispose();
    });
  write(model.trainableWeights, params.tensors, params.shapes);
  write(model.nonTrainableWeights, params.state, params.stateShapes);
}

/** tfjs's BatchNormalization and LayerNormalization defaults. */
const NORM_EPSILON = 1e-3;
const BN_MOMENTUM = 0.99;

/**
 * Normalises x [rows, width] into y, per column over the rows when `columnStats` is given (batch
 * normalisation in training mode: population variance, as tfjs's moments; the column means and
 * variances are left there for the moving averages) or else per row over the columns (layer
 * normalisation); then y = gamma · x̂ + beta. Keeps x̂ and 1/σ for the backward pass.
 */
function normalizeForward(
  x: Float64Array, y: Float64Array, xhat: Float64Array, invStd: Float64Array,
  gamma: Float64Array, beta: Float64Array, rows: number, width: number,
  columnStats?: { mean: Float64Array; variance: Float64Array },
): void {
  if (columnStats) {
    const { mean, variance } = columnStats;
    mean.fill(0);
    variance.fill(0);
    for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) mean[c] += x[r * width + c];
    for (let c = 0; c < width; c++) mean[c] /= rows;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < width; c++) {
        const d = x[r * width + c] - mean[c];
        variance[c] += d * d;
      }
    }
    for (let c = 0; c < width; c++) {
      variance[c] /= rows;
      invStd[c] = 1 / Math.sqrt(variance[c] + NORM_EPSILON);
    }
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < width; c++) {
        const k = r * width + c;
        xhat[k] = (x[k] - mean[c]) * invStd[c];
        y[k] = gamma[c] * xhat[k] + beta[c];
      }
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    let m = 0;
    for (let c = 0; c < width; c++) m += x[o + c];
    m /= width;
    let v = 0;
    for (let c = 0; c < width; c++) v += (x[o + c] - m) * (x[o + c] - m);
    const inv = 1 / Math.sqrt(v / width + NORM_EPSILON);
    invStd[r] = inv;
    for (let c = 0; c < width; c++) {
      xhat[o + c] = (x[o + c] - m) * inv;
      y[o + c] = gamma[c] * xhat[o + c] + beta[c];
    }
  }
}

/**
 * Backward of `normalizeForward`: from dy [rows, width] accumulates dGamma, dBeta and writes dx.
 * With x̂ normalised over a group of n values: dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)), g = gamma·dy.
 */
function normalizeBackward(
  dy: Float64Array, dx: Float64Array, xhat: Float64Array, invStd: Float64Array,
  gamma: Float64Array, dGamma: Float64Array, dBeta: Float64Array, rows: number, width: number, perColumn: boolean,
): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < width; c++) {
      const k = r * width + c;
      dGamma[c] += dy[k] * xhat[k];
      dBeta[c] += dy[k];
    }
  }
  if (perColumn) {
    for (let c = 0; c < width; c++) {
      let sg = 0;
      let sgx = 0;
      for (let r = 0; r < rows; r++) {
        const k = r * width + c;
        const g = gamma[c] * dy[k];
        sg += g;
        sgx += g * xhat[k];
      }
      const mg = sg / rows;
      const mgx = sgx / rows;
      for (let r = 0; r < rows; r++) {
        const k = r * width + c;
        dx[k] = invStd[c] * (gamma[c] * dy[k] - mg - xhat[k] * mgx);
      }
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    let sg = 0;
    let sgx = 0;
    for (let c = 0; c < width; c++) {
      const g = gamma[c] * dy[o + c];
      sg += g;
      sgx += g * xhat[o + c];
    }
    const mg = sg / width;
    const mgx = sgx / width;
    for (let c = 0; c < width; c++) dx[o + c] = invStd[r] * (gamma[c] * dy[o + c] - mg - xhat[o + c] * mgx);
  }
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
  /** Indices into params.tensors: BatchNormalization gamma (beta follows), LayerNormalization gamma, Dense kernel; −1 when absent. */
  private readonly bn: number;
  private readonly ln: number;
  private readonly dense: number;
  private capacity = 0;
  private states: DirectionState[] = [];
  private features = new Float64Array(0); // [B, T, H]: the LSTM's outputs
  private outputs = new Float64Array(0); // [B, T, 2] after the head's activation
  private norm: Record<"bnOut" | "bnXhat" | "lnOut" | "lnXhat" | "lnInvStd" | "dA" | "dB", Float64Array> = { bnOut: new Float64Array(0), bnXhat: new Float64Array(0), lnOut: new Float64Array(0), lnXhat: new Float64Array(0), lnInvStd: new Float64Array(0), dA: new Float64Array(0), dB: new Float64Array(0) };
  private readonly bnInvStd: Float64Array;
  private readonly bnStats: { mean: Float64Array; variance: Float64Array };
  private headInput: Float64Array = new Float64Array(0); // [B, T, H]: what the Dense layer reads
  private dFeatures: Float64Array = new Float64Array(0); // [B, T, H]: gradient at the LSTM's outputs
  private dhNext = new Float64Array(0); // [B, u]
  private dcNext = new Float64Array(0); // [B, u]
  private recurrentT: Float64Array; // [4u, u]
  private hiddenT = new Float64Array(0); // [u, (T-1)·B]
  private dzT = new Float64Array(0); // [4u, (T-1)·B]

  constructor(config: NetworkConfig, params: Parameters) {
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
    let next = 3 * this.directions;
    this.bn = config.batchNorm ? next : -1;
    if (config.batchNorm) next += 2;
    this.ln = config.layerNorm ? next : -1;
    if (config.layerNorm) next += 2;
    this.dense = next;
    this.bnInvStd = new Float64Array(this.hiddenWidth);
    this.bnStats = { mean: new Float64Array(this.hiddenWidth), variance: new Float64Array(this.hiddenWidth) };
    if (params.tensors.length !== next + 2 || params.state.length !== (config.batchNorm ? 2 : 0)) {
      throw new Error(`fused engine: the model's weights do not match the config (${params.tensors.length} trainable, ${params.state.length} other)`);
    }
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
    const rows = batch * T;
    const size = rows * this.hiddenWidth;
    this.features = new Float64Array(size);
    this.outputs = new Float64Array(rows * C);
    this.norm = {
      bnOut: new Float64Array(this.bn >= 0 ? size : 0),
      bnXhat: new Float64Array(this.bn >= 0 ? size : 0),
      lnOut: new Float64Array(this.ln >= 0 ? size : 0),
      lnXhat: new Float64Array(this.ln >= 0 ? size : 0),
      lnInvStd: new Float64Array(this.ln >= 0 ? rows : 0),
      dA: new Float64Array(size),
      dB: new Float64Array(this.bn >= 0 || this.ln >= 0 ? size : 0),
    };
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

  /**
   * The head's post-activation outputs [B, T, 2] for a batch of digit sequences [B, T], as in
   * training: normalisation layers use the batch's statistics (tfjs's `apply(x, {training: true})`).
   */
  forward(digits: Int32Array, batch: number): Float64Array {
    this.ensureCapacity(batch);
    for (let dir = 0; dir < this.directions; dir++) this.forwardDirection(dir, digits, batch);
    const H = this.hiddenWidth;
    const rows = batch * T;
    const p = this.params.tensors;
    let features: Float64Array = this.features;
    if (this.bn >= 0) {
      normalizeForward(features, this.norm.bnOut, this.norm.bnXhat, this.bnInvStd, p[this.bn], p[this.bn + 1], rows, H, this.bnStats);
      features = this.norm.bnOut;
    }
    if (this.ln >= 0) {
      normalizeForward(features, this.norm.lnOut, this.norm.lnXhat, this.norm.lnInvStd, p[this.ln], p[this.ln + 1], rows, H);
      features = this.norm.lnOut;
    }
    this.headInput = features;
    const kernel = p[this.dense];
    const bias = p[this.dense + 1];
    const out = this.outputs;
    const activation = this.activation;
    for (let r = 0; r < rows; r++) {
      let a0 = bias[0];
      let a1 = bias[1];
      const f = r * H;
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
      out[2 * r] = o0;
      out[2 * r + 1] = o1;
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
    if (this.bn >= 0) this.updateMovingStatistics();
    for (const g of this.grads) g.fill(0);
    const H = this.hiddenWidth;
    const nd = this.directions;
    const kernel = this.params.tensors[this.dense];
    const gKernel = this.grads[this.dense];
    const gBias = this.grads[this.dense + 1];
    const features = this.headInput;
    const dFeatures = this.norm.dA;
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
    this.dFeatures = this.normalizationBackward(batch * T);
    for (let dir = 0; dir < nd; dir++) this.backwardDirection(dir, digits, batch);
    return lossSum * scale;
  }

  /** Back through LayerNormalization, then BatchNormalization: returns the gradient at the LSTM's outputs. */
  private normalizationBackward(rows: number): Float64Array {
    const H = this.hiddenWidth;
    const p = this.params.tensors;
    let d = this.norm.dA;
    let spare = this.norm.dB;
    if (this.ln >= 0) {
      normalizeBackward(d, spare, this.norm.lnXhat, this.norm.lnInvStd, p[this.ln], this.grads[this.ln], this.grads[this.ln + 1], rows, H, false);
      [d, spare] = [spare, d];
    }
    if (this.bn >= 0) {
      normalizeBackward(d, spare, this.norm.bnXhat, this.bnInvStd, p[this.bn], this.grads[this.bn], this.grads[this.bn + 1], rows, H, true);
      [d, spare] = [spare, d];
    }
    return d;
  }

  /** BatchNormalization's moving averages after a training step, as tfjs: m ← m − (m − batch value)·(1 − momentum). */
  private updateMovingStatistics(): void {
    const [movingMean, movingVariance] = this.params.state;
    for (let c = 0; c < this.hiddenWidth; c++) {
      movingMean[c] -= (movingMean[c] - this.bnStats.mean[c]) * (1 - BN_MOMENTUM);
      movingVariance[c] -= (movingVariance[c] - this.bnStats.variance[c]) * (1 - BN_MOMENTUM);
    }
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
