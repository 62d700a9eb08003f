import { CROSSENTROPY_EPSILON as EPS } from '../../config/constants.js';
import { gemmNT, hardSigmoid, hardSigmoidSlope, sigmoid, tanh, transpose } from './kernels.js';
import type { DirectionWeights } from './parameters.js';

/**
 * The fused engine for a tagger of text: Embedding(V, E, mask_zero) → LSTM (one or two directions)
 * → TimeDistributed(Dense(C, softmax)) → categorical crossentropy averaged over the real positions
 * (id 0 is padding), forward and backward on float64 typed arrays, in tf.layers' layouts and with
 * its masking rules: a hidden step keeps the previous state (tfjs's rnn), a bidirectional layer
 * outputs zeros there (Keras's, ../../model/keras/bidirectional.ts). Batches come trimmed to their
 * longest sentence, so T varies from batch to batch. Shapes: ids [B, T], features [B, T, H].
 */

/** What the network needs to know of the model. */
export interface TaggerShape {
  vocabulary: number;
  dim: number;
  units: number;
  tags: number;
  bidirectional: boolean;
  /** Gates use the hard sigmoid (Keras 2, tfjs's default) instead of the sigmoid. */
  hard: boolean;
}

/** The arrays of a tagger in model.trainableWeights order. */
export interface TaggerLayout {
  embeddings: Float64Array;
  directions: DirectionWeights[];
  dense: { kernel: Float64Array; bias: Float64Array };
}

/** Names `tensors` (trainableWeights order: embeddings; per direction kernel, recurrent kernel, bias; Dense kernel, bias), checking their sizes. */
export function taggerLayout(shape: TaggerShape, tensors: Float64Array[]): TaggerLayout {
  const { vocabulary: V, dim: E, units: u, tags: C } = shape;
  const count = shape.bidirectional ? 2 : 1;
  const sizes = [V * E, ...Array.from({ length: count }, () => [E * 4 * u, u * 4 * u, 4 * u]).flat(), count * u * C, C];
  if (tensors.length !== sizes.length || tensors.some((t, i) => t.length !== sizes[i]))
    throw new Error(`fused tagger: the model's weights (${tensors.map((t) => t.length).join(', ')}) do not match the shape (${sizes.join(', ')})`);
  let next = 1;
  const directions = Array.from({ length: count }, () => ({ kernel: tensors[next++], recurrent: tensors[next++], bias: tensors[next++] }));
  return { embeddings: tensors[0], directions, dense: { kernel: tensors[next], bias: tensors[next + 1] } };
}

/**
 * One masked LSTM direction over embedded inputs [B, T, E]. Its buffers are in processing order
 * [step, B, ·] (direction 1 reads right to left, Keras's goBackwards).
 */
class MaskedDirection {
  private rows = 0;
  private xs = new Float64Array(0); // [T·B, E]: inputs in processing order
  private gates = new Float64Array(0); // [T·B, 4u]: i, f, g, o after activation
  private cell = new Float64Array(0); // [T·B, u]
  private cellTanh = new Float64Array(0);
  private hidden = new Float64Array(0); // [T·B, u]: the state after the step (held at a hidden step)
  private dz = new Float64Array(0); // [T·B, 4u]
  private kernelT = new Float64Array(0); // [4u, E]
  private readonly recurrentT: Float64Array; // [4u, u]
  private dhNext = new Float64Array(0); // [B, u]
  private dcNext = new Float64Array(0);
  private held = new Float64Array(0); // [B, u]: dh of the rows a step hides
  private dxs = new Float64Array(0); // [T·B, E]
  private xsT = new Float64Array(0); // [E, T·B]
  private hiddenT = new Float64Array(0); // [u, T·B]
  private dzT = new Float64Array(0); // [4u, T·B]

  constructor(
    private readonly u: number,
    private readonly E: number,
    private readonly hard: boolean,
    private readonly reverse: boolean,
    /** Where this direction's outputs sit in a feature row of width H. */
    private readonly offset: number,
  ) {
    this.recurrentT = new Float64Array(4 * u * u);
    this.kernelT = new Float64Array(4 * u * E);
  }

  private ensure(rows: number, batch: number): void {
    if (rows > this.rows) {
      const { u, E } = this;
      this.rows = rows;
      this.xs = new Float64Array(rows * E);
      this.gates = new Float64Array(rows * 4 * u);
      this.cell = new Float64Array(rows * u);
      this.cellTanh = new Float64Array(rows * u);
      this.hidden = new Float64Array(rows * u);
      this.dz = new Float64Array(rows * 4 * u);
      this.dxs = new Float64Array(rows * E);
      this.xsT = new Float64Array(rows * E);
      this.hiddenT = new Float64Array(rows * u);
      this.dzT = new Float64Array(rows * 4 * u);
    }
    if (batch * this.u > this.dhNext.length) {
      this.dhNext = new Float64Array(batch * this.u);
      this.dcNext = new Float64Array(batch * this.u);
      this.held = new Float64Array(batch * this.u);
    }
  }

