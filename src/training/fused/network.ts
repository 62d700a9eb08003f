import type { Config, OutputActivation } from '../../config/config.js';
import { inputWidth, NUM_CLASSES, SEQUENCE_LENGTH } from '../../task/data.js';
import { BATCH_NORM, LAYER_NORM } from '../../config/constants.js';
import { crossentropyBackward, headForward } from './head.js';
import { normalizeBackward, normalizeForward, updateMovingStatistics } from './normalization.js';
import { layoutOf, type Layout, type Parameters } from './parameters.js';
import { JsDirections, type Recurrent } from './recurrent.js';
import { WasmDirections } from './wasm/directions.js';

/**
 * The fused engine: the whole training step of LSTM (one or two directions) → optional
 * BatchNormalization / LayerNormalization → TimeDistributed Dense(2) → categorical crossentropy,
 * computed on typed arrays in one pass, with its own backpropagation through time. The optimizer
 * step is ./optimizers.ts.
 *
 * Why: TensorFlow.js has no fused RNN kernel, so one training step of the seed model dispatches
 * ~1,400 tiny kernels and dispatch, not arithmetic, sets the speed. Here a step dispatches none.
 *
 * Faithfulness: weights live in tf.layers' layouts (./parameters.ts) and are read from and written
 * back to the ordinary tfjs model, so saved models are the standard LSTM + TimeDistributed(Dense)
 * that stock tfjs loads. The loss, normalisations and optimizers reproduce tfjs's formulas with the
 * constants of ../constants.ts. The head, loss, normalisations and optimizer compute in float64 on
 * float64 master weights; the LSTM layer in float64 too, or in float32 WebAssembly SIMD (`Arithmetic`,
 * --dtype). Either way results agree with the float32 layers engine to rounding (test/fused.test.ts
 * checks outputs, every gradient and training runs).
 */

const T = SEQUENCE_LENGTH;

/** What the network needs to know of the config (the optimizer settings go to TypedOptimizer). */
export type NetworkConfig = Pick<Config, 'units' | 'encoding' | 'bidirectional' | 'recurrentActivation' | 'activation' | 'batchNorm' | 'layerNorm'>;

/**
 * How the LSTM layer computes: float64 JavaScript (the reference), or float32 WebAssembly SIMD on
 * one or two threads (the second runs a bidirectional model's other direction, or a unidirectional
 * model's second half of each batch).
 */
export interface Arithmetic {
  precision: 'float64' | 'float32';
  threads: number;
}

export const FLOAT64: Arithmetic = { precision: 'float64', threads: 1 };

/** The arrays of one normalisation layer's forward pass that its backward pass needs. */
interface NormBuffers {
  out: Float64Array;
  xhat: Float64Array;
  invStd: Float64Array;
}

export class FusedNetwork {
  readonly inputWidth: number;
  readonly hiddenWidth: number;
  readonly params: Parameters;
  /** Gradients, in the order of params.tensors. */
  readonly grads: Float64Array[];
  private readonly w: Layout;
  private readonly g: Layout;
  private readonly activation: OutputActivation;
  private readonly lstm: Recurrent;
  private readonly batchStats: { mean: Float64Array; variance: Float64Array };
  private capacity = 0;
  private features = new Float64Array(0); // [B, T, H]: the LSTM's outputs
  private outputs = new Float64Array(0); // [B, T, 2] after the head's activation
  private bn?: NormBuffers;
  private ln?: NormBuffers;
  private headInput: Float64Array = new Float64Array(0); // [B, T, H]: what the Dense layer reads
  private dA = new Float64Array(0); // [B, T, H]: gradient buffers, swapped through the normalisations
  private dB = new Float64Array(0);

  constructor(
    private readonly config: NetworkConfig,
    params: Parameters,
    arithmetic: Arithmetic = FLOAT64,
  ) {
    const units = config.units;
    const count = config.bidirectional ? 2 : 1;
    this.inputWidth = inputWidth(config.encoding);
    this.hiddenWidth = units * count;
    this.activation = config.activation;
    this.params = params;
    this.grads = params.tensors.map((p) => new Float64Array(p.length));
    this.w = layoutOf(config, params.tensors);
    this.g = layoutOf(config, this.grads);
    if (params.state.length !== (config.batchNorm ? 2 : 0))
      throw new Error(`fused engine: expected ${config.batchNorm ? 2 : 0} moving statistics, found ${params.state.length}`);
    const shape = { units, onehot: config.encoding === 'onehot', hard: config.recurrentActivation === 'hardSigmoid' };
    this.lstm =
      arithmetic.precision === 'float32'
        ? new WasmDirections({ ...shape, inputWidth: this.inputWidth }, count, arithmetic.threads)
        : new JsDirections(shape, count);
    this.batchStats = { mean: new Float64Array(this.hiddenWidth), variance: new Float64Array(this.hiddenWidth) };
  }

