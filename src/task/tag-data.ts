// Sequences to tag and score, whoever made them: the digit task's generator or the user's own
// `.npz` (np.savez of `x` and `y`). Every command that runs a model on data reads it through here.
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import { createHash } from 'node:crypto';
import { describeFsError, UserError } from '../errors.js';
import { describeShapes, type ModelDescription } from '../model/describe.js';
import { LIMITS } from '../shared/limits.js';
import { NotReadable, readBounded } from '../storage/files.js';
import { inputWidth, NUM_CLASSES, SEQUENCE_LENGTH, type Dataset, type TaskInput } from './data.js';
import { formatBytes, thousands } from '../shared/format.js';
import { BadNpz, openNpz, type Npz, type NpyArray, type NpyHeader } from './npz.js';

export interface TagData {
  n: number;
  steps: number;
  /** Features per step; null: `x` holds integer ids [n, steps] for an Embedding. */
  features: number | null;
  /** Inputs, row-major: [n, steps, features] or [n, steps]. */
  x: Float32Array;
  /** Each position's tag id [n, steps], row-major; −1 where there is none (padding). One-hot rows are made only where a loss needs them (targetTensor). */
  labels: Int32Array;
  tags: number;
  /** Where the data came from, for headers ("pos.npz", "generated, seed 1"). */
  source: string;
  /** Tag names by tag id, for data read from text (a corpus's tag list). */
  tagNames?: string[];
  /** Sentences of the text it was read from (rows count a sentence over --max-length once per piece). */
  sentences?: number;
  /** What to show for each position [n, steps] (the digits of the task's one-hot inputs); default: ids, or the first feature. */
  shown?: ArrayLike<number>;
}

/** The task's generated sequences as TagData, encoded as the model takes them (ids: the digits themselves, [n, 10]). */
export function taskData(data: Dataset, encoding: TaskInput, source: string): TagData {
  const labels = Int32Array.from(data.labels);
  if (encoding === 'ids')
    return { n: data.n, steps: SEQUENCE_LENGTH, features: null, x: Float32Array.from(data.digits), labels, tags: NUM_CLASSES, source, shown: data.digits };
  const width = inputWidth(encoding);
  const x = new Float32Array(data.n * SEQUENCE_LENGTH * width);
  data.digits.forEach((d, k) => (x[encoding === 'scalar' ? k : k * width + d] = encoding === 'scalar' ? d : 1));
  return { n: data.n, steps: SEQUENCE_LENGTH, features: width, x, labels, tags: NUM_CLASSES, source, shown: data.digits };
}

/**
 * Rows without padding: a text corpus's sentences as ids, 8 bytes a word where padded rows take 8
 * a position of the longest (sentences of 28 words padded to 128: 4.5 times as much). Row r is
 * positions starts[r] .. starts[r + 1] − 1 of `ids` and `labels` (offsets into the whole arrays,
 * so a run of rows is a view). No `x`: code that reads padded rows takes them from rowsOf or padded.
 */
export interface PackedRows extends Omit<TagData, 'x' | 'labels' | 'features' | 'shown'> {
  features: null;
  /** n + 1 offsets. */
  starts: Int32Array;
  /** Word ids (never 0: padding is what the rows leave out). */
  ids: Int32Array;
  /** Tag ids, one a word. */
  labels: Int32Array;
}

/** Tagged rows, padded or packed. */
export type Rows = TagData | PackedRows;

export const isPacked = (data: Rows): data is PackedRows => 'starts' in data;

/** Rows from..to of packed rows, as a view (the same arrays). */
export function packedRows(data: PackedRows, from: number, to: number): PackedRows {
  let steps = 1;
  for (let r = from; r < to; r++) steps = Math.max(steps, data.starts[r + 1] - data.starts[r]);
  return { ...data, n: to - from, steps, starts: data.starts.subarray(from, to + 1) };
}

/** Each row's length: the positions before its trailing padding (padded ids [n, steps]), or its words (packed). */
export function rowLengths(data: Rows): Int32Array {
  if (isPacked(data)) return Int32Array.from({ length: data.n }, (_, r) => data.starts[r + 1] - data.starts[r]);
  const lengths = new Int32Array(data.n);
  for (let r = 0; r < data.n; r++) {
    let t = data.steps;
    while (t > 0 && data.x[r * data.steps + t - 1] === 0) t--;
    lengths[r] = t;
  }
  return lengths;
}

/** Bytes packed rows take padded to `steps`: ids, tag ids and a mask a position. */
const paddedBytes = (n: number, steps: number) => n * steps * (4 + 4 + 1);

/**
 * Rows as padded TagData (the same object if it is): ids [n, steps] (0 = padding) and tag ids (−1).
 * Refuses, in one line naming `role`, rows that would take more than LIMITS.dataBytes padded.
 */
