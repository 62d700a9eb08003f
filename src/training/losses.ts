// The losses a Keras tagger is compiled with, computed per position as Keras 3 computes them, so
// that `evaluate` and the doctor's burst score a user's model with its own loss, padding masked.
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import type { CompileInfo } from '../model/keras/archive.js';
import { CROSSENTROPY_EPSILON } from '../config/constants.js';
import { maskTensor } from '../task/tag-data.js';

/** yTrue, yPred: [batch, steps, tags] → the loss at each position [batch, steps]. */
export type TokenLoss = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/**
 * Keras's clip to [ε, 1 − ε], NaN kept as NaN as TensorFlow keeps it (the wasm backend's clip would
 * turn a 0/0 row into the clip bound, a finite loss where Keras reports nan).
 */
const clip = (p: tf.Tensor) => tf.where(tf.isNaN(p), p, tf.clipByValue(p, CROSSENTROPY_EPSILON, 1 - CROSSENTROPY_EPSILON));

function crossentropy(fromLogits: boolean, smoothing: number): TokenLoss {
  return (yTrue, yPred) => {
    const tags = yPred.shape[yPred.shape.length - 1]!;
    const target = smoothing ? tf.add(tf.mul(yTrue, 1 - smoothing), smoothing / tags) : yTrue;
    // Keras: logits through log_softmax; otherwise each row divided by its sum, clipped, then the log.
    const logP = fromLogits ? tf.logSoftmax(yPred) : tf.log(clip(tf.div(yPred, tf.sum(yPred, -1, true))));
    return tf.neg(tf.sum(tf.mul(target, logP), -1));
  };
}

function binaryCrossentropy(fromLogits: boolean, smoothing: number): TokenLoss {
  return (labels, yPred) => {
    // Keras smooths binary labels towards 0.5.
    const yTrue = smoothing ? tf.add(tf.mul(labels, 1 - smoothing), 0.5 * smoothing) : labels;
    // Keras: from logits, TensorFlow's sigmoid_cross_entropy_with_logits, max(z, 0) − z·y + log(1 + e^−|z|), unclipped.
    const perTag = fromLogits
      ? tf.add(tf.sub(tf.relu(yPred), tf.mul(yPred, yTrue)), tf.log1p(tf.exp(tf.neg(tf.abs(yPred)))))
      : tf.neg(tf.add(tf.mul(yTrue, tf.log(clip(yPred))), tf.mul(tf.sub(1, yTrue), tf.log(clip(tf.sub(1, yPred))))));
    return tf.mean(perTag, -1);
  };
}

/** Keras's losses seq-tag computes, by snake_case name. */
const LOSSES: Record<string, (c: CompileInfo) => TokenLoss> = {
  categorical_crossentropy: (c) => crossentropy(c.fromLogits, c.labelSmoothing ?? 0),
  // Labels are one-hot here whatever the file held. Without logits Keras's TensorFlow backend clips
  // the outputs, takes their log and applies a softmax cross-entropy to that: log(clip(p) / Σ clip(p)).
  sparse_categorical_crossentropy: (c) =>
    c.fromLogits ? crossentropy(true, 0) : (yTrue, yPred) => tf.neg(tf.sum(tf.mul(yTrue, tf.logSoftmax(tf.log(clip(yPred)))), -1)),
  binary_crossentropy: (c) => binaryCrossentropy(c.fromLogits, c.labelSmoothing ?? 0),
  mean_squared_error: () => (yTrue, yPred) => tf.mean(tf.square(tf.sub(yTrue, yPred)), -1),
  mean_absolute_error: () => (yTrue, yPred) => tf.mean(tf.abs(tf.sub(yTrue, yPred)), -1),
};

/** The model's own loss (categorical crossentropy when the file names none), or undefined for one seq-tag does not compute. */
export function modelLoss(compile: CompileInfo | undefined): TokenLoss | undefined {
  const info = compile ?? { loss: 'categorical_crossentropy', fromLogits: false };
  return LOSSES[info.loss]?.(info);
}

/** Whether seq-tag computes this loss. */
export const computesLoss = (name: string) => name in LOSSES;

/**
 * The mean over the positions the model reads, as Keras 3 reduces a masked loss (padding weighs
 * nothing, the mean is over the rest). perToken: [batch, steps]; mask: same shape, 1 = read.
 */
export function meanLoss(perToken: tf.Tensor, mask?: tf.Tensor): tf.Scalar {
  return tf.tidy(() => (mask ? tf.div(tf.sum(tf.mul(perToken, mask)), tf.maximum(tf.sum(mask), 1)) : tf.mean(perToken)) as tf.Scalar);
}

/** The model's own loss for training steps, masked like Keras's: a BatchLoss (../training/train.ts). */
export function batchLoss(perToken: TokenLoss, mask?: { of: 'ids' | 'features'; value: number }) {
  return (yTrue: tf.Tensor, yPred: tf.Tensor, x: tf.Tensor): tf.Scalar => meanLoss(perToken(yTrue, yPred), mask && maskTensor(x, mask));
}
