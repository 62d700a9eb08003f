import { CROSSENTROPY_EPSILON as EPS } from '../../config/constants.js';
import { hardSigmoid, hardSigmoidSlope, sigmoid, tanh } from './kernels.js';
import { matricesFor, transposeInto, type Floats, type Matrices } from './matrices.js';
import { readParameters, type DirectionWeights } from './parameters.js';
import { nativeBookkeeping } from './wasm/instance.js';
import { wordsInRow } from '../../task/tag-data.js';
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tfl = require('@tensorflow/tfjs-layers');

/**
 * The fused engine for a tagger of text: Embedding(V, E, mask_zero) → LSTM (one or two directions)
 * → TimeDistributed(Dense(C, softmax)) → categorical crossentropy averaged over the real positions
 * (id 0 is padding), forward and backward in float32 WebAssembly or float64 JavaScript
 * (./matrices.ts), in tf.layers' layouts and with
 * its masking rules: a sentence's state starts at zero and ends with its last word, as tfjs's masked
 * rnn keeps it, and only words are computed (packed sequences, longest first). Outputs at padding are
 * zero (Keras's Bidirectional, ../../model/keras/bidirectional.ts; tfjs's LSTM would repeat the last
 * state there, which no loss or score reads). Batches come trimmed to their longest sentence, so T
 * varies from batch to batch. Shapes: ids [B, T], features [B, T, H].
 */

/** What the network needs to know of the model. */
export interface TaggerShape {
  vocabulary: number;
  dim: number;
  units: number;
  tags: number;
  bidirectional: boolean;
  /** The recurrent cell: Keras's LSTM, or its GRU as TensorFlow.js computes it (reset_after=False); LSTM when not given. */
  cell?: 'lstm' | 'gru';
  /** Stacked recurrent layers of `units` each (Keras's LSTM(return_sequences=True) one above the other); 1 when not given. */
  layers?: number;
  /** Gates use the hard sigmoid (Keras 2, tfjs's default) instead of the sigmoid. */
  hard: boolean;
  /** Keras's LSTM(dropout, recurrent_dropout): shares of the inputs and of the carried state zeroed while training. */
  dropout?: number;
  recurrentDropout?: number;
}

/** Whether a tagger of `shape` drops anything out in training (it then needs a random source a batch). */
export function dropsOut(shape: Pick<TaggerShape, 'dropout' | 'recurrentDropout'>): boolean {
  return (shape.dropout ?? 0) > 0 || (shape.recurrentDropout ?? 0) > 0;
}

/**
 * One direction's dropout masks for a batch, as Keras 3's LSTMCell draws them: one per sentence
 * (batch row) for all its steps, 0 or 1 / (1 − rate) per input feature [B, E] and per unit [B, u].
 */
export interface DropoutMasks {
  input?: Float64Array;
  recurrent?: Float64Array;
}

/** The arrays of a tagger in model.trainableWeights order. */
export interface TaggerLayout {
  embeddings: Float64Array;
  /** Layer by layer, direction by direction: layer l's direction d is [l × directions + d]. */
  directions: DirectionWeights[];
  dense: { kernel: Float64Array; bias: Float64Array };
}

/** Names `tensors` (trainableWeights order: embeddings; per direction kernel, recurrent kernel, bias; Dense kernel, bias), checking their sizes. */
export function taggerLayout(shape: TaggerShape, tensors: Float64Array[]): TaggerLayout {
  const count = (shape.bidirectional ? 2 : 1) * (shape.layers ?? 1);
  const sizes = taggerSizes(shape);
  if (tensors.length !== sizes.length || tensors.some((t, i) => t.length !== sizes[i]))
    throw new Error(`fused tagger: the model's weights (${tensors.map((t) => t.length).join(', ')}) do not match the shape (${sizes.join(', ')})`);
  let next = 1;
  const directions = Array.from({ length: count }, () => ({ kernel: tensors[next++], recurrent: tensors[next++], bias: tensors[next++] }));
  return { embeddings: tensors[0], directions, dense: { kernel: tensors[next], bias: tensors[next + 1] } };
}

/** The sizes of a tagger's weights in model.trainableWeights order. */
function taggerSizes(shape: TaggerShape): number[] {
  const { vocabulary: V, dim: E, units: u, tags: C } = shape;
  const D = shape.bidirectional ? 2 : 1;
  const G = gatesOf(shape) * u;
  const layer = (l: number) => Array.from({ length: D }, () => [inputWidth(shape, l) * G, u * G, G]).flat();
  return [V * E, ...Array.from({ length: shape.layers ?? 1 }, (_, l) => layer(l)).flat(), D * u * C, C];
}

/** Gates per unit: the LSTM's i, f, g, o; the GRU's z, r, h. */
const gatesOf = (shape: Pick<TaggerShape, 'cell'>) => (shape.cell === 'gru' ? 3 : 4);

/** The width of layer l's inputs: the embedding for the first, the features (all directions) of the layer below for the rest. */
function inputWidth(shape: TaggerShape, l: number): number {
  return l === 0 ? shape.dim : (shape.bidirectional ? 2 : 1) * shape.units;
}

/**
 * Where a layer reads its inputs: the embedding rows of the words' ids (the first layer, whose
 * gradient goes into the embeddings' rows), or the features [B, T, width] of the layer below (whose
 * gradient goes into that layer's dFeatures). Positions are rows b × T + t.
 */
type Source = { embeddings: Float64Array; ids: Int32Array } | { features: Floats };

/**
 * A batch's sentences longest first, as packed sequences: at each time t the sentences still going
 * are a prefix of that order. Only words are computed; what a mask hides costs nothing.
 */
export interface Packing {
  /** The batch row of each sorted sentence. */
  order: Int32Array;
  /** Sentences longer than t, for each t < T (a prefix of `order`). */
  active: Int32Array;
  /** Words in the batch. */
  words: number;
}

