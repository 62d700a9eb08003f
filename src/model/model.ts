// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');
import type { Config, InitializerName } from '../config/config.js';
import { inputWidth, NUM_CLASSES, SEQUENCE_LENGTH } from '../config/config.js';
import { rngFor } from '../shared/random.js';
import { BATCH_NORM, LAYER_NORM } from '../config/constants.js';
import { withoutConsoleWarnings } from './quiet.js';
import { Bidirectional } from './keras/bidirectional.js';

/** The subset of the config that determines the network's architecture. */
export type ModelConfig = Pick<
  Config,
  | 'units'
  | 'encoding'
  | 'bidirectional'
  | 'cell'
  | 'layers'
  | 'recurrentActivation'
  | 'activation'
  | 'batchNorm'
  | 'layerNorm'
  | 'kernelInitializer'
  | 'recurrentInitializer'
  | 'embeddingDim'
> &
  Partial<Pick<Config, 'dropout' | 'recurrentDropout'>>;

/** A text model's sizes, from its data: word ids (the vocabulary, padding and <unk> included) and tags. */
export interface TextShape {
  vocabulary: number;
  tags: number;
}

type Initializer = ReturnType<typeof tfl.initializers.zeros>;

/** Above this many elements tfjs's orthogonal initialiser is slow (0.4 s at 128 units, 31 s at 512, measured). */
const FAST_ORTHOGONAL_FROM = 4 * 64 * 64 + 1;

function initializer(name: InitializerName, seed: number): Initializer {
  if (name === 'zeros') return tfl.initializers.zeros();
  const init = (tfl.initializers[name] as (args: { seed: number }) => Initializer)({ seed });
  if (name === 'orthogonal') {
    // Same matrix, computed fast: the instance keeps tfjs's class and config, so the saved model
    // still says Orthogonal(seed) and stock tfjs or Keras can re-create it.
    const slow = init.apply.bind(init);
    init.apply = (shape: number[], dtype?: tf.DataType) =>
      shape.reduce((n: number, d: number) => n * d, 1) >= FAST_ORTHOGONAL_FROM ? orthogonal(shape, seed) : slow(shape, dtype);
  }
  return init;
}

/**
 * tfjs's Orthogonal initialiser (gain 1) without its tensor-op QR: the same seeded normal matrix
 * A [m, n] (m ≥ n), orthonormalised column by column (modified Gram–Schmidt in float64, whose R has
 * a positive diagonal, i.e. tfjs's Q · sign(diag R)), transposed when the shape is wide.
 */
export function orthogonal(shape: number[], seed: number): tf.Tensor {
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const cols = shape[shape.length - 1];
  const m = Math.max(rows, cols);
  const n = Math.min(rows, cols);
  const a = tf.tidy(() => tf.randomNormal([m, n], 0, 1, 'float32', seed).dataSync());
  const q = Array.from({ length: n }, (_, j) => {
    const column = new Float64Array(m);
    for (let i = 0; i < m; i++) column[i] = a[i * n + j];
    return column;
  });
  for (let j = 0; j < n; j++) {
    const v = q[j];
    for (let k = 0; k < j; k++) {
      const qk = q[k];
      let r = 0;
      for (let i = 0; i < m; i++) r += qk[i] * v[i];
      for (let i = 0; i < m; i++) v[i] -= r * qk[i];
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += v[i] * v[i];
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < m; i++) v[i] *= inv;
  }
  const out = new Float32Array(m * n);
  // Wide [rows < cols]: Qᵀ, whose rows are Q's columns; tall: Q itself, row-major.
  if (rows < cols) q.forEach((column, j) => out.set(column, j * m));
  else for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j] = q[j][i];
  return tf.tensor(out, shape);
}

/**
 * Builds the seed program's tagger: LSTM(units, return sequences) → TimeDistributed(Dense(2)),
 * optionally bidirectional (LSTM output [batch, 10, 2·units]), with answer 2's BatchNormalization
 * or answer 3's LayerNormalization between them when asked.
 * Input [batch, 10, 1] (scalar) or [batch, 10, 10] (one-hot); output [batch, 10, 2].
 *
 * Initialisers match Keras (glorotUniform kernels, orthogonal recurrent kernel, unit forget bias)
 * and each gets its own seed drawn from `seed`, so the same seed gives the same initial weights.
 */
export function buildModel(config: ModelConfig, seed: number, text?: TextShape): tfl.Sequential {
  // tfjs warns on console that orthogonal initialisation of matrices over 2,000 elements is slow; it
  // takes milliseconds here, and the warning would interleave with seq-tag's own output.
  // tfjs's unit-forget-bias initialiser leaves 4 intermediate tensors per LSTM behind; a scope frees
  // them (the weights are variables, which a scope keeps).
  return withoutConsoleWarnings(() => {
    tf.engine().startScope();
    try {
      return assemble(config, seed, text);
    } finally {
      tf.engine().endScope();
    }
  });
}

