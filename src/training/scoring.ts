// Scoring a model on tagged sequences as Keras's model.evaluate does: held-out evaluation, the
// user's --data, and the validation split after every epoch all come through here.
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');
import type { ModelDescription } from '../model/describe.js';
import type { CompileInfo } from '../model/keras/archive.js';
import { argMaxTags, predictAll, preActivations } from '../model/model.js';
import { evaluateTags, type Evaluation } from '../task/metrics.js';
import { inputTensor, positionMask, targetTensor, trueTags, type TagData } from '../task/tag-data.js';
import { meanLoss, modelLoss } from './losses.js';
import { entityScores, isChunkScheme } from '../task/entities.js';
import { fusedInput, fusedPredictor } from './fused/inference.js';
export { fusedPredictor, type Predictor } from './fused/inference.js';

const CROSSENTROPIES = new Set(['categorical_crossentropy', 'sparse_categorical_crossentropy', 'binary_crossentropy']);

/** How to score a model: its own loss (from the file, or categorical crossentropy) and the positions its mask hides. */
export interface Scoring {
  compile?: CompileInfo;
  mask?: ModelDescription['mask'];
}

/**
 * The model's outputs on the first `rows` sequences of `data`, [rows, steps, tags]: the fused
 * engine's forward pass where it computes the model (./fused/inference.ts), else tf.layers'. Logits
 * read through a last Dense (scoring.compile.outputLogits) go through tf.layers.
 */
export function outputsOf(model: tfl.LayersModel, data: TagData, rows = data.n, scoring: Scoring = {}): tf.Tensor3D {
  const input = fusedInput(data);
  const fused = scoring.compile?.outputLogits || !input ? undefined : fusedPredictor(model, input);
  try {
    return fused ? tf.tensor3d(fused(data, rows), [rows, data.steps, data.tags]) : tf.tidy(() => predictAll(model, inputTensor(data, rows)) as tf.Tensor3D);
  } finally {
    fused?.dispose();
  }
}

/**
 * Scores `model` on `data` as Keras's `model.evaluate` does: the model's own loss on its raw
 * outputs, averaged over the positions it reads, and tags by argmax (token accuracy is Keras's
 * accuracy); then exact-match and per-tag scores against the no-skill baselines.
 */
export function evaluateData(model: tfl.LayersModel, data: TagData, scoring: Scoring = {}): Evaluation {
  const mask = positionMask(data, scoring.mask);
  const out = outputsOf(model, data, data.n, scoring);
  const predicted = argMaxTags(out);
  // Keras's crossentropies read a softmax or sigmoid head's input as logits (CompileInfo.outputLogits).
  const logits = scoring.compile?.outputLogits && CROSSENTROPIES.has(scoring.compile.loss);
  const lossOf = modelLoss(logits ? { ...scoring.compile!, fromLogits: true } : scoring.compile);
  const perToken = lossOf && tf.tidy(() => lossOf(targetTensor(data), logits ? preActivations(model, inputTensor(data)) : out));
  const loss = perToken ? batchedLoss(perToken, mask) : null;
  const lossWhy = loss !== null && !Number.isFinite(loss) ? nonFiniteLoss(perToken!, out, mask) : undefined;
  tf.dispose([out, perToken!].filter(Boolean));
  const truth = trueTags(data);
  const scores = evaluateTags(truth, predicted, data.steps, loss, { tags: data.tags, mask });
  const named = data.tagNames ? { tagNames: data.tagNames, ...entitiesOf(data, truth, predicted, mask) } : {};
  return { ...scores, ...named, ...(lossWhy ? { lossWhy } : {}) };
}

/** Entity scores of text data whose tags are IOB/BIO/IOBES, sentence by sentence over the real positions. */
function entitiesOf(data: TagData, truth: Int32Array, predicted: Int32Array, mask?: Uint8Array): Pick<Evaluation, 'entities'> {
  const names = data.tagNames!;
  if (!isChunkScheme(names)) return {};
  const sentences = (tags: Int32Array) =>
    Array.from({ length: data.n }, (_, s) => {
      const out: string[] = [];
      for (let t = 0; t < data.steps; t++) if (!mask || mask[s * data.steps + t]) out.push(names[tags[s * data.steps + t]]);
      return out;
    });
  return { entities: entityScores(sentences(truth), sentences(predicted)) };
}

/** Where a loss that is not finite comes from (see Evaluation.lossWhy). perToken: [n, steps]; out: [n, steps, tags]. */
function nonFiniteLoss(perToken: tf.Tensor, out: tf.Tensor, mask?: Uint8Array): NonNullable<Evaluation['lossWhy']> {
  const losses = perToken.dataSync();
  const rows = out.dataSync();
  const tags = out.shape[2]!;
  const count = { scored: 0, scoredZero: 0, padded: 0, paddedZero: 0 };
  let other = 0;
  let others = 0;
  for (let k = 0; k < losses.length; k++) {
    const scored = !mask || mask[k] === 1;
    if (Number.isFinite(losses[k])) {
      if (scored) {
        other += losses[k];
        others++;
      }
      continue;
    }
    let sum = 0;
    for (let c = 0; c < tags; c++) sum += rows[k * tags + c];
    count[scored ? 'scored' : 'padded']++;
    if (sum === 0) count[scored ? 'scoredZero' : 'paddedZero']++;
  }
  // Only padding at fault: the loss Keras would report had the padded outputs been finite.
  const real = count.scored === 0 ? tf.tidy(() => tf.where(tf.isFinite(perToken), perToken, tf.zerosLike(perToken))) : undefined;
  const otherLoss = real ? batchedLoss(real, mask) : others ? other / others : null;
  real?.dispose();
  return { positions: count.scored, zeroSumRows: count.scoredZero, padded: count.padded, paddedZeroSumRows: count.paddedZero, otherLoss };
}

/** model.evaluate's default batch size: its loss is the mean of the batches' losses, weighted by their sizes. */
const KERAS_EVALUATE_BATCH = 32;

/** The loss as model.evaluate reports it: each batch's (masked) mean, averaged over batches by size. perToken: [n, steps]. */
function batchedLoss(perToken: tf.Tensor, mask?: Uint8Array): number {
  const [n, steps] = perToken.shape;
  let total = 0;
  for (let start = 0; start < n; start += KERAS_EVALUATE_BATCH) {
    const size = Math.min(KERAS_EVALUATE_BATCH, n - start);
    const value = tf.tidy(() => {
      const batchMask = mask && tf.tensor2d(Float32Array.from(mask.subarray(start * steps!, (start + size) * steps!)), [size, steps!]);
      return meanLoss(tf.slice(perToken, [start, 0], [size, -1]), batchMask).dataSync()[0];
    });
    total += value * size;
  }
  return total / n;
}