export function padded(data: Rows, role = '--data'): TagData {
  if (!isPacked(data)) return data;
  const bytes = paddedBytes(data.n, data.steps);
  if (bytes > LIMITS.dataBytes)
    throw new UserError(
      `${role} ${data.source} would take ${formatBytes(bytes)} in memory padded (${thousands(data.n)} sentences × ${data.steps} words, the longest, as ids and tag ids), more than the ${formatBytes(LIMITS.dataBytes)} seq-tag holds; lower --max-length or split the file`,
    );
  return rowsOf(data, 0, data.n, true, data.steps);
}

/**
 * Rows from..to of `data`: views of its arrays, or copies (`copy`) for data kept apart from it.
 * Packed rows come out padded (a copy) to `steps`, by default the longest of those rows.
 */
export function rowsOf(data: Rows, from: number, to: number, copy = false, steps?: number): TagData {
  if (isPacked(data)) {
    const T = steps ?? packedRows(data, from, to).steps;
    const x = new Float32Array((to - from) * T);
    const labels = new Int32Array((to - from) * T).fill(-1);
    for (let r = from; r < to; r++) {
      const start = data.starts[r];
      const length = data.starts[r + 1] - start;
      for (let t = 0; t < length; t++) x[(r - from) * T + t] = data.ids[start + t];
      labels.set(data.labels.subarray(start, start + length), (r - from) * T);
    }
    const { starts: _s, ids: _i, ...rest } = data;
    return { ...rest, n: to - from, steps: T, x, labels };
  }
  const part = <A extends Float32Array | Int32Array>(a: A, per: number): A => (copy ? a.slice(from * per, to * per) : a.subarray(from * per, to * per)) as A;
  return {
    ...data,
    n: to - from,
    x: part(data.x, data.steps * (data.features ?? 1)),
    labels: part(data.labels, data.steps),
    shown: data.shown && Array.prototype.slice.call(data.shown, from * data.steps, to * data.steps),
  };
}

/** The words of row `row` of ids [rows, T], when its padding (id 0) only trails them; −1 for a word after padding. */
export function wordsInRow(ids: ArrayLike<number>, row: number, T: number): number {
  let n = 0;
  while (n < T && ids[row * T + n] !== 0) n++;
  for (let t = n; t < T; t++) if (ids[row * T + t] !== 0) return -1;
  return n;
}

/** Inputs of the first `rows` sequences as the model takes them: float32 [rows, steps, features], or int32 ids [rows, steps]. */
export function inputTensor(data: TagData, rows = data.n): tf.Tensor {
  const x = data.x.subarray(0, rows * data.steps * (data.features ?? 1));
  return data.features === null ? tf.tensor2d(Int32Array.from(x), [rows, data.steps], 'int32') : tf.tensor3d(x, [rows, data.steps, data.features]);
}

/**
 * The labels as one-hot rows [n × steps × tags] (all zero where there is no tag), as Keras's
 * categorical losses read them. Scoring makes them a chunk at a time; what makes them for a whole
 * data set (tf.layers' training, the doctor) is refused, in one line, past LIMITS.dataBytes.
 */
export function oneHotLabels(data: TagData): Float32Array {
  const bytes = data.labels.length * data.tags * 4;
  if (bytes > LIMITS.dataBytes)
    throw new UserError(
      `${data.source}: its tags one-hot (${[data.n, data.steps, data.tags].map(thousands).join(' × ')}) would take ${formatBytes(bytes)} in memory, more than the ${formatBytes(LIMITS.dataBytes)} seq-tag holds; the fused engine (the default for --data) trains without them, or give a smaller file`,
    );
  const rows = new Float32Array(data.labels.length * data.tags);
  data.labels.forEach((tag, k) => {
    if (tag >= 0) rows[k * data.tags + tag] = 1;
  });
  return rows;
}

/** The labels one-hot [n, steps, tags]: what Keras's losses compare the outputs with. */
export function targetTensor(data: TagData): tf.Tensor3D {
  return tf.tensor3d(oneHotLabels(data), [data.n, data.steps, data.tags]);
}

/** Each position's true tag as Keras's accuracy reads it: the argmax of its one-hot row (0 for an all-zero row: padding). */
export function trueTags(data: TagData): Int32Array {
  return Int32Array.from(data.labels, (tag) => (tag < 0 ? 0 : tag));
}

/**
 * 1 where the model reads a position, 0 where its mask hides it: an id other than the mask value
 * (an Embedding with mask_zero), or a step with any feature other than it (Masking). The one
 * statement of the rule: scoring, tagging, the doctor and the masked loss of a burst all use it.
 * x: [batch, steps] ids or [batch, steps, features] → [batch, steps] of 0/1.
 */