/** The packing of ids [B, T] whose padding (id 0) trails each sentence; throws on a word after padding (never made by seq-tag's encoder). */
export function packBatch(ids: Int32Array, batch: number, T: number): Packing {
  const lengths = new Int32Array(batch);
  let words = 0;
  for (let b = 0; b < batch; b++) {
    const n = wordsInRow(ids, b, T);
    if (n < 0) throw new Error(`fused tagger: a word after padding in row ${b}`);
    lengths[b] = n;
    words += n;
  }
  // Stable, longest first: equal lengths keep their batch order.
  const order = Int32Array.from({ length: batch }, (_, b) => b).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const active = new Int32Array(T);
  for (let t = 0; t < T; t++) {
    let k = 0;
    while (k < batch && lengths[order[k]] > t) k++;
    active[t] = k;
  }
  return { order, active, words };
}

/**
 * One LSTM direction over packed sentences (direction 1 reads right to left, Keras's goBackwards).
 * Its buffers hold one row per word in processing order: step s's active sentences at offset[s].
 * A sentence is hidden by the mask before its first word (right to left) or after its last (left to
 * right): it starts from a zero state, as tfjs's masked rnn keeps it until then. Its arrays and
 * products are the tagger's arithmetic's (./matrices.ts); its weights, float64, are copied in.
 */
/** One direction of one layer over a packed batch (the LSTM's or the GRU's). */
interface Direction {
  forward(w: DirectionWeights, source: Source, pack: Packing, batch: number, T: number, features: Floats, H: number, masks?: DropoutMasks): void;
  backward(
    g: DirectionWeights,
    source: Source,
    pack: Packing,
    batch: number,
    T: number,
    dFeatures: Floats,
    H: number,
    dInput: Float64Array | Floats,
    masks?: DropoutMasks,
  ): void;
}

/**
 * What a direction of either cell keeps for a batch: its inputs, gate values and states by packed
 * word (grown as batches need, with a little room: a float32 tagger's memory keeps what it handed
 * out), its weights as its arithmetic holds them with their transposes and gradients, and the
 * steps' layout. `G` gates per unit; `grow` adds a cell's own buffers.
 */
abstract class PackedRecurrence {
  private capacity = 0;
  private batchCapacity = 0;
  protected xs: Floats; // [N, E]: inputs
  protected gates: Floats; // [N, G u]: after activation
  protected hidden: Floats; // [N, u]
  protected hiddenPrev: Floats; // [N, u]: the state each word's step starts from
  protected dz: Floats; // [N, G u]: at the gates' inputs
  protected dxs: Floats; // [N, E]
  protected readonly kernel: Floats; // [E, G u]
  protected readonly recurrent: Floats; // [u, G u]
  protected readonly kernelT: Floats; // [G u, E]
  protected readonly recurrentT: Floats; // [G u, u]
  protected readonly gKernel: Floats;
  protected readonly gRecurrent: Floats;
  protected dhNext: Floats; // [B, u], by sorted sentence
  protected offsets = new Int32Array(0); // [T + 1]: first row of each step
  protected counts = new Int32Array(0); // [T]: sentences active at each step

  constructor(
    protected readonly m: Matrices,
    protected readonly u: number,
    protected readonly E: number,
    protected readonly hard: boolean,
    protected readonly reverse: boolean,
    /** Where this direction's outputs sit in a feature row of width H. */
    protected readonly offset: number,
    /** Gates per unit. */
    private readonly G: number,
  ) {
    this.xs = this.gates = this.hidden = this.hiddenPrev = this.dz = this.dxs = this.dhNext = m.alloc(0);
    this.kernel = m.alloc(E * G * u);
    this.recurrent = m.alloc(u * G * u);
    this.kernelT = m.alloc(G * u * E);
    this.recurrentT = m.alloc(G * u * u);
    this.gKernel = m.alloc(E * G * u);
    this.gRecurrent = m.alloc(u * G * u);
  }

  /** A cell's own buffers for `words` packed words and `batch` sentences. */
  protected abstract grow(words: number, batch: number): void;

  protected ensure(words: number, batch: number, T: number): void {
    const { u, E, m, G } = this;
    if (words > this.capacity) {
      const n = (this.capacity = Math.max(words, Math.ceil(this.capacity * 1.25)));
      this.xs = m.alloc(n * E);
      this.gates = m.alloc(n * G * u);
      this.hidden = m.alloc(n * u);
      this.hiddenPrev = m.alloc(n * u);
      this.dz = m.alloc(n * G * u);
      this.dxs = m.alloc(n * E);
      this.grow(n, 0);
    }
    if (batch > this.batchCapacity) {
      this.batchCapacity = batch;
      this.dhNext = m.alloc(batch * u);
      this.grow(0, batch);
    }
    if (T + 1 > this.offsets.length) {
      this.offsets = new Int32Array(T + 1);
      this.counts = new Int32Array(T);
    }
  }

  /**
   * The start of a forward pass: room for the batch, its words' inputs gathered (gatherInputs), the
   * weights copied into the arithmetic's arrays, and every word's input projection x · kernel into
   * `gates` in one product; the cell's steps add the recurrent part.
   */
  protected project(w: DirectionWeights, source: Source, pack: Packing, batch: number, T: number, masks: DropoutMasks): void {
    const g = this.G * this.u;
    this.ensure(pack.words, batch, T);
    gatherInputs(source, pack, T, this.E, this.reverse, masks, this.xs, this.offsets, this.counts);
    this.kernel.set(w.kernel);
    this.recurrent.set(w.recurrent);
    this.m.gemm(this.gates, 0, g, this.xs, 0, this.E, 1, this.kernel, 0, g, pack.words, g, this.E, false);
  }

