// Scoring a model on tagged sequences as Keras's model.evaluate does: held-out evaluation, the
// user's --data, and the validation split after every epoch all come through here.
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');
import type { ModelDescription } from '../model/describe.js';
import type { CompileInfo } from '../model/keras/archive.js';
import { argMaxTags, predictAll, preActivations } from '../model/model.js';
import { evaluateTags, sequenceSpan, type Evaluation } from '../task/metrics.js';
import { inputTensor, isPacked, padded, positionMask, rowsOf, targetTensor, trueTags, type Rows, type TagData } from '../task/tag-data.js';
import { PAD_ID } from '../task/vocabulary.js';
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
  const fused = predictorFor(model, data, scoring);
  try {
    return outputsWith(model, fused, data, rows);
  } finally {
    fused?.dispose();
  }
}

/** The fused engine's forward pass for `model` on data like `data`, when it computes it (logits read through a last Dense do not). */
function predictorFor(model: tfl.LayersModel, data: Parameters<typeof fusedInput>[0], scoring: Scoring): ReturnType<typeof fusedPredictor> {
  const input = fusedInput(data);
  return scoring.compile?.outputLogits || !input ? undefined : fusedPredictor(model, input);
}

/** outputsOf with the predictor given (made once for many calls). */
function outputsWith(model: tfl.LayersModel, fused: ReturnType<typeof fusedPredictor>, data: TagData, rows: number): tf.Tensor3D {
  return fused ? tf.tensor3d(fused(data, rows), [rows, data.steps, data.tags]) : tf.tidy(() => predictAll(model, inputTensor(data, rows)) as tf.Tensor3D);
}

/** Rows scored at a time: a multiple of Keras's evaluate batch, so the loss is the one it reports; its outputs and losses stay a few tens of MB. */
export const SCORING_CHUNK = 1024;

/**
 * Scores `model` on `data` as Keras's `model.evaluate` does: the model's own loss on its raw
 * outputs, averaged over the positions it reads, and tags by argmax (token accuracy is Keras's
 * accuracy); then exact-match and per-tag scores against the no-skill baselines. Rows go through
 * the model `chunk` at a time (a multiple of 32), so memory holds one chunk's outputs, not the data's.
 */
export function evaluateData(model: tfl.LayersModel, all: Rows, scoring: Scoring = {}, chunk = SCORING_CHUNK): Evaluation {
  // Packed rows keep only real positions: a model that masks its padding scores just those;
  // one that reads padding too is scored on the rows padded, as Keras would score them.
  const packed = isPacked(all) && scoring.mask?.of === 'ids' && scoring.mask.value === PAD_ID ? all : undefined;
  const data = packed ?? padded(all);
  // Padded rows' mask, filled chunk by chunk (a whole-data mask tensor would hold the data again).
  const mask = isPacked(data) || !scoring.mask ? undefined : new Uint8Array(data.n * data.steps);
  const steps = packed ? packed.starts : data.steps;
  const positions = packed ? packed.starts[packed.n] - packed.starts[0] : data.n * data.steps;
  const predicted = new Int32Array(positions);
  // Keras's crossentropies read a softmax or sigmoid head's input as logits (CompileInfo.outputLogits).
  const logits = scoring.compile?.outputLogits && CROSSENTROPIES.has(scoring.compile.loss);
  const lossOf = modelLoss(logits ? { ...scoring.compile!, fromLogits: true } : scoring.compile);
  const why = new LossWhy();
  let lossSum = 0;
  // The model's weights read once for every chunk.
  const fused = predictorFor(model, data, scoring);
  try {
    for (let from = 0; from < data.n; from += chunk) {
      const rows = rowsOf(data, from, Math.min(from + chunk, data.n));
      const rowMask = positionMask(rows, scoring.mask);
      if (mask && rowMask) mask.set(rowMask, from * data.steps);
      const out = outputsWith(model, fused, rows, rows.n);
      const tags = argMaxTags(out);
      if (!packed) predicted.set(tags, from * data.steps);
      else
        for (let r = 0; r < rows.n; r++) {
          const [start, end] = [packed.starts[from + r], packed.starts[from + r + 1]];
          predicted.set(tags.subarray(r * rows.steps, r * rows.steps + end - start), start - packed.starts[0]);
        }
      const perToken = lossOf && tf.tidy(() => lossOf(targetTensor(rows), logits ? preActivations(model, inputTensor(rows)) : out));
      if (perToken) {
        const sum = batchedLoss(perToken, rowMask);
        lossSum += sum;
        why.add(perToken, out, sum, rowMask);
      }
      tf.dispose([out, perToken!].filter(Boolean));
    }
  } finally {
    fused?.dispose();
  }
  const loss = lossOf ? lossSum / data.n : null;
  const lossWhy = loss !== null && !Number.isFinite(loss) ? why.result(data.n) : undefined;
  const truth = packed ? packed.labels.subarray(packed.starts[0], packed.starts[packed.n]) : trueTags(data as TagData);
  const scores = evaluateTags(truth, predicted, steps, loss, { tags: data.tags, mask });
  const named = data.tagNames ? { tagNames: data.tagNames, ...entitiesOf(data.tagNames, data.n, steps, truth, predicted, mask) } : {};
  return { ...scores, ...named, ...(lossWhy ? { lossWhy } : {}) };
}