export function maskTensor(x: tf.Tensor, mask: NonNullable<ModelDescription['mask']>): tf.Tensor {
  return tf.tidy(() => {
    const differs = tf.cast(tf.notEqual(x, tf.scalar(mask.value, x.dtype)), 'float32');
    return mask.of === 'ids' ? differs : tf.max(differs, -1);
  });
}

/** maskTensor over all of `data`, as 0/1 per position [n × steps]; undefined for a model without a mask. */
export function positionMask(data: TagData, mask: ModelDescription['mask']): Uint8Array | undefined {
  if (!mask) return undefined;
  const read = tf.tidy(() => maskTensor(inputTensor(data), mask));
  const values = Uint8Array.from(read.dataSync());
  read.dispose();
  return values;
}

/** Refuses data the model cannot read, in one line naming both shapes. */
export function checkFits(data: Pick<Rows, 'features' | 'steps' | 'tags'>, d: ModelDescription, shown: string): void {
  const problem =
    d.input.features !== data.features
      ? data.features === null
        ? 'it holds integer ids, the model takes features per step'
        : d.input.features === null
          ? 'it holds features per step, the model takes integer ids'
          : `it has ${data.features} features per step, the model takes ${d.input.features}`
      : d.input.steps !== null && d.input.steps !== data.steps
        ? `its sequences have ${data.steps} steps, the model takes ${d.input.steps}`
        : d.tags !== data.tags
          ? `its labels have ${data.tags} tags, the model outputs ${d.tags}`
          : undefined;
  if (problem) throw new UserError(`--data ${shown} does not fit the model (${problem}; the model: ${describeShapes(d)})`);
}

/** What the model reading a data file takes, for checking the file's values: its tags and, for ids, its vocabulary. */
export interface DataExpectations {
  tags?: number;
  vocabulary?: number;
}