  private ensureCapacity(batch: number): void {
    if (batch <= this.capacity) return;
    this.capacity = batch;
    const rows = batch * T;
    const size = rows * this.hiddenWidth;
    const norm = (perRow: boolean): NormBuffers => ({
      out: new Float64Array(size),
      xhat: new Float64Array(size),
      invStd: new Float64Array(perRow ? rows : this.hiddenWidth),
    });
    this.features = new Float64Array(size);
    this.outputs = new Float64Array(rows * NUM_CLASSES);
    this.bn = this.config.batchNorm ? norm(false) : undefined;
    this.ln = this.config.layerNorm ? norm(true) : undefined;
    this.dA = new Float64Array(size);
    this.dB = new Float64Array(this.bn || this.ln ? size : 0);
  }

  /**
   * The head's post-activation outputs [B, T, 2] for a batch of digit sequences [B, T], as in
   * training: normalisation layers use the batch's statistics (tfjs's `apply(x, {training: true})`).
   */
  forward(digits: Int32Array, batch: number): Float64Array {
    this.ensureCapacity(batch);
    const H = this.hiddenWidth;
    const rows = batch * T;
    this.lstm.forward(this.w.directions, digits, batch, this.features, H);
    let features: Float64Array = this.features;
    if (this.bn && this.w.batchNorm) {
      normalizeForward(
        features,
        this.bn.out,
        this.bn.xhat,
        this.bn.invStd,
        this.w.batchNorm.gamma,
        this.w.batchNorm.beta,
        rows,
        H,
        BATCH_NORM.epsilon,
        this.batchStats,
      );
      features = this.bn.out;
    }
    if (this.ln && this.w.layerNorm) {
      normalizeForward(features, this.ln.out, this.ln.xhat, this.ln.invStd, this.w.layerNorm.gamma, this.w.layerNorm.beta, rows, H, LAYER_NORM.epsilon);
      features = this.ln.out;
    }
    this.headInput = features;
    headForward(features, rows, H, this.w.dense, this.activation, this.outputs);
    return this.outputs.subarray(0, rows * NUM_CLASSES);
  }

  /**
   * Forward and backward for one batch; fills `grads` (in trainableWeights order), updates
   * BatchNormalization's moving statistics, and returns the batch's mean crossentropy.
   * labels: [B, T] of 0/1.
   */
  lossAndGradients(digits: Int32Array, labels: Int32Array, batch: number): number {
    const out = this.forward(digits, batch);
    if (this.bn) {
      const [movingMean, movingVariance] = this.params.state;
      updateMovingStatistics(movingMean, movingVariance, this.batchStats, BATCH_NORM.momentum);
    }
    for (const g of this.grads) g.fill(0);
    const H = this.hiddenWidth;
    const loss = crossentropyBackward(out, labels, batch, this.headInput, H, this.w.dense, this.g.dense, this.activation, this.dA);
    const dFeatures = this.normalizationBackward(batch * T);
    this.lstm.backward(this.w.directions, this.g.directions, digits, batch, dFeatures, H);
    return loss;
  }

  /** Back through LayerNormalization, then BatchNormalization: returns the gradient at the LSTM's outputs. */
  private normalizationBackward(rows: number): Float64Array {
    const H = this.hiddenWidth;
    let d = this.dA;
    let spare = this.dB;
    if (this.ln && this.w.layerNorm && this.g.layerNorm) {
      normalizeBackward(d, spare, this.ln.xhat, this.ln.invStd, this.w.layerNorm.gamma, this.g.layerNorm.gamma, this.g.layerNorm.beta, rows, H, false);
      [d, spare] = [spare, d];
    }
    if (this.bn && this.w.batchNorm && this.g.batchNorm) {
      normalizeBackward(d, spare, this.bn.xhat, this.bn.invStd, this.w.batchNorm.gamma, this.g.batchNorm.gamma, this.g.batchNorm.beta, rows, H, true);
      [d, spare] = [spare, d];
    }
    return d;
  }

  /**
   * d loss / d input features [B, T, width] for the batch of the last `lossAndGradients` call:
   * what tf.grad gives for the [B, 10, 1] or [B, 10, 10] feature tensor. Used to check parity.
   */
  inputGradient(batch: number): Float64Array {
    const dx = new Float64Array(batch * T * this.inputWidth);
    this.lstm.inputGradient(this.w.directions, batch, dx, this.inputWidth);
    return dx;
  }

  /** Frees what the LSTM layer holds outside the JavaScript heap (the helper thread). */
  dispose(): void {
    this.lstm.dispose();
  }
}