/** Entity scores of text data whose tags are IOB/BIO/IOBES, sentence by sentence over the real positions. */
function entitiesOf(
  names: string[],
  n: number,
  length: number | Int32Array,
  truth: Int32Array,
  predicted: Int32Array,
  mask?: Uint8Array,
): Pick<Evaluation, 'entities'> {
  if (!isChunkScheme(names)) return {};
  const sentences = (tags: Int32Array) =>
    Array.from({ length: n }, (_, s) => {
      const out: string[] = [];
      const [start, end] = sequenceSpan(length, s);
      for (let k = start; k < end; k++) if (!mask || mask[k]) out.push(names[tags[k]]);
      return out;
    });
  return { entities: entityScores(sentences(truth), sentences(predicted)) };
}

/**
 * Where a loss that is not finite comes from (see Evaluation.lossWhy), gathered chunk by chunk:
 * the non-finite positions the loss reads and those under padding, how many of each have outputs
 * summing to 0, and the loss of the rest.
 */
class LossWhy {
  private readonly count = { scored: 0, scoredZero: 0, padded: 0, paddedZero: 0 };
  private other = 0;
  private others = 0;
  /** Σ over batches of (size × the batch's loss with non-finite positions read as 0). */
  private finiteSum = 0;

  /** One chunk: perToken [rows, steps], out [rows, steps, tags], `sum` its batchedLoss. */
  add(perToken: tf.Tensor, out: tf.Tensor, sum: number, mask?: Uint8Array): void {
    if (Number.isFinite(sum)) {
      this.finiteSum += sum;
      return;
    }
    const losses = perToken.dataSync();
    const rows = out.dataSync();
    const tags = out.shape[2]!;
    for (let k = 0; k < losses.length; k++) {
      const scored = !mask || mask[k] === 1;
      if (Number.isFinite(losses[k])) {
        if (scored) {
          this.other += losses[k];
          this.others++;
        }
        continue;
      }
      let rowSum = 0;
      for (let c = 0; c < tags; c++) rowSum += rows[k * tags + c];
      this.count[scored ? 'scored' : 'padded']++;
      if (rowSum === 0) this.count[scored ? 'scoredZero' : 'paddedZero']++;
    }
    const real = tf.tidy(() => tf.where(tf.isFinite(perToken), perToken, tf.zerosLike(perToken)));
    this.finiteSum += batchedLoss(real, mask);
    real.dispose();
  }

  /** The account of a loss over `n` rows. Only padding at fault: otherLoss is the loss Keras would report had the padded outputs been finite. */
  result(n: number): NonNullable<Evaluation['lossWhy']> {
    const c = this.count;
    const otherLoss = c.scored === 0 ? this.finiteSum / n : this.others ? this.other / this.others : null;
    return { positions: c.scored, zeroSumRows: c.scoredZero, padded: c.padded, paddedZeroSumRows: c.paddedZero, otherLoss };
  }
}

/** model.evaluate's default batch size: its loss is the mean of the batches' losses, weighted by their sizes. */
const KERAS_EVALUATE_BATCH = 32;

/** Σ over model.evaluate's batches of (size × the batch's masked mean): divided by the rows, the loss it reports. perToken: [n, steps]. */
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
  return total;
}
