import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs');
import type { Config } from './config.js';
import { describeFsError, UserError } from './errors.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** What seq-tag stores beside the weights, in the model's user-defined metadata. */
export interface ModelRecord {
  config: Config;
  backend: string;
  /** Mean training loss of each completed epoch. */
  losses: number[];
  trainedAt: string;
  trainSeconds: number;
  seqTagVersion: string;
}

export interface SavedModel {
  model: tf.LayersModel;
  record: ModelRecord;
}

/**
 * A `tf.io.IOHandler` for a folder on disk in the standard TensorFlow.js Layers format
 * (`model.json` + `weights.bin`), which plain `@tensorflow/tfjs` lacks in Node (only tfjs-node
 * registers `file://`). Anything that loads `tf.loadLayersModel('file://…')` can load these folders.
 */
export function folderHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('binary model topology is not supported');
      const weights = tf.io.concatenateArrayBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]);
      const modelJSON: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await writeFile(join(dir, WEIGHTS_BIN), Buffer.from(weights));
      await writeFile(join(dir, MODEL_JSON), JSON.stringify(modelJSON));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      return readArtifacts(dir);
    },
  };
}

function corrupt(dir: string, what: string): UserError {
  return new UserError(`the model in ${dir} is unreadable (${what}); train a new one with: seq-tag train --model-dir ${dir}`);
}

async function readArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new UserError(`no model at ${dir}; train one first with: seq-tag train --model-dir ${dir}`);
  if (!info.isDirectory()) throw new UserError(`${dir} is a file, not a model folder; pass the folder that train wrote with --model-dir`);
  let text: string;
  try {
    text = await readFile(join(dir, MODEL_JSON), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`no ${MODEL_JSON} in ${dir}; train a model first with: seq-tag train --model-dir ${dir}`);
    throw corrupt(dir, `cannot read ${MODEL_JSON}: ${describeFsError(err)}`);
  }
  let modelJSON: tf.io.ModelJSON;
  try {
    modelJSON = JSON.parse(text);
  } catch {
    throw corrupt(dir, `${MODEL_JSON} is not valid JSON`);
  }
  if (typeof modelJSON !== 'object' || modelJSON === null || !modelJSON.modelTopology || !Array.isArray(modelJSON.weightsManifest)) {
    throw corrupt(dir, `${MODEL_JSON} has no model topology or weights manifest`);
  }
  return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
    const specs = tf.io.getWeightSpecs(manifest);
    const buffers: ArrayBuffer[] = [];
    for (const group of manifest) {
      for (const path of group.paths) {
        if (basename(path) !== path.replace(/^\.\//, '')) throw corrupt(dir, `weights path ${path} leaves the folder`);
        const bytes = await readFile(join(dir, path)).catch(() => {
          throw corrupt(dir, `missing ${path}`);
        });
        buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      }
    }
    const data = tf.io.concatenateArrayBuffers(buffers);
    const expected = specs.reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
    if (data.byteLength !== expected) throw corrupt(dir, `${WEIGHTS_BIN} has ${data.byteLength} bytes, expected ${expected}`);
    return [specs, data];
  });
}

/**
 * Fails early, before any training, if `dir` cannot receive a model: so a long run is never lost
 * to a bad path, and a folder that is not a seq-tag model is never replaced.
 */
export async function checkSaveTarget(dir: string): Promise<void> {
  const target = resolve(dir);
  const info = await stat(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new UserError(`cannot use --model-dir ${dir}: ${describeFsError(err)}; choose a writable folder`);
  });
  if (info) {
    if (!info.isDirectory()) throw new UserError(`--model-dir ${dir} is a file; choose a folder path`);
    const entries = await readdir(target).catch((err: NodeJS.ErrnoException) => {
      throw new UserError(`cannot read --model-dir ${dir}: ${describeFsError(err)}; choose a writable folder`);
    });
    if (entries.length > 0 && !entries.includes(MODEL_JSON)) {
      throw new UserError(`--model-dir ${dir} holds other files and no seq-tag model; refusing to replace it, choose another folder`);
    }
  }
  const probe = join(dirname(target), `.${basename(target)}.probe-${process.pid}`);
  try {
    await mkdir(probe, { recursive: true });
  } catch (err) {
    throw new UserError(`cannot write to --model-dir ${dir}: ${describeFsError(err)}; choose a writable folder`);
  } finally {
    await rm(probe, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Saves atomically: the model is written completely into a sibling temporary folder, which then
 * replaces `dir` by rename. An interrupted save leaves the previous model untouched; at worst a
 * `*.tmp-*` folder remains beside it.
 */
export async function saveModel(model: tf.LayersModel, dir: string, record: ModelRecord): Promise<void> {
  await checkSaveTarget(dir);
  const target = resolve(dir);
  const stamp = `${process.pid}-${Date.now()}`;
  const staging = `${target}.tmp-${stamp}`;
  const previous = `${target}.old-${stamp}`;
  model.setUserDefinedMetadata(record as unknown as object);
  try {
    await mkdir(staging, { recursive: true });
    await model.save(folderHandler(staging));
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw new UserError(`cannot save the model to ${dir}: ${describeFsError(err)}`);
  }
  const hadPrevious = existsSync(target);
  if (hadPrevious) await rename(target, previous);
  try {
    await rename(staging, target);
  } catch (err) {
    if (hadPrevious) await rename(previous, target);
    await rm(staging, { recursive: true, force: true });
    throw new UserError(`cannot save the model to ${dir}: ${describeFsError(err)}`);
  }
  if (hadPrevious) await rm(previous, { recursive: true, force: true });
}

/** Loads a folder written by `saveModel`, with its training record. */
export async function loadModel(dir: string): Promise<SavedModel> {
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(folderHandler(dir));
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw corrupt(dir, (err as Error).message.split('\n')[0]);
  }
  const record = model.getUserDefinedMetadata() as ModelRecord | undefined;
  if (!record || typeof record !== 'object' || !record.config || typeof record.config.encoding !== 'string') {
    throw corrupt(dir, 'no seq-tag training record in its metadata; it was not saved by seq-tag');
  }
  return { model, record };
}