  /**
   * The end of a backward pass, once `dz` holds every word's gradient at the gates' inputs: the
   * bias's and the kernel's gradients into `grads`, and d loss / d input of each word (dz · kernelᵀ,
   * through the input mask) into `dInput`; the cell adds its recurrent kernel's gradient.
   */
  protected inputGradients(grads: DirectionWeights, source: Source, pack: Packing, T: number, dInput: Float64Array | Floats, masks: DropoutMasks): void {
    const { E, m, dz } = this;
    const g = this.G * this.u;
    const N = pack.words;
    for (let r = 0; r < N; r++) for (let k = 0; k < g; k++) grads.bias[k] += dz[r * g + k];
    transposeInto(this.kernelT, this.kernel, E, g);
    m.gemm(this.gKernel, 0, g, this.xs, 0, 1, E, dz, 0, g, E, g, N, false);
    m.gemm(this.dxs, 0, E, dz, 0, g, 1, this.kernelT, 0, E, N, E, g, false);
    addInto(grads.kernel, this.gKernel);
    scatterInputGradients(this.dxs, source, pack, T, E, this.reverse, this.offsets, this.counts, masks, dInput);
  }
}

/** One direction of an LSTM layer (gates i, f, g, o). */
class PackedDirection extends PackedRecurrence implements Direction {
  private cell: Floats; // [N, u]
  private cellTanh: Floats;
  private dcNext = new Float64Array(0); // [B, u]
  /** The cells of a step in the native build (float32 activations, as the digit network's) when it runs. */
  private readonly native = this.m.precision === 'float32' ? nativeBookkeeping() : null;

  constructor(m: Matrices, u: number, E: number, hard: boolean, reverse: boolean, offset: number) {
    super(m, u, E, hard, reverse, offset, 4);
    this.cell = this.cellTanh = m.alloc(0);
  }

  protected grow(words: number, batch: number): void {
    if (words) {
      this.cell = this.m.alloc(words * this.u);
      this.cellTanh = this.m.alloc(words * this.u);
    }
    if (batch) this.dcNext = new Float64Array(batch * this.u);
  }

  private time(step: number, T: number): number {
    return this.reverse ? T - 1 - step : step;
  }

  /** Runs the direction over the words of `source` and writes its outputs into features [B, T, H] (zero where the mask hides a step). */
  forward(w: DirectionWeights, source: Source, pack: Packing, batch: number, T: number, features: Floats, H: number, masks: DropoutMasks = {}): void {
    const { u, m } = this;
    const g4 = 4 * u;
    this.project(w, source, pack, batch, T, masks);
    const { gates, cell, cellTanh, hidden, hiddenPrev, offsets, counts } = this;
    const hard = this.hard;
    for (let s = 0; s < T; s++) {
      const k = counts[s];
      // Sentences that were active the step before carry its state; the others start from zero.
      const carried = s === 0 ? 0 : Math.min(k, counts[s - 1]);
      const row = offsets[s];
      const prevRow = s === 0 ? 0 : offsets[s - 1];
      // The state each sentence starts this step from, through its recurrent dropout mask: what the recurrent product reads.
      for (let i = 0; i < k; i++) {
        const ci = (row + i) * u;
        const pi = (prevRow + i) * u;
        const mask = masks.recurrent;
        const mi = pack.order[i] * u;
        for (let j = 0; j < u; j++) hiddenPrev[ci + j] = i >= carried ? 0 : mask ? hidden[pi + j] * mask[mi + j] : hidden[pi + j];
      }
      if (carried > 0) m.gemm(gates, row * g4, g4, hiddenPrev, row * u, u, 1, this.recurrent, 0, g4, carried, g4, u, true);
      if (this.native && k > 0) {
        const at = (a: Floats, r: number) => a.byteOffset + 4 * r * u;
        this.native.taggerCells(
          m.buffer!,
          at(gates, 4 * row),
          at(cell, row),
          at(cellTanh, row),
          at(hidden, row),
          carried > 0 ? at(cell, prevRow) : -1,
          k,
          carried,
          u,
          hard,
          w.bias,
        );
        continue;
      }
      for (let i = 0; i < k; i++) {
        const gi = (row + i) * g4;
        const ci = (row + i) * u;
        const pi = (prevRow + i) * u;
        const has = i < carried;
        for (let j = 0; j < u; j++) {
          const i_ = gates[gi + j] + w.bias[j];
          const zf = gates[gi + u + j] + w.bias[u + j];
          const zg = gates[gi + 2 * u + j] + w.bias[2 * u + j];
          const zo = gates[gi + 3 * u + j] + w.bias[3 * u + j];
          const ig = hard ? hardSigmoid(i_) : sigmoid(i_);
          const f = hard ? hardSigmoid(zf) : sigmoid(zf);
          const g = tanh(zg);
          const o = hard ? hardSigmoid(zo) : sigmoid(zo);
          const c = (has ? f * cell[pi + j] : 0) + ig * g;
          const tc = tanh(c);
          gates[gi + j] = ig;
          gates[gi + u + j] = f;
          gates[gi + 2 * u + j] = g;
          gates[gi + 3 * u + j] = o;
          cell[ci + j] = c;
          cellTanh[ci + j] = tc;
          hidden[ci + j] = o * tc;
        }
      }
    }
    emitHidden(hidden, pack, batch, T, u, this.reverse, offsets, counts, features, H, this.offset);
  }