  private time(step: number, T: number): number {
    return this.reverse ? T - 1 - step : step;
  }

  /**
   * Runs the direction over x [B, T, E] (mask [B, T]: 1 = a word) and writes its outputs into
   * features [B, T, H]; `zeroHidden`: a hidden step outputs zeros (Bidirectional) rather than the state it keeps.
   */
  forward(w: DirectionWeights, x: Float64Array, mask: Uint8Array, batch: number, T: number, features: Float64Array, H: number, zeroHidden: boolean): void {
    const { u, E } = this;
    const g4 = 4 * u;
    const rows = batch * T;
    this.ensure(rows, batch);
    const { xs, gates, cell, cellTanh, hidden } = this;
    for (let s = 0; s < T; s++) {
      const t = this.time(s, T);
      for (let b = 0; b < batch; b++) xs.set(x.subarray((b * T + t) * E, (b * T + t + 1) * E), (s * batch + b) * E);
    }
    transpose(this.kernelT, w.kernel, 0, E, g4);
    transpose(this.recurrentT, w.recurrent, 0, u, g4);
    gemmNT(gates, 0, xs, 0, this.kernelT, 0, rows, g4, E, false);
    const hard = this.hard;
    for (let s = 0; s < T; s++) {
      if (s > 0) gemmNT(gates, s * batch * g4, hidden, (s - 1) * batch * u, this.recurrentT, 0, batch, g4, u, true);
      const t = this.time(s, T);
      for (let b = 0; b < batch; b++) {
        const gi = (s * batch + b) * g4;
        const ci = (s * batch + b) * u;
        const prev = ci - batch * u;
        if (!mask[b * T + t]) {
          // Hidden by the mask: the state is kept (zero before the first word), as tfjs's rnn keeps it.
          for (let j = 0; j < u; j++) {
            cell[ci + j] = s === 0 ? 0 : cell[prev + j];
            hidden[ci + j] = s === 0 ? 0 : hidden[prev + j];
          }
          continue;
        }
        for (let j = 0; j < u; j++) {
          const zi = gates[gi + j] + w.bias[j];
          const zf = gates[gi + u + j] + w.bias[u + j];
          const zg = gates[gi + 2 * u + j] + w.bias[2 * u + j];
          const zo = gates[gi + 3 * u + j] + w.bias[3 * u + j];
          const i = hard ? hardSigmoid(zi) : sigmoid(zi);
          const f = hard ? hardSigmoid(zf) : sigmoid(zf);
          const g = tanh(zg);
          const o = hard ? hardSigmoid(zo) : sigmoid(zo);
          const c = (s === 0 ? 0 : f * cell[prev + j]) + i * g;
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
    for (let s = 0; s < T; s++) {
      const t = this.time(s, T);
      for (let b = 0; b < batch; b++) {
        const src = (s * batch + b) * u;
        const dst = (b * T + t) * H + this.offset;
        const zero = zeroHidden && !mask[b * T + t];
        for (let j = 0; j < u; j++) features[dst + j] = zero ? 0 : hidden[src + j];
      }
    }
  }

  /**
   * Backpropagation through time from dFeatures [B, T, H]: adds this direction's weight gradients
   * into `g` and d loss / d x into dx [B, T, E].
   */
  backward(w: DirectionWeights, g: DirectionWeights, mask: Uint8Array, batch: number, T: number, dFeatures: Float64Array, H: number, dx: Float64Array): void {
    const { u, E } = this;
    const g4 = 4 * u;
    const rows = batch * T;
    const { gates, cell, cellTanh, dz, dhNext, dcNext, held } = this;
    const hard = this.hard;
    dhNext.fill(0, 0, batch * u);
    dcNext.fill(0, 0, batch * u);
    for (let s = T - 1; s >= 0; s--) {
      const t = this.time(s, T);
      for (let b = 0; b < batch; b++) {
        const fi = (b * T + t) * H + this.offset;
        const bu = b * u;
        const gi = (s * batch + b) * g4;
        const ci = (s * batch + b) * u;
        if (!mask[b * T + t]) {
          // A kept state passes its gradient straight to the step before; its output is zero or a copy of that state.
          for (let j = 0; j < g4; j++) dz[gi + j] = 0;
          for (let j = 0; j < u; j++) held[bu + j] = dFeatures[fi + j] + dhNext[bu + j];
          continue;
        }
        for (let j = 0; j < u; j++) {
          const dh = dFeatures[fi + j] + dhNext[bu + j];
          const i = gates[gi + j];
          const f = gates[gi + u + j];
          const gg = gates[gi + 2 * u + j];
          const o = gates[gi + 3 * u + j];
          const tc = cellTanh[ci + j];
          const dc = dh * o * (1 - tc * tc) + dcNext[bu + j];
          const cPrev = s === 0 ? 0 : cell[ci - batch * u + j];
          dz[gi + j] = dc * gg * (hard ? hardSigmoidSlope(i) : i * (1 - i));
          dz[gi + u + j] = dc * cPrev * (hard ? hardSigmoidSlope(f) : f * (1 - f));
          dz[gi + 2 * u + j] = dc * i * (1 - gg * gg);
          dz[gi + 3 * u + j] = dh * tc * (hard ? hardSigmoidSlope(o) : o * (1 - o));
          dcNext[bu + j] = dc * f;
          held[bu + j] = 0;
        }
      }
      if (s > 0) {
        // dh of the step before: through the recurrent kernel from a computed step, straight through a kept one.
        gemmNT(dhNext, 0, dz, s * batch * g4, w.recurrent, 0, batch, u, g4, false);
        for (let k = 0; k < batch * u; k++) dhNext[k] += held[k];
      }
    }
    for (let s = 0; s < rows; s++) for (let k = 0; k < g4; k++) g.bias[k] += dz[s * g4 + k];
    // dRecurrent = Σ h_{s−1}ᵀ dz_s, dKernel = xsᵀ dz, dxs = dz · kernelᵀ (a hidden step's dz is zero).
    if (T > 1) {
      transpose(this.hiddenT, this.hidden, 0, rows - batch, u);
      transpose(this.dzT, dz, batch * g4, rows - batch, g4);
      gemmNT(g.recurrent, 0, this.hiddenT, 0, this.dzT, 0, u, g4, rows - batch, true);
    }
    transpose(this.xsT, this.xs, 0, rows, E);
    transpose(this.dzT, dz, 0, rows, g4);
    gemmNT(g.kernel, 0, this.xsT, 0, this.dzT, 0, E, g4, rows, true);
    gemmNT(this.dxs, 0, dz, 0, w.kernel, 0, rows, E, g4, false);
    for (let s = 0; s < T; s++) {
      const t = this.time(s, T);
      for (let b = 0; b < batch; b++) {
        const src = (s * batch + b) * E;
        const dst = (b * T + t) * E;
        for (let e = 0; e < E; e++) dx[dst + e] += this.dxs[src + e];
      }
    }
  }
}

/** The fused tagger's forward and backward pass over a batch; the optimizer step is ./optimizers.ts. */
export class FusedTagger {
  readonly grads: Float64Array[];
  private readonly w: TaggerLayout;
  private readonly g: TaggerLayout;
  private readonly directions: MaskedDirection[];
  private readonly H: number;
  private capacity = 0;
  private x = new Float64Array(0); // [B, T, E]: the embedded words
  private dx = new Float64Array(0);
  private mask = new Uint8Array(0); // [B, T]
  private features = new Float64Array(0); // [B, T, H]
  private dFeatures = new Float64Array(0);
  private out = new Float64Array(0); // [B, T, C]: softmax probabilities
  private steps = 0;

  constructor(
    private readonly shape: TaggerShape,
    readonly tensors: Float64Array[],
  ) {
    this.w = taggerLayout(shape, tensors);
    this.grads = tensors.map((t) => new Float64Array(t.length));
    this.g = taggerLayout(shape, this.grads);
    const { units: u, dim: E, hard } = shape;
    this.directions = Array.from({ length: shape.bidirectional ? 2 : 1 }, (_, d) => new MaskedDirection(u, E, hard, d === 1, d * u));
    this.H = this.directions.length * u;
  }

  private ensure(rows: number): void {
    if (rows <= this.capacity) return;
    this.capacity = rows;
    const { dim: E, tags: C } = this.shape;
    this.x = new Float64Array(rows * E);
    this.dx = new Float64Array(rows * E);
    this.mask = new Uint8Array(rows);
    this.features = new Float64Array(rows * this.H);
    this.dFeatures = new Float64Array(rows * this.H);
    this.out = new Float64Array(rows * C);
  }

  /** Softmax probabilities [B, T, C] of word ids [B, T] (0 = padding; any id ≥ the vocabulary is refused earlier). */
  forward(ids: Int32Array, batch: number, T: number): Float64Array {
    const { dim: E, tags: C } = this.shape;
    const rows = batch * T;
    this.ensure(rows);
    this.steps = T;
    const { x, mask, features, out } = this;
    const { embeddings } = this.w;
    for (let r = 0; r < rows; r++) {
      mask[r] = ids[r] === 0 ? 0 : 1;
      x.set(embeddings.subarray(ids[r] * E, (ids[r] + 1) * E), r * E);
    }
    const H = this.H;
    const zeroHidden = this.directions.length === 2;
    for (const [k, d] of this.directions.entries()) d.forward(this.w.directions[k], x, mask, batch, T, features, H, zeroHidden);
    const { kernel, bias } = this.w.dense;
    for (let r = 0; r < rows; r++) {
      let max = -Infinity;
      for (let c = 0; c < C; c++) {
        let a = bias[c];
        for (let j = 0; j < H; j++) a += features[r * H + j] * kernel[j * C + c];
        out[r * C + c] = a;
        if (a > max) max = a;
      }
      let sum = 0;
      for (let c = 0; c < C; c++) sum += out[r * C + c] = Math.exp(out[r * C + c] - max);
      for (let c = 0; c < C; c++) out[r * C + c] /= sum;
    }
    return out.subarray(0, rows * C);
  }

  /**
   * Forward and backward for one batch: fills `grads` (trainableWeights order) and returns the mean
   * categorical crossentropy over the real positions, as Keras's masked loss. tags: [B, T] tag
   * ids (−1: no tag, at padding).
   */
  lossAndGradients(ids: Int32Array, tags: Int32Array, batch: number, T: number): number {
    const out = this.forward(ids, batch, T);
    for (const g of this.grads) g.fill(0);
    const { tags: C, dim: E } = this.shape;
    const H = this.H;
    const rows = batch * T;
    const { mask, features, dFeatures } = this;
    let real = 0;
    for (let r = 0; r < rows; r++) real += mask[r];
    const scale = 1 / Math.max(real, 1);
    const { kernel } = this.w.dense;
    const { kernel: gKernel, bias: gBias } = this.g.dense;
    const da = new Float64Array(C);
    let lossSum = 0;
    for (let r = 0; r < rows; r++) {
      const f = r * H;
      if (!mask[r]) {
        dFeatures.fill(0, f, f + H);
        continue;
      }
      lossSum += crossentropyRow(out, r * C, C, tags[r], scale, da);
      for (let c = 0; c < C; c++) gBias[c] += da[c];
      for (let j = 0; j < H; j++) {
        const v = features[f + j];
        let acc = 0;
        for (let c = 0; c < C; c++) {
          gKernel[j * C + c] += v * da[c];
          acc += da[c] * kernel[j * C + c];
        }
        dFeatures[f + j] = acc;
      }
    }
    this.dx.fill(0, 0, rows * E);
    for (const [k, d] of this.directions.entries()) d.backward(this.w.directions[k], this.g.directions[k], mask, batch, T, dFeatures, H, this.dx);
    const gEmb = this.g.embeddings;
    for (let r = 0; r < rows; r++) {
      const id = ids[r] * E;
      for (let e = 0; e < E; e++) gEmb[id + e] += this.dx[r * E + e];
    }
    return lossSum * scale;
  }

  /** The steps of the last batch. */
  get lastSteps(): number {
    return this.steps;
  }
}

/**
 * Categorical crossentropy of one softmax row as tfjs computes it (the row divided by its sum,
 * clipped to [ε, 1 − ε], −log of the true tag's), with its gradient at the softmax's input into
 * `da`, scaled by `scale`. tag −1 (no tag): loss 0, no gradient.
 */
function crossentropyRow(out: Float64Array, off: number, C: number, tag: number, scale: number, da: Float64Array): number {
  if (tag < 0) {
    da.fill(0);
    return 0;
  }
  let sum = 0;
  for (let c = 0; c < C; c++) sum += out[off + c];
  const p = out[off + tag] / sum;
  const clipped = p < EPS ? EPS : p > 1 - EPS ? 1 - EPS : p;
  // d loss / d p (zero where the clip is active), through p = o / Σo, then through the softmax.
  const gp = p >= EPS && p <= 1 - EPS ? -scale / clipped : 0;
  const dOut = (c: number) => (c === tag ? gp / sum : 0) - (gp * out[off + tag]) / (sum * sum);
  let dot = 0;
  for (let c = 0; c < C; c++) dot += dOut(c) * out[off + c];
  for (let c = 0; c < C; c++) da[c] = out[off + c] * (dOut(c) - dot);
  return -Math.log(clipped);
}
