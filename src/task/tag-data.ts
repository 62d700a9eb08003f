// Sequences to tag and score, whoever made them: the digit task's generator or the user's own
// `.npz` (np.savez of `x` and `y`). Every command that runs a model on data reads it through here.
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import { describeFsError, UserError } from '../errors.js';
import { describeShapes, type ModelDescription } from '../model/describe.js';
import { LIMITS } from '../storage/limits.js';
import { NotReadable, readBounded } from '../storage/files.js';
import { inputWidth, NUM_CLASSES, SEQUENCE_LENGTH, type Dataset, type Encoding } from './data.js';
import { BadNpz, readNpz, type NpyArray } from './npz.js';

export interface TagData {
  n: number;
  steps: number;
  /** Features per step; null: `x` holds integer ids [n, steps] for an Embedding. */
  features: number | null;
  /** Inputs, row-major: [n, steps, features] or [n, steps]. */
  x: Float32Array;
  /** Labels one-hot [n, steps, tags], row-major; an all-zero row is padding. */
  y: Float32Array;
  tags: number;
  /** Where the data came from, for headers ("pos.npz", "generated, seed 1"). */
  source: string;
  /** What to show for each position [n, steps] (the digits of the task's one-hot inputs); default: ids, or the first feature. */
  shown?: ArrayLike<number>;
}

/** The task's generated sequences as TagData, encoded as the model takes them. */
export function taskData(data: Dataset, encoding: Encoding, source: string): TagData {
  const width = inputWidth(encoding);
  const x = new Float32Array(data.n * SEQUENCE_LENGTH * width);
  const y = new Float32Array(data.n * SEQUENCE_LENGTH * NUM_CLASSES);
  data.digits.forEach((d, k) => {
    x[encoding === 'scalar' ? k : k * width + d] = encoding === 'scalar' ? d : 1;
    y[k * NUM_CLASSES + data.labels[k]] = 1;
  });
  return { n: data.n, steps: SEQUENCE_LENGTH, features: width, x, y, tags: NUM_CLASSES, source, shown: data.digits };
}

/** Inputs of the first `rows` sequences as the model takes them: float32 [rows, steps, features], or int32 ids [rows, steps]. */
export function inputTensor(data: TagData, rows = data.n): tf.Tensor {
  const x = data.x.subarray(0, rows * data.steps * (data.features ?? 1));
  return data.features === null ? tf.tensor2d(Int32Array.from(x), [rows, data.steps], 'int32') : tf.tensor3d(x, [rows, data.steps, data.features]);
}

export function targetTensor(data: TagData): tf.Tensor3D {
  return tf.tensor3d(data.y, [data.n, data.steps, data.tags]);
}

/** Each position's true tag as Keras's accuracy reads it: the argmax of its label row (0 for an all-zero row). */
export function trueTags(data: TagData): Int32Array {
  const tags = new Int32Array(data.n * data.steps);
  for (let k = 0; k < tags.length; k++) {
    let best = 0;
    for (let c = 1; c < data.tags; c++) if (data.y[k * data.tags + c] > data.y[k * data.tags + best]) best = c;
    tags[k] = best;
  }
  return tags;
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
export function checkFits(data: TagData, d: ModelDescription, shown: string): void {
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

/** `y` as one-hot rows: [n, steps, tags] as given, or [n, steps] tag ids (a negative id is padding) spread over `tags` columns. */
function oneHot(y: NpyArray, tags?: number): { values: Float32Array; tags: number } {
  if (y.shape.length === 3) return { values: y.values, tags: y.shape[2] };
  const count = tags ?? Math.max(2, ...Array.from(y.values, (v) => v + 1));
  const values = new Float32Array(y.values.length * count);
  y.values.forEach((v, k) => {
    if (v >= 0 && v < count && Number.isInteger(v)) values[k * count + v] = 1;
  });
  return { values, tags: count };
}

/**
 * A user's data: an `.npz` with `x` ([n, T] integer ids or [n, T, F] features) and `y` ([n, T, C]
 * one-hot, or [n, T] tag ids). Values are not judged here (the doctor checks them); shapes are.
 */
export async function readDataFile(path: string, tags?: number): Promise<TagData> {
  let bytes: Uint8Array;
  try {
    bytes = await readBounded(path, LIMITS.fileBytes);
  } catch (err) {
    if (err instanceof NotReadable) throw new UserError(`--data ${path} ${err.message}; give an .npz file written by np.savez(path, x=..., y=...)`);
    throw new UserError(`cannot read --data ${path}: ${describeFsError(err)}`);
  }
  let arrays: Map<string, NpyArray>;
  try {
    arrays = readNpz(bytes, ['x', 'y']);
  } catch (err) {
    if (err instanceof BadNpz) throw new UserError(`--data ${path} is not a readable .npz (${err.message}); write it with np.savez(path, x=..., y=...)`);
    throw err;
  }
  const x = arrays.get('x');
  const y = arrays.get('y');
  if (!x || !y) throw new UserError(`--data ${path} has no array ${x ? 'y' : 'x'}; write it with np.savez(path, x=inputs, y=labels)`);
  const [n, steps] = x.shape;
  const shapesOk = (x.shape.length === 2 || x.shape.length === 3) && (y.shape.length === 2 || y.shape.length === 3) && y.shape[0] === n && y.shape[1] === steps;
  if (!shapesOk || n === 0 || steps === 0) {
    throw new UserError(
      `--data ${path} holds x ${JSON.stringify(x.shape)} and y ${JSON.stringify(y.shape)}; seq-tag reads x [n, T] (ids) or [n, T, F] and y [n, T, C] (one-hot) or [n, T] (tag ids)`,
    );
  }
  const labels = oneHot(y, tags);
  return { n, steps, features: x.shape.length === 3 ? x.shape[2] : null, x: x.values, y: labels.values, tags: labels.tags, source: path };
}