  /**
   * Backpropagation through time from dFeatures [B, T, H]: adds the weight gradients into `g` and
   * d loss / d input of each word into `dInput`: the embedding rows [V, E] of its id (the first layer),
   * or the dFeatures [B, T, E] of the layer below.
   */
  backward(
    g: DirectionWeights,
    source: Source,
    pack: Packing,
    batch: number,
    T: number,
    dFeatures: Floats,
    H: number,
    dInput: Float64Array | Floats,
    masks: DropoutMasks = {},
  ): void {
    const { u, m } = this;
    const g4 = 4 * u;
    const { gates, cell, cellTanh, dz, dhNext, dcNext, offsets, counts } = this;
    const hard = this.hard;
    transposeInto(this.recurrentT, this.recurrent, u, g4);
    dhNext.fill(0, 0, batch * u);
    dcNext.fill(0, 0, batch * u);
    for (let s = T - 1; s >= 0; s--) {
      const t = this.time(s, T);
      const k = counts[s];
      const carried = s === 0 ? 0 : Math.min(k, counts[s - 1]);
      const row = offsets[s];
      const prevRow = s === 0 ? 0 : offsets[s - 1];
      for (let i = 0; i < k; i++) {
        const fi = (pack.order[i] * T + t) * H + this.offset;
        const bu = i * u;
        const gi = (row + i) * g4;
        const ci = (row + i) * u;
        const has = i < carried;
        for (let j = 0; j < u; j++) {
          const dh = dFeatures[fi + j] + dhNext[bu + j];
          const ig = gates[gi + j];
          const f = gates[gi + u + j];
          const gg = gates[gi + 2 * u + j];
          const o = gates[gi + 3 * u + j];
          const tc = cellTanh[ci + j];
          const dc = dh * o * (1 - tc * tc) + dcNext[bu + j];
          const cPrev = has ? cell[(prevRow + i) * u + j] : 0;
          dz[gi + j] = dc * gg * (hard ? hardSigmoidSlope(ig) : ig * (1 - ig));
          dz[gi + u + j] = dc * cPrev * (hard ? hardSigmoidSlope(f) : f * (1 - f));
          dz[gi + 2 * u + j] = dc * ig * (1 - gg * gg);
          dz[gi + 3 * u + j] = dh * tc * (hard ? hardSigmoidSlope(o) : o * (1 - o));
          dcNext[bu + j] = has ? dc * f : 0;
        }
      }
      // The step before sees the gradient of the sentences this step carried on; the rest start there.
      if (carried > 0) m.gemm(dhNext, 0, u, dz, row * g4, g4, 1, this.recurrentT, 0, u, carried, u, g4, false);
      const mask = masks.recurrent;
      if (mask) for (let i = 0; i < carried; i++) for (let j = 0; j < u; j++) dhNext[i * u + j] *= mask[pack.order[i] * u + j];
      dhNext.fill(0, carried * u, batch * u);
      dcNext.fill(0, carried * u, batch * u);
    }
    // dRecurrent = Σ h_prevᵀ dz, one product over the batch's words; then the bias, kernel and inputs.
    m.gemm(this.gRecurrent, 0, g4, this.hiddenPrev, 0, 1, u, dz, 0, g4, u, g4, pack.words, false);
    addInto(g.recurrent, this.gRecurrent);
    this.inputGradients(g, source, pack, T, dInput, masks);
  }
}

/**
 * One direction of a GRU layer as TensorFlow.js computes it (reset_after=False, Keras 2's): gates z,
 * r, h in that order, the bias on the input side; z = σ(x W_z + h U_z + b_z), r likewise,
 * h̃ = tanh(x W_h + (r ⊙ h) U_h + b_h), h' = z ⊙ h + (1 − z) ⊙ h̃. No dropout (checkCombination).
 */
class PackedGruDirection extends PackedRecurrence implements Direction {
  private resetPrev: Floats; // [N, u]: r ⊙ the state each word's step starts from, what U_h multiplies
  private dReset: Floats; // [B, u]: d loss / d (r ⊙ h) of a step
  private dhCarry = new Float64Array(0); // [B, u]: the part of dh that flows through z ⊙ h

  constructor(m: Matrices, u: number, E: number, hard: boolean, reverse: boolean, offset: number) {
    super(m, u, E, hard, reverse, offset, 3);
    this.resetPrev = this.dReset = m.alloc(0);
  }

  protected grow(words: number, batch: number): void {
    if (words) this.resetPrev = this.m.alloc(words * this.u);
    if (batch) {
      this.dReset = this.m.alloc(batch * this.u);
      this.dhCarry = new Float64Array(batch * this.u);
    }
  }

  forward(w: DirectionWeights, source: Source, pack: Packing, batch: number, T: number, features: Floats, H: number, masks: DropoutMasks = {}): void {
    const { u, m, hard } = this;
    const g3 = 3 * u;
    this.project(w, source, pack, batch, T, masks);
    const { gates, hidden, hiddenPrev, resetPrev, offsets, counts } = this;
    const act = (x: number) => (hard ? hardSigmoid(x) : sigmoid(x));
    for (let s = 0; s < T; s++) {
      const k = counts[s];
      const carried = s === 0 ? 0 : Math.min(k, counts[s - 1]);
      const row = offsets[s];
      const prevRow = s === 0 ? 0 : offsets[s - 1];
      for (let i = 0; i < k; i++) for (let j = 0; j < u; j++) hiddenPrev[(row + i) * u + j] = i < carried ? hidden[(prevRow + i) * u + j] : 0;
      // z and r read h U over their 2u columns; h̃ reads (r ⊙ h) U_h once r is known.
      if (carried > 0) m.gemm(gates, row * g3, g3, hiddenPrev, row * u, u, 1, this.recurrent, 0, g3, carried, 2 * u, u, true);
      for (let i = 0; i < k; i++) {
        const gi = (row + i) * g3;
        const ci = (row + i) * u;
        for (let j = 0; j < u; j++) {
          const z = act(gates[gi + j] + w.bias[j]);
          const r = act(gates[gi + u + j] + w.bias[u + j]);
          gates[gi + j] = z;
          gates[gi + u + j] = r;
          resetPrev[ci + j] = r * hiddenPrev[ci + j];
        }
      }
      if (carried > 0) m.gemm(gates, row * g3 + 2 * u, g3, resetPrev, row * u, u, 1, this.recurrent, 2 * u, g3, carried, u, u, true);
      for (let i = 0; i < k; i++) {
        const gi = (row + i) * g3;
        const ci = (row + i) * u;
        for (let j = 0; j < u; j++) {
          const hh = tanh(gates[gi + 2 * u + j] + w.bias[2 * u + j]);
          gates[gi + 2 * u + j] = hh;
          const z = gates[gi + j];
          hidden[ci + j] = z * hiddenPrev[ci + j] + (1 - z) * hh;
        }
      }
    }
    emitHidden(hidden, pack, batch, T, u, this.reverse, offsets, counts, features, H, this.offset);
  }

