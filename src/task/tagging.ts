// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');
import { argMaxTags, predictAll } from '../model/model.js';
import { inputTensor, positionMask, rowsOf, trueTags, type TagData } from './tag-data.js';
import type { ModelDescription } from '../model/describe.js';
import { encodeSentences, type TextVocabulary } from './vocabulary.js';

/** A model's outputs [rows, steps, tags] for the first `rows` sequences of `data`, computed outside tf.layers (the fused engine's forward pass, ../training/fused/inference.ts). */
export type FusedForward = (data: TagData, rows: number) => Float32Array;

/** One sequence with its true tags and the model's, and what the model output at each position. */
export interface TaggedSequence {
  /** The inputs: digits or ids per position (other features: the first one). */
  digits: number[];
  truth: number[];
  /** The model's tag at each position: the argmax of its outputs, as Keras's users read them. */
  predicted: number[];
  /** P(tag 1) at each position: only for a probability head (softmax, or logits the loss softmaxes). */
  probs?: number[];
  /** Every tag's probability at each position [positions][tags]: with `probs`, for a probability head. */
  probabilities?: number[][];
  /** The raw output rows [positions][tags]: for any other head, whose outputs are not probabilities. */
  outputs?: number[][];
}

/**
 * Tags the first `count` sequences of `data` (masked padding left out). `probability` says whether
 * the model's outputs are probabilities (then `probs` is P(tag 1)); otherwise the raw rows are kept.
 */
export function tagSequences(
  model: tfl.LayersModel,
  data: TagData,
  probability: boolean,
  mask?: ModelDescription['mask'],
  count = data.n,
  predict?: FusedForward,
): TaggedSequence[] {
  const n = Math.min(count, data.n);
  const out = predict ? tf.tensor3d(predict(data, n), [n, data.steps, data.tags]) : tf.tidy(() => predictAll(model, inputTensor(data, n)));
  const values = out.dataSync() as Float32Array;
  const predicted = argMaxTags(out);
  out.dispose();
  // Only the rows shown: a large file's whole mask would hold the data again.
  const shown = rowsOf(data, 0, n);
  const truth = trueTags(shown);
  const read = positionMask(shown, mask);
  const width = data.features ?? 1;
  return Array.from({ length: n }, (_, s) => {
    const positions = Array.from({ length: data.steps }, (_, t) => s * data.steps + t).filter((k) => !read || read[k]);
    const rows = positions.map((k) => Array.from(values.subarray(k * data.tags, (k + 1) * data.tags)));
    return {
      digits: positions.map((k) => (data.shown ? data.shown[k] : data.x[k * width])),
      truth: positions.map((k) => truth[k]),
      predicted: positions.map((k) => predicted[k]),
      ...(probability ? { probs: rows.map((r) => r[1]), probabilities: rows } : { outputs: rows }),
    };
  });
}

/** A sentence tagged by a text model: its words, the model's tags and each tag's probability. */
export interface TaggedSentence {
  words: string[];
  tags: string[];
  /** The probability the model gave each chosen tag (softmax head). */
  confidence: number[];
}

/**
 * Tags raw sentences (words already split) with a model trained on text: words through its
 * vocabulary (unknown ones as <unk>), a sentence longer than its maxLength in pieces, and at each
 * word the argmax tag by name. Empty sentences come back empty.
 */
export function tagText(model: tfl.LayersModel, sentences: string[][], vocabulary: TextVocabulary, predict?: FusedForward): TaggedSentence[] {
  if (sentences.length === 0) return [];
  const { x, n, steps, pieces } = encodeSentences(sentences, vocabulary);
  const tags = vocabulary.tags.length;
  // The fused engine's forward pass when the caller has one for this model (../training/fused/inference.ts), else tf.layers.
  const out = predict
    ? tf.tensor3d(predict({ n, steps, features: null, x, labels: new Int32Array(0), tags, source: 'sentences' }, n), [n, steps, tags])
    : tf.tidy(() => predictAll(model, tf.tensor2d(Int32Array.from(x), [n, steps], 'int32')));
  const values = out.dataSync() as Float32Array;
  const predicted = argMaxTags(out);
  out.dispose();
  let row = 0;
  return sentences.map((words, s) => {
    const at = (k: number) => (row + Math.floor(k / vocabulary.maxLength)) * steps + (k % vocabulary.maxLength);
    const tagged = {
      words,
      tags: words.map((_, k) => vocabulary.tags[predicted[at(k)]]),
      confidence: words.map((_, k) => values[at(k) * tags + predicted[at(k)]]),
    };
    row += pieces[s];
    return tagged;
  });
}
