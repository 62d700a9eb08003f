import type { OutputActivation } from '../../config/config.js';
import { NUM_CLASSES, SEQUENCE_LENGTH } from '../../task/data.js';
import { CROSSENTROPY_EPSILON as EPS } from '../../config/constants.js';
import { sigmoid } from './kernels.js';
import type { Layout } from './parameters.js';
import { nativeBookkeeping, type NativeKernels } from './wasm/instance.js';

const T = SEQUENCE_LENGTH;
const C = NUM_CLASSES;

/** Applies the head's activation to the pre-activations (a0, a1), writing the row at out[2r]. */
function activate(a0: number, a1: number, activation: OutputActivation, out: Float64Array, r: number): void {
  switch (activation) {
    case 'softmax': {
      const m = Math.max(a0, a1);
      const e0 = Math.exp(a0 - m);
      const e1 = Math.exp(a1 - m);
      out[2 * r] = e0 / (e0 + e1);
      out[2 * r + 1] = e1 / (e0 + e1);
      return;
    }
    case 'sigmoid':
      out[2 * r] = sigmoid(a0);
      out[2 * r + 1] = sigmoid(a1);
      return;
    case 'relu':
      out[2 * r] = a0 > 0 ? a0 : 0;
      out[2 * r + 1] = a1 > 0 ? a1 : 0;
      return;
    case 'linear':
      out[2 * r] = a0;
      out[2 * r + 1] = a1;
  }
}

/** From d loss / d output (do0, do1) and the outputs (o0, o1), the gradient at the pre-activations, into da[0..1]. */
function activationBackward(do0: number, do1: number, o0: number, o1: number, activation: OutputActivation, da: Float64Array): void {
  switch (activation) {
    case 'softmax': {
      const dot = do0 * o0 + do1 * o1;
      da[0] = o0 * (do0 - dot);
      da[1] = o1 * (do1 - dot);
      return;
    }
    case 'sigmoid':
      da[0] = do0 * o0 * (1 - o0);
      da[1] = do1 * o1 * (1 - o1);
      return;
    case 'relu':
      da[0] = o0 > 0 ? do0 : 0;
      da[1] = o1 > 0 ? do1 : 0;
      return;
    case 'linear':
      da[0] = do0;
      da[1] = do1;
  }
}

/** The TimeDistributed Dense(2) head and its activation: features [rows, H] → out [rows, 2]. */
export function headForward(features: Float64Array, rows: number, H: number, dense: Layout['dense'], activation: OutputActivation, out: Float64Array): void {
  // The sums compiled when the native kernels run (the same bits); the activation here (Math.exp's bits are V8's).
  (nativeBookkeeping() ?? JS_SUMS).denseForward(features, rows, H, dense.kernel, dense.bias, out);
  for (let r = 0; r < rows; r++) activate(out[2 * r], out[2 * r + 1], activation, out, r);
}

/** The Dense(2) head's sums in JavaScript: what native/kernels.cc's denseForward and denseBackward compute, in the same order. */
const JS_SUMS: Pick<NativeKernels, 'denseForward' | 'denseBackward'> = {
  /** Pre-activations of `rows` rows of features [rows, H] into out [rows, 2]. */
  denseForward(features, rows, H, kernel, bias, out) {
    for (let r = 0; r < rows; r++) {
      let a0 = bias[0];
      let a1 = bias[1];
      const f = r * H;
      for (let j = 0; j < H; j++) {
        const v = features[f + j];
        a0 += v * kernel[j * C];
        a1 += v * kernel[j * C + 1];
      }
      out[2 * r] = a0;
      out[2 * r + 1] = a1;
    }
  },
  /** From da [rows, 2]: the head's gradients (summed in row order) and dFeatures [rows, H]. */
  denseBackward(features, da, rows, H, kernel, gKernel, gBias, dFeatures) {
    for (let p = 0; p < rows; p++) {
      const da0 = da[2 * p];
      const da1 = da[2 * p + 1];
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
  },
};

/** d loss / d pre-activation of a batch's positions [rows, 2], kept from batch to batch (it grows to the largest). */
let das = new Float64Array(0);

/**
 * Categorical crossentropy of one output row as tfjs defines it (the row divided by its sum,
 * clipped to [ε, 1 − ε], then −Σ y log p), with its gradient d loss / d output into g[0..1],
 * scaled by `scale`. Returns the row's loss.
 */
function crossentropyRow(o0: number, o1: number, y1: number, scale: number, g: Float64Array): number {
  const y0 = 1 - y1;
  const sum = o0 + o1;
  const p0 = o0 / sum;
  const p1 = o1 / sum;
  // Comparisons with NaN are false, so a NaN probability stays NaN, as tfjs's clip leaves it on cpu.
  const c0 = p0 < EPS ? EPS : p0 > 1 - EPS ? 1 - EPS : p0;
  const c1 = p1 < EPS ? EPS : p1 > 1 - EPS ? 1 - EPS : p1;
  // d loss / d p_k, zero where the clip is active (tfjs's clipByValue gradient).
  const g0 = p0 >= EPS && p0 <= 1 - EPS ? (-y0 / c0) * scale : 0;
  const g1 = p1 >= EPS && p1 <= 1 - EPS ? (-y1 / c1) * scale : 0;
  // Through p = o / sum(o).
  const gp = (g0 * o0 + g1 * o1) / (sum * sum);
  g[0] = g0 / sum - gp;
  g[1] = g1 / sum - gp;
  return -(y0 * Math.log(c0) + y1 * Math.log(c1));
}

/**
 * The mean crossentropy over the batch's B·T positions, and its gradient back through the head:
 * accumulates the head's gradients into `gDense`, writes the gradient at the head's input into
 * `dFeatures` [rows, H]. labels: [B, T] of 0/1.
 */
export function crossentropyBackward(
  out: Float64Array,
  labels: Int32Array,
  batch: number,
  features: Float64Array,
  H: number,
  dense: Layout['dense'],
  gDense: Layout['dense'],
  activation: OutputActivation,
  dFeatures: Float64Array,
): number {
  const rows = batch * T;
  const scale = 1 / rows;
  const dOut = new Float64Array(2);
  const da = new Float64Array(2);
  if (das.length < 2 * rows) das = new Float64Array(2 * rows);
  let lossSum = 0;
  // Each position's loss and da here (Math.log's bits are V8's), then the head's sums.
  for (let p = 0; p < rows; p++) {
    lossSum += crossentropyRow(out[2 * p], out[2 * p + 1], labels[p], scale, dOut);
    activationBackward(dOut[0], dOut[1], out[2 * p], out[2 * p + 1], activation, da);
    das[2 * p] = da[0];
    das[2 * p + 1] = da[1];
  }
  (nativeBookkeeping() ?? JS_SUMS).denseBackward(features, das, rows, H, dense.kernel, gDense.kernel, gDense.bias, dFeatures);
  return lossSum * scale;
}