  backward(
    g: DirectionWeights,
    source: Source,
    pack: Packing,
    batch: number,
    T: number,
    dFeatures: Floats,
    H: number,
    dInput: Float64Array | Floats,
    masks: DropoutMasks = {},
  ): void {
    const { u, m, hard } = this;
    const g3 = 3 * u;
    const { gates, hiddenPrev, dz, dhNext, dhCarry, dReset, offsets, counts } = this;
    const slope = (y: number) => (hard ? hardSigmoidSlope(y) : y * (1 - y));
    transposeInto(this.recurrentT, this.recurrent, u, g3);
    dhNext.fill(0, 0, batch * u);
    for (let s = T - 1; s >= 0; s--) {
      const t = this.reverse ? T - 1 - s : s;
      const k = counts[s];
      const carried = s === 0 ? 0 : Math.min(k, counts[s - 1]);
      const row = offsets[s];
      for (let i = 0; i < k; i++) {
        const fi = (pack.order[i] * T + t) * H + this.offset;
        const gi = (row + i) * g3;
        const ci = (row + i) * u;
        for (let j = 0; j < u; j++) {
          const dh = dFeatures[fi + j] + dhNext[i * u + j];
          const z = gates[gi + j];
          const hh = gates[gi + 2 * u + j];
          const hPrev = hiddenPrev[ci + j];
          dz[gi + j] = dh * (hPrev - hh) * slope(z);
          dz[gi + 2 * u + j] = dh * (1 - z) * (1 - hh * hh);
          dz[gi + u + j] = 0;
          dhCarry[i * u + j] = dh * z;
        }
      }
      if (carried > 0) {
        // d (r ⊙ h) = dh̃ U_hᵀ; then r's gradient, and the state's through r.
        m.gemm(dReset, 0, u, dz, row * g3 + 2 * u, g3, 1, this.recurrentT, 2 * u * u, u, carried, u, u, false);
        for (let i = 0; i < carried; i++) {
          const gi = (row + i) * g3;
          const ci = (row + i) * u;
          for (let j = 0; j < u; j++) {
            const r = gates[gi + u + j];
            dz[gi + u + j] = dReset[i * u + j] * hiddenPrev[ci + j] * slope(r);
            dhCarry[i * u + j] += dReset[i * u + j] * r;
          }
        }
        // The step before: through z ⊙ h, through r ⊙ h, and through the z and r gates' h U.
        m.gemm(dhNext, 0, u, dz, row * g3, g3, 1, this.recurrentT, 0, u, carried, u, 2 * u, false);
        for (let x = 0; x < carried * u; x++) dhNext[x] += dhCarry[x];
      }
      dhNext.fill(0, carried * u, batch * u);
    }
    // dU_zr = hᵀ dz_zr, dU_h = (r ⊙ h)ᵀ dz_h; then the bias, kernel and inputs.
    const N = pack.words;
    m.gemm(this.gRecurrent, 0, g3, hiddenPrev, 0, 1, u, dz, 0, g3, u, 2 * u, N, false);
    m.gemm(this.gRecurrent, 2 * u, g3, this.resetPrev, 0, 1, u, dz, 2 * u, g3, u, u, N, false);
    addInto(g.recurrent, this.gRecurrent);
    this.inputGradients(g, source, pack, T, dInput, masks);
  }
}

/**
 * Fills `xs` [words, E] with the inputs of the packed batch's words, step by step in the direction's
 * order (through the input dropout mask), and `offsets`/`counts`: each step's first row and sentences.
 */
function gatherInputs(
  source: Source,
  pack: Packing,
  T: number,
  E: number,
  reverse: boolean,
  masks: DropoutMasks,
  xs: Floats,
  offsets: Int32Array,
  counts: Int32Array,
): void {
  offsets[0] = 0;
  const values = 'ids' in source ? source.embeddings : source.features;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    counts[s] = pack.active[t];
    offsets[s + 1] = offsets[s] + counts[s];
    for (let i = 0; i < counts[s]; i++) {
      const at = pack.order[i] * T + t;
      const from = ('ids' in source ? source.ids[at] : at) * E;
      const to = (offsets[s] + i) * E;
      xs.set(values.subarray(from, from + E), to);
      if (masks.input) for (let e = 0; e < E; e++) xs[to + e] *= masks.input[pack.order[i] * E + e];
    }
  }
}

/** Writes a direction's hidden states [words, u] into its columns of features [B, T, H] (zero at padding). */
function emitHidden(
  hidden: Floats,
  pack: Packing,
  batch: number,
  T: number,
  u: number,
  reverse: boolean,
  offsets: Int32Array,
  counts: Int32Array,
  features: Floats,
  H: number,
  offset: number,
): void {
  for (let r = 0; r < batch * T; r++) features.fill(0, r * H + offset, r * H + offset + u);
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    for (let i = 0; i < counts[s]; i++) {
      const src = (offsets[s] + i) * u;
      const dst = (pack.order[i] * T + t) * H + offset;
      for (let j = 0; j < u; j++) features[dst + j] = hidden[src + j];
    }
  }
}

/** Adds d loss / d input of each word (dxs [words, E], through the input mask) into its embedding row or the layer below's dFeatures. */
function scatterInputGradients(
  dxs: Floats,
  source: Source,
  pack: Packing,
  T: number,
  E: number,
  reverse: boolean,
  offsets: Int32Array,
  counts: Int32Array,
  masks: DropoutMasks,
  dInput: Float64Array | Floats,
): void {
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    for (let i = 0; i < counts[s]; i++) {
      const src = (offsets[s] + i) * E;
      const at = pack.order[i] * T + t;
      const dst = ('ids' in source ? source.ids[at] : at) * E;
      const mask = masks.input;
      const mi = pack.order[i] * E;
      for (let e = 0; e < E; e++) dInput[dst + e] += mask ? dxs[src + e] * mask[mi + e] : dxs[src + e];
    }
  }
}

