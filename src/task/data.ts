// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import { permutation, randomIndex, Rng } from '../shared/random.js';

// The task's shape is part of the config (the model is built from it): defined there, read here.
import { ENCODINGS, inputWidth, NUM_CLASSES, SEQUENCE_LENGTH, type Encoding, type TaskInput } from '../config/config.js';
export { ENCODINGS, inputWidth, NUM_CLASSES, SEQUENCE_LENGTH, type Encoding, type TaskInput };

/**
 * `n` sequences stored flat, row-major: sequence k occupies [k*10, k*10+10).
 * `digits` holds 0..9, `labels` holds 1 where the digit belongs to the repeated pair.
 */
export interface Dataset {
  n: number;
  digits: Int32Array;
  labels: Int32Array;
}

/**
 * One sequence as the seed program makes it: a shuffled 0..9, then two distinct positions (i, j)
 * drawn in order like `random.sample(range(10), 2)`, and xs[j] = xs[i]. Exactly one digit value
 * appears twice, one digit is missing, and both positions are labelled 1.
 */
export function sampleSequence(rng: Rng): { digits: Int32Array; labels: Int32Array } {
  const digits = permutation(SEQUENCE_LENGTH, rng);
  const labels = new Int32Array(SEQUENCE_LENGTH);
  const i = randomIndex(rng, SEQUENCE_LENGTH);
  let j = randomIndex(rng, SEQUENCE_LENGTH - 1);
  if (j >= i) j += 1;
  digits[j] = digits[i];
  labels[i] = 1;
  labels[j] = 1;
  return { digits, labels };
}

export function generateDataset(n: number, rng: Rng): Dataset {
  const digits = new Int32Array(n * SEQUENCE_LENGTH);
  const labels = new Int32Array(n * SEQUENCE_LENGTH);
  for (let k = 0; k < n; k++) {
    const s = sampleSequence(rng);
    digits.set(s.digits, k * SEQUENCE_LENGTH);
    labels.set(s.labels, k * SEQUENCE_LENGTH);
  }
  return { n, digits, labels };
}

/** Sequences [from, to) of `data`, as views of its arrays. */
export function sliceDataset(data: Dataset, from: number, to: number): Dataset {
  return {
    n: to - from,
    digits: data.digits.subarray(from * SEQUENCE_LENGTH, to * SEQUENCE_LENGTH),
    labels: data.labels.subarray(from * SEQUENCE_LENGTH, to * SEQUENCE_LENGTH),
  };
}

/** Typed sequences (10 digits each) as a dataset, each labelled the way the generator would (labelRepeats). */
export function datasetOf(rows: Int32Array[]): Dataset {
  const digits = new Int32Array(rows.length * SEQUENCE_LENGTH);
  const labels = new Int32Array(rows.length * SEQUENCE_LENGTH);
  rows.forEach((row, k) => {
    digits.set(row, k * SEQUENCE_LENGTH);
    labels.set(labelRepeats(row), k * SEQUENCE_LENGTH);
  });
  return { n: rows.length, digits, labels };
}

/** Labels a user-typed sequence the way the generator would: 1 at every digit that occurs twice or more. */
export function labelRepeats(digits: ArrayLike<number>): Int32Array {
  const counts = new Map<number, number>();
  for (let t = 0; t < digits.length; t++) counts.set(digits[t], (counts.get(digits[t]) ?? 0) + 1);
  return Int32Array.from(Array.from(digits, (d) => ((counts.get(d) ?? 0) > 1 ? 1 : 0)));
}

/** Features: float32 [n, 10, 1] (digit value) or [n, 10, 10] (one-hot digit). */
export function featureTensor(digits: Int32Array, encoding: Encoding): tf.Tensor3D {
  const n = digits.length / SEQUENCE_LENGTH;
  if (encoding === 'scalar') return tf.tensor3d(Float32Array.from(digits), [n, SEQUENCE_LENGTH, 1]);
  return tf.tidy(() => tf.reshape(tf.cast(tf.oneHot(tf.tensor1d(digits, 'int32'), 10), 'float32'), [n, SEQUENCE_LENGTH, 10]));
}

/** Targets: float32 one-hot [n, 10, 2]. */
export function labelTensor(labels: Int32Array): tf.Tensor3D {
  const n = labels.length / SEQUENCE_LENGTH;
  return tf.tidy(() => tf.reshape(tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), NUM_CLASSES), 'float32'), [n, SEQUENCE_LENGTH, NUM_CLASSES]));
}

/**
 * Parses a user-typed sequence such as "4 0 2 8 5 6 1 3 3 7" or "4028561337": exactly ten digits
 * 0-9, separated by spaces or commas or not at all. Returns undefined when the text is not that.
 */
export function parseDigitSequence(text: string): Int32Array | undefined {
  const trimmed = text.trim();
  const parts = /^[0-9]+$/.test(trimmed) ? trimmed.split('') : trimmed.split(/[\s,]+/);
  if (parts.length !== SEQUENCE_LENGTH || !parts.every((p) => /^[0-9]$/.test(p))) return undefined;
  return Int32Array.from(parts, Number);
}
