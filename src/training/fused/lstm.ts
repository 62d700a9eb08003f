import { SEQUENCE_LENGTH } from '../../task/data.js';
import { gemmNT, hardSigmoid, hardSigmoidSlope, sigmoid, tanh, transpose } from './kernels.js';
import type { DirectionWeights } from './parameters.js';

const T = SEQUENCE_LENGTH;

/** What a direction needs to know of the model. */
export interface CellShape {
  units: number;
  /** Digits arrive one-hot (a kernel row per digit) rather than as one scalar value. */
  onehot: boolean;
  /** Gates use the hard sigmoid (Keras 2, tfjs's default) instead of the sigmoid. */
  hard: boolean;
}

/**
 * One LSTM direction over a batch of digit sequences, forward and backpropagation through time,
 * in tf.layers.lstm's layout (gates i, f, c, o). Direction 1 reads right to left (Keras's
 * goBackwards); its buffers are indexed by processing step, [step, B, ·], and mapped back to
 * positions when written to or read from the features [B, T, H] (at columns offset … offset + u).
 */
export class LstmDirection {
  private capacity = 0;
  private gates = new Float64Array(0); // [T, B, 4u]: i, f, g (tanh candidate), o after activation
  private cell = new Float64Array(0); // [T, B, u]
  private cellTanh = new Float64Array(0); // [T, B, u]
  private hidden = new Float64Array(0); // [T, B, u]
  private dz = new Float64Array(0); // [T, B, 4u]: gradient at the gates' pre-activations
  private dhNext = new Float64Array(0); // [B, u]
  private dcNext = new Float64Array(0); // [B, u]
  private readonly recurrentT: Float64Array; // [4u, u]
  private hiddenT = new Float64Array(0); // [u, (T-1)·B]
  private dzT = new Float64Array(0); // [4u, (T-1)·B]

  constructor(
    private readonly shape: CellShape,
    private readonly reverse: boolean,
    /** Where this direction's outputs sit in a feature row of width H. */
    private readonly offset: number,
  ) {
    this.recurrentT = new Float64Array(4 * shape.units * shape.units);
  }

  private ensureCapacity(batch: number): void {
    if (batch <= this.capacity) return;
    const u = this.shape.units;
    this.capacity = batch;
    this.gates = new Float64Array(T * batch * 4 * u);
    this.cell = new Float64Array(T * batch * u);
    this.cellTanh = new Float64Array(T * batch * u);
    this.hidden = new Float64Array(T * batch * u);
    this.dz = new Float64Array(T * batch * 4 * u);
    this.dhNext = new Float64Array(batch * u);
    this.dcNext = new Float64Array(batch * u);
    this.hiddenT = new Float64Array(u * (T - 1) * batch);
    this.dzT = new Float64Array(4 * u * (T - 1) * batch);
  }

  /** Runs the direction over digits [B, T] and writes its hidden states into features [B, T, H]. */
  forward(w: DirectionWeights, digits: Int32Array, batch: number, features: Float64Array, H: number): void {
    this.ensureCapacity(batch);
    transpose(this.recurrentT, w.recurrent, 0, this.shape.units, 4 * this.shape.units);
    for (let step = 0; step < T; step++) {
      this.inputProjection(w, digits, batch, step);
      if (step > 0)
        gemmNT(
          this.gates,
          step * batch * 4 * this.shape.units,
          this.hidden,
          (step - 1) * batch * this.shape.units,
          this.recurrentT,
          0,
          batch,
          4 * this.shape.units,
          this.shape.units,
          true,
        );
      this.cellStep(batch, step);
    }
    this.scatter(this.hidden, features, batch, H);
  }

  /** Gate pre-activations of one step from the input alone: bias + x·kernel, into `gates`. */
  private inputProjection(w: DirectionWeights, digits: Int32Array, batch: number, step: number): void {
    const g4 = 4 * this.shape.units;
    const { kernel, bias } = w;
    const z = this.gates;
    const t = this.reverse ? T - 1 - step : step;
    const zOff = step * batch * g4;
    for (let b = 0; b < batch; b++) {
      const d = digits[b * T + t];
      const zo = zOff + b * g4;
      if (this.shape.onehot) {
        const row = d * g4;
        for (let k = 0; k < g4; k++) z[zo + k] = bias[k] + kernel[row + k];
      } else {
        for (let k = 0; k < g4; k++) z[zo + k] = bias[k] + d * kernel[k];
      }
    }
  }