function addInto(to: Float64Array, from: Floats): void {
  for (let k = 0; k < to.length; k++) to[k] += from[k];
}

/**
 * The fused tagger's forward and backward pass over a batch; the optimizer step is ./optimizers.ts.
 * Its weights and gradients are float64 (the optimizer's); the batch's arithmetic is `precision`'s.
 */
export class FusedTagger {
  readonly grads: Float64Array[];
  private readonly w: TaggerLayout;
  private readonly g: TaggerLayout;
  private readonly m: Matrices;
  private readonly directions: Direction[];
  private readonly H: number;
  private capacity = 0;
  private mask = new Uint8Array(0); // [B, T]
  private pack: Packing = { order: new Int32Array(0), active: new Int32Array(0), words: 0 };
  private readonly D: number; // directions per layer
  private readonly L: number; // stacked layers
  private layerFeatures: Floats[] = []; // per layer [B, T, H]; the last one feeds the head
  private layerDFeatures: Floats[] = [];
  private features: Floats; // [B, T, H]: the last layer's
  private dFeatures: Floats;
  private out: Floats; // [B, T, C]: softmax probabilities
  private dOut: Floats; // [B, T, C]: d loss / d the head's input
  private readonly dense: Floats; // [H, C]
  private readonly denseT: Floats; // [C, H]
  private readonly gDense: Floats;

  /** Tags per position. */
  get tags(): number {
    return this.shape.tags;
  }

  /** The head's probabilities on zero features (a padded position of a bidirectional tagger). */
  padding(): Float32Array {
    const { tags: C } = this.shape;
    const { bias } = this.w.dense;
    const max = Math.max(...bias);
    const e = Float64Array.from(bias, (b) => Math.exp(b - max));
    const sum = e.reduce((a, b) => a + b, 0);
    return Float32Array.from(e, (v) => v / sum).subarray(0, C);
  }

  constructor(
    private readonly shape: TaggerShape,
    readonly tensors: Float64Array[],
    precision: 'float32' | 'float64' = 'float32',
  ) {
    this.w = taggerLayout(shape, tensors);
    this.grads = tensors.map((t) => new Float64Array(t.length));
    this.g = taggerLayout(shape, this.grads);
    const m = (this.m = matricesFor(precision));
    const { units: u, dim: E, hard, tags: C } = shape;
    this.D = shape.bidirectional ? 2 : 1;
    this.L = shape.layers ?? 1;
    this.H = this.D * u;
    this.directions = Array.from({ length: this.L * this.D }, (_, k) => {
      const [l, d] = [Math.floor(k / this.D), k % this.D];
      const width = l === 0 ? E : this.H;
      return shape.cell === 'gru' ? new PackedGruDirection(m, u, width, hard, d === 1, d * u) : new PackedDirection(m, u, width, hard, d === 1, d * u);
    });
    this.features = this.dFeatures = this.out = this.dOut = m.alloc(0);
    this.dense = m.alloc(this.H * C);
    this.denseT = m.alloc(C * this.H);
    this.gDense = m.alloc(this.H * C);
  }

  /**
   * Each direction's masks for a batch of `batch` sentences, drawn from `random` as Keras's dropout
   * draws them (kept with probability 1 − rate, scaled by 1 / (1 − rate)); none without dropout.
   */
  dropoutMasks(batch: number, random?: () => number): DropoutMasks[] {
    const { dropout = 0, recurrentDropout = 0, dim: E, units: u } = this.shape;
    if (!dropsOut(this.shape)) return [];
    if (!random) throw new Error('fused tagger: dropout needs a random source');
    const draw = (n: number, rate: number) => Float64Array.from({ length: n }, () => (random() < rate ? 0 : 1 / (1 - rate)));
    return this.directions.map((_, k) => ({
      ...(dropout ? { input: draw(batch * (k < this.D ? E : this.H), dropout) } : {}),
      ...(recurrentDropout ? { recurrent: draw(batch * u, recurrentDropout) } : {}),
    }));
  }

  /** The arithmetic its batches run in. */
  get precision(): 'float32' | 'float64' {
    return this.m.precision;
  }

  private ensure(rows: number): void {
    if (rows <= this.capacity) return;
    const n = (this.capacity = Math.max(rows, Math.ceil(this.capacity * 1.25)));
    const { tags: C } = this.shape;
    this.mask = new Uint8Array(n);
    this.layerFeatures = Array.from({ length: this.L }, () => this.m.alloc(n * this.H));
    this.layerDFeatures = Array.from({ length: this.L }, () => this.m.alloc(n * this.H));
    this.features = this.layerFeatures[this.L - 1];
    this.dFeatures = this.layerDFeatures[this.L - 1];
    this.out = this.m.alloc(n * C);
    this.dOut = this.m.alloc(n * C);
  }

