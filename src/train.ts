import * as tf from '@tensorflow/tfjs';
import type { Config } from './config.js';
import { permutation, rngFor } from './random.js';

/** Training inputs: features [n, 10, width] and one-hot targets [n, 10, 2]. */
export interface TrainingData {
  x: tf.Tensor3D;
  y: tf.Tensor3D;
}

export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean of the batch losses weighted by batch size, as Keras reports it. */
  loss: number;
  seconds: number;
}

export interface BatchRecord {
  /** 1-based epoch and batch within it. */
  epoch: number;
  batch: number;
  batches: number;
  /** Sequences in this batch (the last one may be smaller). */
  size: number;
  loss: number;
}

export interface TrainingCallbacks {
  onBatchEnd?: (record: BatchRecord) => void | Promise<void>;
  onEpochEnd?: (record: EpochRecord) => void | Promise<void>;
}

export interface TrainingResult {
  epochs: EpochRecord[];
  seconds: number;
}

/**
 * Categorical crossentropy exactly as Keras and tfjs-layers define it: each output row is divided
 * by its sum and clipped to [1e-7, 1 - 1e-7] before the log, so a head that is not a probability
 * distribution (the seed's linear Dense) produces NaN or a loss pinned at -ln(1e-7).
 * yTrue, yPred: [batch, 10, 2] → scalar mean over batch and time.
 */
export function tagLoss(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  return tf.metrics.categoricalCrossentropy(yTrue, yPred).mean() as tf.Scalar;
}

/** Adam with Keras's defaults (beta1 0.9, beta2 0.999, epsilon 1e-7). */
export function makeOptimizer(config: Pick<Config, 'lr'>): tf.Optimizer {
  return tf.train.adam(config.lr, 0.9, 0.999, 1e-7);
}

/**
 * Trains `model` in place for `config.epochs` epochs of mini-batch gradient descent.
 *
 * Batches are drawn from a permutation made by the seeded `shuffle` stream, not tfjs's
 * `fit({shuffle: true})`, which uses the unseeded Math.random: with the same seed and backend the
 * loss history is identical run to run.
 */
export async function trainModel(
  model: tf.LayersModel,
  data: TrainingData,
  config: Pick<Config, 'epochs' | 'batchSize' | 'lr' | 'seed'>,
  callbacks: TrainingCallbacks = {},
): Promise<TrainingResult> {
  const n = data.x.shape[0];
  const optimizer = makeOptimizer(config);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const shuffleRng = rngFor(config.seed, 'shuffle');
  const epochs: EpochRecord[] = [];
  const started = performance.now();

  try {
    for (let epoch = 1; epoch <= config.epochs; epoch++) {
      const epochStart = performance.now();
      const order = permutation(n, shuffleRng);
      let weightedLoss = 0;
      const batches = Math.ceil(n / config.batchSize);
      for (let batch = 1, start = 0; start < n; batch++, start += config.batchSize) {
        const indices = order.subarray(start, Math.min(start + config.batchSize, n));
        const lossTensor = tf.tidy(() => {
          const idx = tf.tensor1d(indices, 'int32');
          const xb = tf.gather(data.x, idx);
          const yb = tf.gather(data.y, idx);
          const { value, grads } = tf.variableGrads(
            () => tagLoss(yb, model.apply(xb, { training: true }) as tf.Tensor),
            variables,
          );
          optimizer.applyGradients(grads);
          return value;
        });
        const batchLoss = (await lossTensor.data())[0];
        lossTensor.dispose();
        weightedLoss += batchLoss * indices.length;
        await callbacks.onBatchEnd?.({ epoch, batch, batches, size: indices.length, loss: batchLoss });
      }
      const record = { epoch, loss: weightedLoss / n, seconds: (performance.now() - epochStart) / 1000 };
      epochs.push(record);
      await callbacks.onEpochEnd?.(record);
    }
  } finally {
    optimizer.dispose();
  }
  return { epochs, seconds: (performance.now() - started) / 1000 };
}