  /** Turns one step's pre-activations into gates, cell and hidden state (in place in `gates`). */
  private cellStep(batch: number, step: number): void {
    // Hot loop: arrays are locals so V8 keeps them in registers.
    const u = this.shape.units;
    const g4 = 4 * u;
    const { gates, cell, cellTanh, hidden } = this;
    const hard = this.shape.hard;
    for (let b = 0; b < batch; b++) {
      const gi = (step * batch + b) * g4;
      const ci = (step * batch + b) * u;
      const prev = ci - batch * u;
      for (let j = 0; j < u; j++) {
        const i = hard ? hardSigmoid(gates[gi + j]) : sigmoid(gates[gi + j]);
        const f = hard ? hardSigmoid(gates[gi + u + j]) : sigmoid(gates[gi + u + j]);
        const g = tanh(gates[gi + 2 * u + j]);
        const o = hard ? hardSigmoid(gates[gi + 3 * u + j]) : sigmoid(gates[gi + 3 * u + j]);
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

  /** Copies states [step, B, u] to their positions in features [B, T, H]. */
  private scatter(states: Float64Array, features: Float64Array, batch: number, H: number): void {
    const u = this.shape.units;
    for (let step = 0; step < T; step++) {
      const t = this.reverse ? T - 1 - step : step;
      for (let b = 0; b < batch; b++) {
        const src = (step * batch + b) * u;
        const dst = (b * T + t) * H + this.offset;
        for (let j = 0; j < u; j++) features[dst + j] = states[src + j];
      }
    }
  }

  /**
   * Backpropagation through time from the gradient at the features [B, T, H], accumulating into
   * `g` (this direction's kernel, recurrent kernel and bias gradients).
   */
  backward(w: DirectionWeights, g: DirectionWeights, digits: Int32Array, batch: number, dFeatures: Float64Array, H: number): void {
    const u = this.shape.units;
    const g4 = 4 * u;
    this.dhNext.fill(0, 0, batch * u);
    this.dcNext.fill(0, 0, batch * u);
    for (let step = T - 1; step >= 0; step--) {
      this.cellStepBackward(batch, step, dFeatures, H);
      // dh_{step-1} = dz_step · recurrentᵀ: recurrent's rows [u, 4u] are already the Bt layout.
      if (step > 0) gemmNT(this.dhNext, 0, this.dz, step * batch * g4, w.recurrent, 0, batch, u, g4, false);
    }
    // Weight gradients for the whole sequence at once: dRecurrent = Σ_step h_{step-1}ᵀ dz_step.
    const rows = (T - 1) * batch;
    transpose(this.hiddenT, this.hidden, 0, rows, u);
    transpose(this.dzT, this.dz, batch * g4, rows, g4);
    gemmNT(g.recurrent, 0, this.hiddenT, 0, this.dzT, 0, u, g4, rows, true);
    this.inputWeightGradients(g, digits, batch);
  }

  /** One step of BPTT: gradients at the gate pre-activations into `dz`, the cell's into `dcNext`. */
  private cellStepBackward(batch: number, step: number, dFeatures: Float64Array, H: number): void {
    const u = this.shape.units;
    const g4 = 4 * u;
    const { gates, cell, cellTanh, dz, dhNext, dcNext } = this;
    const hard = this.shape.hard;
    const t = this.reverse ? T - 1 - step : step;
    for (let b = 0; b < batch; b++) {
      const fi = (b * T + t) * H + this.offset;
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
  }

  /** Kernel and bias gradients: a one-hot input touches one kernel row, a scalar one scales the single row. */
  private inputWeightGradients(g: DirectionWeights, digits: Int32Array, batch: number): void {
    const g4 = 4 * this.shape.units;
    const { dz } = this;
    const { bias: gBias, kernel: gKernel } = g;
    const onehot = this.shape.onehot;
    for (let step = 0; step < T; step++) {
      const t = this.reverse ? T - 1 - step : step;
      for (let b = 0; b < batch; b++) {
        const gi = (step * batch + b) * g4;
        const d = digits[b * T + t];
        const row = onehot ? d * g4 : 0;
        const x = onehot ? 1 : d;
        for (let k = 0; k < g4; k++) {
          const v = dz[gi + k];
          gBias[k] += v;
          gKernel[row + k] += x * v;
        }
      }
    }
  }

  /** Adds d loss / d input features [B, T, width] of the last backward pass into `dx`. */
  addInputGradient(w: DirectionWeights, batch: number, dx: Float64Array, width: number): void {
    const g4 = 4 * this.shape.units;
    const { dz } = this;
    const { kernel } = w;
    for (let step = 0; step < T; step++) {
      const t = this.reverse ? T - 1 - step : step;
      for (let b = 0; b < batch; b++) {
        const gi = (step * batch + b) * g4;
        for (let r = 0; r < width; r++) {
          let acc = 0;
          for (let k = 0; k < g4; k++) acc += dz[gi + k] * kernel[r * g4 + k];
          dx[(b * T + t) * width + r] += acc;
        }
      }
    }
  }
}