  /** Softmax probabilities [B, T, C] of word ids [B, T] (0 = padding; any id ≥ the vocabulary is refused earlier), as at inference: no dropout. */
  forward(ids: Int32Array, batch: number, T: number, masks: DropoutMasks[] = []): Floats {
    const { tags: C } = this.shape;
    const rows = batch * T;
    this.ensure(rows);
    const { mask, features, out, H } = this;
    for (let r = 0; r < rows; r++) mask[r] = ids[r] === 0 ? 0 : 1;
    this.pack = packBatch(ids, batch, T);
    for (const [k, d] of this.directions.entries()) {
      const l = Math.floor(k / this.D);
      d.forward(this.w.directions[k], this.sourceOf(l, ids), this.pack, batch, T, this.layerFeatures[l], H, masks[k]);
    }
    const { kernel, bias } = this.w.dense;
    this.dense.set(kernel);
    // Padding too, as Keras computes it before the mask weights it: the head on zero features there.
    this.m.gemm(out, 0, C, features, 0, H, 1, this.dense, 0, C, rows, C, H, false);
    // Every row of zero features gets the same softmax (of the bias): computed once, then copied.
    let zeroRow = -1;
    for (let r = 0; r < rows; r++) {
      const zero = mask[r] === 0 && isZero(features, r * H, H);
      if (zero && zeroRow >= 0) {
        out.copyWithin(r * C, zeroRow * C, zeroRow * C + C);
        continue;
      }
      if (zero) zeroRow = r;
      let max = -Infinity;
      for (let c = 0; c < C; c++) {
        const a = (out[r * C + c] += bias[c]);
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
   * ids (−1: no tag, at padding). With dropout, `random` draws the batch's masks (or `masks` gives them).
   */
  lossAndGradients(ids: Int32Array, tags: Int32Array, batch: number, T: number, random?: () => number, masks = this.dropoutMasks(batch, random)): number {
    const out = this.forward(ids, batch, T, masks);
    for (const g of this.grads) g.fill(0);
    const { tags: C } = this.shape;
    const { H, mask, features, dFeatures, dOut } = this;
    const rows = batch * T;
    let real = 0;
    for (let r = 0; r < rows; r++) real += mask[r];
    const scale = 1 / Math.max(real, 1);
    const gBias = this.g.dense.bias;
    let lossSum = 0;
    for (let r = 0; r < rows; r++) {
      if (!mask[r]) {
        dOut.fill(0, r * C, (r + 1) * C);
        continue;
      }
      lossSum += crossentropyRow(out, r * C, C, tags[r], scale, dOut);
      for (let c = 0; c < C; c++) gBias[c] += dOut[r * C + c];
    }
    // The head's gradients, one product each over the batch's positions (padding's rows are zero).
    transposeInto(this.denseT, this.dense, H, C);
    this.m.gemm(this.gDense, 0, C, features, 0, 1, H, dOut, 0, C, H, C, rows, false);
    addInto(this.g.dense.kernel, this.gDense);
    this.m.gemm(dFeatures, 0, H, dOut, 0, C, 1, this.denseT, 0, H, rows, H, C, false);
    // Top layer first; each layer's directions add the gradient at its inputs into the layer below's dFeatures.
    for (let l = this.L - 1; l >= 0; l--) {
      const below = l === 0 ? this.g.embeddings : this.layerDFeatures[l - 1];
      if (l > 0) below.fill(0, 0, rows * H);
      for (let d = 0; d < this.D; d++) {
        const k = l * this.D + d;
        this.directions[k].backward(this.g.directions[k], this.sourceOf(l, ids), this.pack, batch, T, this.layerDFeatures[l], H, below, masks[k]);
      }
    }
    return lossSum * scale;
  }

  /** Where layer l reads its inputs (see Source). */
  private sourceOf(l: number, ids: Int32Array): Source {
    return l === 0 ? { embeddings: this.w.embeddings, ids } : { features: this.layerFeatures[l - 1] };
  }

  /**
   * Keras's masked crossentropy over the real positions of `rows` sentences of ids [rows, steps]
   * (mean over words; a word without a tag, −1, scores 0), and the argmax tag of every position
   * into `predicted` (padding: 0). Batches of `chunk` sentences, each cut after its longest.
   */
  score(ids: Float32Array, tags: Int32Array, rows: number, steps: number, predicted: Int32Array, chunk = 64): number {
    const C = this.shape.tags;
    const batchIds = new Int32Array(chunk * steps);
    let lossSum = 0;
    let words = 0;
    for (let start = 0; start < rows; start += chunk) {
      const batch = Math.min(chunk, rows - start);
      let T = 1;
      for (let b = 0; b < batch; b++) for (let t = steps - 1; t >= T; t--) if (ids[(start + b) * steps + t] !== 0) T = t + 1;
      for (let b = 0; b < batch; b++) for (let t = 0; t < T; t++) batchIds[b * T + t] = ids[(start + b) * steps + t];
      const out = this.forward(batchIds, batch, T);
      for (let b = 0; b < batch; b++) {
        for (let t = 0; t < steps; t++) {
          const k = (start + b) * steps + t;
          predicted[k] = 0;
          if (t >= T || batchIds[b * T + t] === 0) continue;
          const r = (b * T + t) * C;
          let best = 0;
          for (let c = 1; c < C; c++) if (out[r + c] > out[r + best]) best = c;
          predicted[k] = best;
          words++;
          if (tags[k] < 0) continue;
          let sum = 0;
          for (let c = 0; c < C; c++) sum += out[r + c];
          const p = out[r + tags[k]] / sum;
          lossSum -= Math.log(p < EPS ? EPS : p > 1 - EPS ? 1 - EPS : p);
        }
      }
    }
    return lossSum / Math.max(words, 1);
  }
}

/**
 * Categorical crossentropy of one softmax row as tfjs computes it (the row divided by its sum,
 * clipped to [ε, 1 − ε], −log of the true tag's), with its gradient at the softmax's input into
 * `da`, scaled by `scale`. tag −1 (no tag): loss 0, no gradient.
 */
function crossentropyRow(out: Floats, off: number, C: number, tag: number, scale: number, da: Floats): number {
  if (tag < 0) {
    da.fill(0, off, off + C);
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
  for (let c = 0; c < C; c++) da[off + c] = out[off + c] * (dOut(c) - dot);
  return -Math.log(clipped);
}

export type LayerConfig = Record<string, unknown>;

/** An LSTM layer the fused engine computes as tfjs does: all sequences out, tanh, (hard) sigmoid gates, with or without dropout (training only). */
function plainLstm(
  layer: tfl.layers.Layer,
  backwards = false,
): { units: number; hard: boolean; dropout: number; recurrentDropout: number; cell: 'lstm' | 'gru' } | undefined {
  const cell = layer.getClassName() === 'LSTM' ? 'lstm' : layer.getClassName() === 'GRU' ? 'gru' : undefined;
  if (!cell) return undefined;
  const c = layer.getConfig() as LayerConfig;
  const gates = c.recurrentActivation;
  const plain =
    c.returnSequences === true &&
    c.activation === 'tanh' &&
    (gates === 'sigmoid' || gates === 'hardSigmoid') &&
    c.useBias !== false &&
    c.goBackwards === backwards &&
    !c.stateful &&
    // The GRU runs without dropout here (its masks are not drawn as Keras's GRUCell draws them).
    (cell === 'lstm' || (!Number(c.dropout ?? 0) && !Number(c.recurrentDropout ?? 0)));
  // Dropout acts only in training, where the tagger draws its masks (FusedTagger.dropoutMasks).
  return plain
    ? { units: Number(c.units), hard: gates === 'hardSigmoid', dropout: Number(c.dropout ?? 0), recurrentDropout: Number(c.recurrentDropout ?? 0), cell }
    : undefined;
}

/** An LSTM or (tfjs's) GRU layer, or a Bidirectional one concatenating its directions, that the fused engine computes; else undefined. */
export function lstmLayerOf(
  layer: tfl.layers.Layer,
): { units: number; hard: boolean; bidirectional: boolean; dropout: number; recurrentDropout: number; cell: 'lstm' | 'gru' } | undefined {
  if (layer.getClassName() !== 'Bidirectional') {
    const cell = plainLstm(layer);
    return cell && { ...cell, bidirectional: false };
  }
  const wrapped = layer as unknown as { forwardLayer: tfl.layers.Layer; backwardLayer: tfl.layers.Layer };
  if ((layer.getConfig() as LayerConfig).mergeMode !== 'concat') return undefined;
  const cell = plainLstm(wrapped.forwardLayer);
  return cell && plainLstm(wrapped.backwardLayer, true)?.cell === cell.cell ? { ...cell, bidirectional: true } : undefined;
}

/** The config of the Dense a TimeDistributed head wraps, when it has a bias; else undefined. */
export function denseHeadOf(layer: tfl.layers.Layer): LayerConfig | undefined {
  const dense = (layer as unknown as { layer?: tfl.layers.Layer }).layer;
  if (layer.getClassName() !== 'TimeDistributed' || dense?.getClassName() !== 'Dense') return undefined;
  const d = dense.getConfig() as LayerConfig;
  return d.useBias === false ? undefined : d;
}

/**
 * The fused tagger of `model` when it is one: Embedding(mask_zero) → LSTM or Bidirectional(LSTM,
 * concat), one or stacked alike → TimeDistributed(Dense(softmax)), as seq-tag builds for text and as
 * Keras users often write; undefined for any other model (tf.layers runs it).
 */
export function taggerOf(model: tfl.LayersModel, precision: 'float32' | 'float64' = 'float32'): FusedTagger | undefined {
  const shape = taggerShapeOf(model);
  return shape && new FusedTagger(shape, readParameters(model).tensors, precision);
}

/**
 * The shape of `model` when it is a tagger the fused engine computes (see taggerOf), its weights in
 * tfjs's order (read from their shapes, no value copied); else undefined.
 */
export function taggerShapeOf(model: tfl.LayersModel): TaggerShape | undefined {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  if (layers.length < 3 || model.inputs.length !== 1 || model.outputs.length !== 1) return undefined;
  const [embedding, ...rest] = layers;
  const head = rest.pop()!;
  if (embedding.getClassName() !== 'Embedding' || (embedding.getConfig() as LayerConfig).maskZero !== true) return undefined;
  // Stacked layers alike (units, directions, gates, dropout), as seq-tag's --layers builds them; others run on tf.layers.
  const cells = rest.map(lstmLayerOf);
  const cell = cells[0];
  if (!cell || cells.some((c) => JSON.stringify(c) !== JSON.stringify(cell)) || denseHeadOf(head)?.activation !== 'softmax') return undefined;
  const shapes = model.trainableWeights.map((w) => w.shape as number[]);
  const [vocabulary, dim] = shapes[0];
  const { units, bidirectional, hard, dropout, recurrentDropout } = cell;
  const shape: TaggerShape = {
    vocabulary,
    dim,
    units,
    tags: shapes[shapes.length - 1][0],
    bidirectional,
    hard,
    dropout,
    recurrentDropout,
    layers: rest.length,
    cell: cell.cell,
  };
  const sizes = taggerSizes(shape);
  // Weights in another order than tfjs's: tf.layers runs it.
  const inOrder = shapes.length === sizes.length && shapes.every((s, i) => s.reduce((a, b) => a * b, 1) === sizes[i]);
  return inOrder ? shape : undefined;
}

/** Whether a[from .. from + n − 1] are all 0. */
function isZero(a: Floats, from: number, n: number): boolean {
  for (let i = from; i < from + n; i++) if (a[i] !== 0) return false;
  return true;
}

/**
 * Softmax probabilities [n, steps, C] of ids [n, steps] (0: padding), `chunk` sentences at a time,
 * each chunk cut after its longest sentence; positions past it get the head on zero features, as the
 * padding inside it.
 */
export function taggerProbabilities(tagger: FusedTagger, ids: Float32Array, n: number, steps: number, chunk = 64): Float32Array {
  const C = tagger.tags;
  const out = new Float32Array(n * steps * C);
  const batchIds = new Int32Array(chunk * steps);
  const padding = tagger.padding();
  for (let start = 0; start < n; start += chunk) {
    const batch = Math.min(chunk, n - start);
    let T = 1;
    for (let b = 0; b < batch; b++) for (let t = steps - 1; t >= T; t--) if (ids[(start + b) * steps + t] !== 0) T = t + 1;
    batchIds.fill(0, 0, batch * T);
    for (let b = 0; b < batch; b++) for (let t = 0; t < T; t++) batchIds[b * T + t] = ids[(start + b) * steps + t];
    const probabilities = tagger.forward(batchIds, batch, T);
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < steps; t++) {
        // Past the chunk's longest sentence: the same as a padded position inside it (zero features).
        const src = t < T ? (b * T + t) * C : -1;
        const dst = ((start + b) * steps + t) * C;
        if (src >= 0) for (let c = 0; c < C; c++) out[dst + c] = probabilities[src + c];
        else out.set(padding, dst);
      }
    }
  }
  return out;
}