function assemble(config: ModelConfig, seed: number, text?: TextShape): tfl.Sequential {
  const initSeeds = rngFor(seed, 'weights');
  const nextSeed = () => Math.floor(initSeeds() * 2 ** 31);
  const model = tfl.sequential({ name: 'seq_tag' });
  // Text: any sentence length; Keras's Embedding(mask_zero=True) hides the padding (id 0) from the LSTM and the loss.
  if (text)
    model.add(
      tfl.layers.embedding({
        name: 'embedding',
        inputDim: text.vocabulary,
        outputDim: config.embeddingDim,
        maskZero: true,
        inputShape: [null],
        embeddingsInitializer: tfl.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: nextSeed() }),
      }),
    );
  const inputShape = text ? undefined : [SEQUENCE_LENGTH, inputWidth(config.encoding)];
  // Stacked layers are named lstm, lstm_2, … (gru, gru_2, …), each reading the whole sequence of the one before.
  for (let k = 1; k <= (config.layers ?? 1); k++) {
    const first = k === 1 && !!inputShape;
    const name = `${config.cell ?? 'lstm'}${k > 1 ? `_${k}` : ''}`;
    const args = {
      name,
      units: config.units,
      returnSequences: true,
      recurrentActivation: config.recurrentActivation,
      // Written into the model (and its Keras export) only when set: a model without dropout reads as before.
      ...(config.dropout ? { dropout: config.dropout } : {}),
      ...(config.recurrentDropout ? { recurrentDropout: config.recurrentDropout } : {}),
      kernelInitializer: initializer(config.kernelInitializer, nextSeed()),
      recurrentInitializer: initializer(config.recurrentInitializer, nextSeed()),
      ...(config.bidirectional || !first ? {} : { inputShape }),
    };
    const rnn = (config.cell === 'gru' ? tfl.layers.gru(args) : tfl.layers.lstm({ ...args, unitForgetBias: true })) as tfl.RNN;
    // Bidirectional clones the layer's config for the backward direction, as Keras does.
    const bidirectionalName = `bidirectional${k > 1 ? `_${k}` : ''}`;
    model.add(config.bidirectional ? new Bidirectional({ name: bidirectionalName, layer: rnn, mergeMode: 'concat', ...(first ? { inputShape } : {}) }) : rnn);
  }
  const dense = initializer(config.kernelInitializer, nextSeed());
  if (config.batchNorm) model.add(tfl.layers.batchNormalization({ name: 'batch_normalization', momentum: BATCH_NORM.momentum, epsilon: BATCH_NORM.epsilon }));
  if (config.layerNorm) model.add(tfl.layers.layerNormalization({ name: 'layer_normalization', epsilon: LAYER_NORM.epsilon }));
  model.add(
    tfl.layers.timeDistributed({
      name: 'time_distributed',
      layer: tfl.layers.dense({
        name: 'dense',
        units: text?.tags ?? NUM_CLASSES,
        activation: config.activation,
        kernelInitializer: dense,
      }),
    }),
  );
  return model;
}

export interface LayerSummary {
  name: string;
  type: string;
  /** e.g. [null, 10, 16]; null is the batch dimension. */
  outputShape: (number | null)[];
  params: number;
}

export interface ModelSummary {
  layers: LayerSummary[];
  totalParams: number;
  trainableParams: number;
}

/** What Keras's `model.summary()` shows, as data. */
export function summarize(model: tfl.LayersModel): ModelSummary {
  const layers = model.layers.map((layer) => ({
    name: layer.name,
    type: layer.getClassName(),
    outputShape: layer.outputShape as (number | null)[],
    params: layer.countParams(),
  }));
  const count = (weights: tfl.LayerVariable[]) => weights.reduce((sum, w) => sum + w.read().size, 0);
  return {
    layers,
    totalParams: count(model.weights),
    trainableParams: count(model.trainableWeights),
  };
}

/** Sequences per predict pass: all of a usual evaluation at once, with memory still bounded. */
const PREDICT_BATCH = 4096;

/**
 * The model's output [n, 10, 2] for features [n, 10, width], in passes of up to 4,096 sequences:
 * `model.predict` would otherwise split into batches of 32 and, per batch, dispatch the LSTM's
 * per-step kernels again (a 1,000-sequence evaluation took 210 ms that way on wasm, 55 ms now).
 */
export function predictAll(model: tfl.LayersModel, features: tf.Tensor): tf.Tensor3D {
  return model.predict(features, { batchSize: Math.max(1, Math.min(features.shape[0], PREDICT_BATCH)) }) as tf.Tensor3D;
}

/**
 * The values a Dense or Activation head turns into its outputs (what Keras's crossentropies read as
 * logits when the head is a softmax or sigmoid), for `features` [n, steps, …] → [n, steps, tags].
 */
export function preActivations(model: tfl.LayersModel, features: tf.Tensor): tf.Tensor3D {
  const last = model.layers[model.layers.length - 1];
  const body = tfl.model({ inputs: model.inputs, outputs: last.input as tfl.SymbolicTensor });
  const hidden = predictAll(body, features);
  if (last.getClassName() === 'Activation') return hidden;
  const [kernel, bias] = last.getWeights();
  try {
    return tf.tidy(() => {
      const [n, steps, width] = hidden.shape;
      const z = tf.matMul(tf.reshape(hidden, [n * steps, width]), kernel);
      return tf.reshape(bias ? tf.add(z, bias) : z, [n, steps, kernel.shape[1]!]);
    });
  } finally {
    hidden.dispose();
  }
}

/** The argmax tag at each position of `outputs` [n, steps, tags], read out; no tensor is left behind. */
export function argMaxTags(outputs: tf.Tensor): Int32Array {
  const tags = tf.argMax(outputs, -1);
  try {
    return tags.dataSync() as Int32Array;
  } finally {
    tags.dispose();
  }
}