/** "y[17, 3]": an element's position in an array of `shape`, from its flat index. */
function position(name: string, shape: number[], flat: number): string {
  const at = shape.map(() => 0);
  for (let d = shape.length - 1; d >= 0; d--) {
    at[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return `${name}[${at.join(', ')}]`;
}

const valueText = (v: number) => (Number.isNaN(v) ? 'nan' : String(v));

/**
 * The first problem in the values of `x`, or undefined: inputs must be finite (a NaN or Inf input
 * makes every output NaN, which would read as the model's fault), and ids whole numbers in the vocabulary.
 */
function inputProblem(x: NpyArray, ids: boolean, vocabulary?: number): string | undefined {
  for (let k = 0; k < x.values.length; k++) {
    const v = x.values[k];
    if (!Number.isFinite(v))
      return `${position('x', x.shape, k)} = ${valueText(v)}: inputs must be finite numbers; replace or drop the sequences that hold NaN or Inf`;
    if (ids && (!Number.isInteger(v) || v < 0))
      return `${position('x', x.shape, k)} = ${v}, but x holds integer ids (0 = padding); ids must be whole numbers ≥ 0`;
    if (ids && vocabulary !== undefined && v >= vocabulary)
      return `${position('x', x.shape, k)} = ${v}, but the model's Embedding reads ids 0..${vocabulary - 1}`;
  }
  return undefined;
}

/**
 * The first problem in the labels `y`, or undefined. Tag ids ([n, T]) must be whole numbers below
 * `tags` (negative: padding); one-hot rows ([n, T, C]) must be one-hot or all zero (padding). Any
 * other label would be scored as something it is not (an id past the last tag as padding, a soft
 * row as a NaN loss), so it is refused before anything is scored.
 */
function labelProblem(y: NpyArray, tags: number | undefined): string | undefined {
  const range = tags === undefined ? '' : `, but the model has ${tags} tags (ids 0..${tags - 1}; a negative id marks padding)`;
  if (y.shape.length === 2) {
    for (let k = 0; k < y.values.length; k++) {
      const v = y.values[k];
      if (!Number.isInteger(v)) return `${position('y', y.shape, k)} = ${valueText(v)} is not a whole tag id (0, 1, …; a negative id marks padding)`;
      if (tags !== undefined && v >= tags) return `${position('y', y.shape, k)} = ${v}${range}`;
    }
    return undefined;
  }
  const width = y.shape[2];
  for (let row = 0; row * width < y.values.length; row++) {
    let ones = 0;
    let bad = false;
    for (let c = 0; c < width; c++) {
      const v = y.values[row * width + c];
      if (v === 1) ones++;
      else if (v !== 0) bad = true;
    }
    if (bad || ones > 1) {
      const shown = Array.from(y.values.subarray(row * width, row * width + Math.min(width, 6)), valueText).join(', ');
      return `${position('y', y.shape.slice(0, 2), row)} = [${shown}${width > 6 ? ', …' : ''}] is not one-hot (one 1, the rest 0) nor all zero (padding)`;
    }
  }
  return undefined;
}

/** `y` (checked by labelProblem) as tag ids [n × steps]: [n, steps] ids as given (a negative id: −1, padding), or each one-hot row's 1 (−1 for an all-zero row). */
function tagIdsOf(y: NpyArray): Int32Array {
  if (y.shape.length === 2) return Int32Array.from(y.values, (v) => (v < 0 ? -1 : v));
  const width = y.shape[2];
  const ids = new Int32Array(y.values.length / width).fill(-1);
  for (let k = 0; k < y.values.length; k++) if (y.values[k] === 1) ids[Math.floor(k / width)] = k % width;
  return ids;
}

/** Refuses arrays that would become more than LIMITS.dataBytes in memory, naming the numbers. */
function checkMemory(path: string, x: NpyHeader, y: NpyHeader, n: number, steps: number): void {
  // x and y as float32 as read, then each position's tag id and mask.
  const bytes = (x.count + y.count) * 4 + n * steps * 5;
  if (bytes > LIMITS.dataBytes) {
    throw new UserError(
      `--data ${path} would take ${formatBytes(bytes)} in memory (x ${x.shape.map(thousands).join(' × ')} and y ${y.shape.map(thousands).join(' × ')} as float32, and their tag ids), more than the ${formatBytes(LIMITS.dataBytes)} seq-tag reads; split it into smaller files`,
    );
  }
}

/**
 * A user's data: an `.npz` with `x` ([n, T] integer ids or [n, T, F] features) and `y` ([n, T, C]
 * one-hot, or [n, T] tag ids). Shapes are read from the headers and what the arrays will become
 * is counted before any is inflated; then every value is checked (see inputProblem, labelProblem).
 */
export async function readDataFile(path: string, expect: DataExpectations = {}): Promise<TagData> {
  return (await readDataFileOf(path, expect)).data;
}

/** readDataFile, with the identity of the bytes it read (a run records it, so a changed file is refused). */
export async function readDataFileOf(path: string, expect: DataExpectations = {}): Promise<{ data: TagData; bytes: number; sha256: string }> {
  let bytes: Uint8Array;
  try {
    bytes = await readBounded(path, LIMITS.fileBytes);
  } catch (err) {
    if (err instanceof NotReadable) throw new UserError(`--data ${path} ${err.message}; give an .npz file written by np.savez(path, x=..., y=...)`);
    throw new UserError(`cannot read --data ${path}: ${describeFsError(err)}`);
  }
  const unreadable = (err: unknown) =>
    err instanceof BadNpz ? new UserError(`--data ${path} is not a readable .npz (${err.message}); write it with np.savez(path, x=..., y=...)`) : err;
  let npz: Npz;
  try {
    npz = openNpz(bytes, ['x', 'y']);
  } catch (err) {
    throw unreadable(err);
  }
  const xHeader = npz.headers.get('x');
  const yHeader = npz.headers.get('y');
  if (!xHeader || !yHeader) throw new UserError(`--data ${path} has no array ${xHeader ? 'y' : 'x'}; write it with np.savez(path, x=inputs, y=labels)`);
  const [xs, ys] = [xHeader.shape, yHeader.shape];
  const [n, steps] = xs;
  const shapesOk = (xs.length === 2 || xs.length === 3) && (ys.length === 2 || ys.length === 3) && ys[0] === n && ys[1] === steps;
  if (!shapesOk || n === 0 || steps === 0 || (ys.length === 3 && ys[2] === 0)) {
    throw new UserError(
      `--data ${path} holds x ${JSON.stringify(xs)} and y ${JSON.stringify(ys)}; seq-tag reads x [n, T] (ids) or [n, T, F] and y [n, T, C] (one-hot) or [n, T] (tag ids)`,
    );
  }
  // Before anything is inflated.
  checkMemory(path, xHeader, yHeader, n, steps);
  let x: NpyArray;
  let y: NpyArray;
  try {
    y = npz.read('y');
    x = npz.read('x');
  } catch (err) {
    throw unreadable(err);
  }
  const tags = ys.length === 3 ? ys[2] : (expect.tags ?? Math.max(2, largestId(y.values) + 1));
  const problem = labelProblem(y, ys.length === 2 ? tags : undefined) ?? inputProblem(x, xs.length === 2, expect.vocabulary);
  if (problem) throw new UserError(`--data ${path}: ${problem}`);
  const data: TagData = { n, steps, features: xs.length === 3 ? xs[2] : null, x: x.values, labels: tagIdsOf(y), tags, source: path };
  return { data, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** The largest whole id in `values` (-1 when there is none), for labels whose tag count no model gives. */
function largestId(values: Float32Array): number {
  let max = -1;
  for (const v of values) if (Number.isInteger(v) && v > max) max = v;
  return max;
}
