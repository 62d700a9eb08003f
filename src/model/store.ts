import { lstat, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');
import { ORIGINAL_EXPERIMENT, type Config, type TextVocabulary } from '../config/config.js';
import { ADDED_ROWS, quoteWord } from '../config/hyperparameters.js';
import type { TrainingResult, ValidationScore } from '../config/records.js';
import { VERSION } from '../version.js';
import { describeFsError, ExitCode, UserError } from '../errors.js';
import { LEGACY_WRITER_FILE, LOCK_FILE, lockFolder, type FolderLock } from '../storage/lock.js';
import { OWNER_TAG, ownerDoneWith, ownerTag, parseOwnerTag, tempOwner } from '../storage/owner.js';
import { describeModel, type ModelDescription } from './describe.js';
import { BrokenFile, checkParameterLimit, compileInfo, readKerasArchive, readLegacyH5, type CompileInfo, type KerasFile } from './keras/archive.js';
import { UnsupportedModel, type Json } from './keras/topology.js';
import { LIMITS, nestsDeeperThan } from '../shared/limits.js';
import { buildInScope } from './quiet.js';
import { AlteredCheckpoint, BadCheckpoint, CHECKPOINT_FILE, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../storage/checkpoint.js';
import {
  makeFolder,
  NotReadable,
  readBounded,
  removeOrphanTemps,
  syncFolder,
  uniqueId,
  writeFileAtomic,
  writeNewFile,
  type StepHook,
} from '../storage/files.js';

export const MODEL_JSON = 'model.json';
/**
 * Weights files are versioned so the new weights never overwrite the ones model.json names, and
 * carry their writer (`weights-<owner>-<id>.bin`, ./owner.ts): a save that crashed before model.json
 * named its weights leaves a file the next save can prove is seq-tag's. seq-tag 0.1 wrote
 * `weights-<id>.bin`; such a file is removed only when seq-tag's own model.json names it.
 */
const WEIGHTS_FILE = new RegExp(`^weights-(${OWNER_TAG})-[0-9a-f]{8}\\.bin$`);
const LEGACY_WEIGHTS_FILE = /^weights-[0-9a-f]{8}\.bin$/;
/** The name seq-tag used before versioned weights; only removed when seq-tag's own model.json named it. */
const LEGACY_WEIGHTS = 'weights.bin';

/** What seq-tag stores beside the weights, in the model's user-defined metadata. */
export interface ModelRecord {
  config: Config;
  backend: string;
  /** Mean training loss of each completed epoch. */
  losses: number[];
  /** With a validation split: each completed epoch's validation scores. */
  validation?: ValidationScore[];
  /** With early stopping: the epoch whose weights were saved, and the epoch training stopped after. */
  earlyStopping?: { bestEpoch: number; stoppedAfter?: number };
  trainedAt: string;
  trainSeconds: number;
  seqTagVersion: string;
  /** With `train --resume`: the completed epochs at which the run was continued. */
  resumedAfter?: number[];
  /** Set when Ctrl-C stopped training: the saved weights are those after epoch `atEpoch − 1`. */
  interrupted?: { atEpoch: number; epochs: number };
  /** A model trained on text (config.data): the words and tags it reads and writes. */
  text?: TextVocabulary;
}

/** The record a finished (or interrupted) run saves with its model: the CLI's and the API's alike. */
export function modelRecord(config: Config, backend: string, result: TrainingResult, resumedAfter?: number[]): ModelRecord {
  return {
    config,
    backend,
    losses: result.epochs.map((e) => e.loss),
    ...(config.validationSplit > 0 ? { validation: result.epochs.map((e) => e.validation!) } : {}),
    ...(result.earlyStopping ? { earlyStopping: result.earlyStopping } : {}),
    trainedAt: new Date().toISOString(),
    trainSeconds: result.seconds,
    seqTagVersion: VERSION,
    ...(resumedAfter ? { resumedAfter } : {}),
  };
}

function corrupt(dir: string, what: string): UserError {
  return new UserError(`the model in ${dir} is unreadable (${what}); train a new one with: seq-tag train --model-dir ${quotePath(dir)}`);
}

/** A path as the user should type it again: quoted when it holds spaces or shell characters. */
export const quotePath: (path: string) => string = quoteWord;

function isRecord(meta: unknown): meta is ModelRecord {
  const r = meta as ModelRecord | undefined;
  return !!r && typeof r === 'object' && !!r.config && typeof r.config.encoding === 'string' && Array.isArray(r.losses);
}

/** A record of an earlier seq-tag, completed: before --dtype, the fused engine computed in float64. */
function withDefaults(record: ModelRecord): ModelRecord {
  const config = { ...record.config, dtype: record.config.dtype ?? 'float64' };
  // Rows added after 0.1 mean what 0.1 did.
  for (const key of ADDED_ROWS) (config as Record<string, unknown>)[key] ??= ORIGINAL_EXPERIMENT[key];
  return { ...record, config };
}

/** A file of a model folder, bounded like every file seq-tag reads (./limits.ts). */
async function readFolderFile(dir: string, name: string, limit: number, shown = name): Promise<Uint8Array> {
  try {
    return await readBounded(join(dir, name), limit);
  } catch (err) {
    if (err instanceof NotReadable) throw corrupt(dir, `${shown} ${err.message}`);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      if (name !== MODEL_JSON) throw corrupt(dir, `missing ${shown}`);
      const savedModel = await stat(join(dir, 'saved_model.pb')).catch(() => undefined);
      if (savedModel)
        throw new UserError(
          `${dir} is a TensorFlow SavedModel folder (model.export()), which seq-tag cannot read; save the Keras model itself with model.save("tagger.keras") and pass that file`,
        );
      if (await stat(join(dir, CHECKPOINT_FILE)).catch(() => undefined))
        throw new UserError(
          `${dir} holds the checkpoint of an unfinished run and no saved model yet; finish it with: seq-tag train --resume --model-dir ${quotePath(dir)}`,
        );
      throw new UserError(`no ${MODEL_JSON} in ${dir}; train a model first with: seq-tag train --model-dir ${quotePath(dir)}`);
    }
    throw corrupt(dir, `cannot read ${shown}: ${describeFsError(err)}`);
  }
}

async function readModelJson(dir: string): Promise<tf.io.ModelJSON> {
  const text = new TextDecoder().decode(await readFolderFile(dir, MODEL_JSON, LIMITS.jsonBytes));
  let modelJSON: tf.io.ModelJSON;
  try {
    modelJSON = JSON.parse(text);
  } catch {
    throw corrupt(dir, `${MODEL_JSON} is not valid JSON`);
  }
  if (typeof modelJSON !== 'object' || modelJSON === null || !modelJSON.modelTopology || !Array.isArray(modelJSON.weightsManifest)) {
    throw corrupt(dir, `${MODEL_JSON} has no model topology or weights manifest`);
  }
  if (nestsDeeperThan(modelJSON, LIMITS.jsonDepth)) throw corrupt(dir, `${MODEL_JSON} nests deeper than ${LIMITS.jsonDepth} levels`);
  try {
    checkParameterLimit(modelJSON.modelTopology as Json);
  } catch (err) {
    if (err instanceof UnsupportedModel) throw corrupt(dir, err.message.replace(/^its /, `${MODEL_JSON}: `));
    throw err;
  }
  return modelJSON;
}

async function readArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new UserError(`no model at ${dir}; train one first with: seq-tag train --model-dir ${quotePath(dir)}`);
  const modelJSON = await readModelJson(dir);
  return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
    const specs = tf.io.getWeightSpecs(manifest);
    const buffers: ArrayBuffer[] = [];
    for (const group of manifest) {
      for (const path of group.paths) {
        if (basename(path) !== path.replace(/^\.\//, '')) throw corrupt(dir, `weights path ${path} leaves the folder`);
        const bytes = await readFolderFile(dir, basename(path), LIMITS.entryBytes, path);
        buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      }
    }
    const data = tf.io.concatenateArrayBuffers(buffers);
    const expected = specs.reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
    if (data.byteLength !== expected) throw corrupt(dir, `its weights have ${data.byteLength} bytes, expected ${expected}`);
    return [specs, data];
  });
}

/** The metadata key under which an exported TensorFlow.js folder keeps the Keras compile config (tfjs's own trainingConfig cannot hold a loss object). */
export const COMPILE_METADATA = 'keras_compile_config';

/**
 * The files of a save, in memory: the Layers-format model.json text naming `weightsName`, and the
 * weights. `metadata` (seq-tag's record, or an export's compile config) goes into the user-defined
 * metadata; without it, a stock tfjs model.json.
 */
export async function serialize(model: tfl.LayersModel, metadata: object | undefined, weightsName: string): Promise<{ json: string; weights: Uint8Array }> {
  if (metadata) model.setUserDefinedMetadata(metadata);
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save({
    save: async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  });
  const artifacts = captured!;
  const modelJSON: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as object,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths: [`./${weightsName}`], weights: artifacts.weightSpecs ?? [] }],
    userDefinedMetadata: artifacts.userDefinedMetadata,
  };
  const weights = tf.io.concatenateArrayBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]);
  return { json: JSON.stringify(modelJSON), weights: new Uint8Array(weights) };
}

/** The temporary files seq-tag writes in a model folder; a crashed writer's are removed (./files.ts removeOrphanTemps). */
const TEMP_BASES = [MODEL_JSON, CHECKPOINT_FILE, LOCK_FILE, `${LOCK_FILE}-stale`];

/** Files seq-tag itself writes into a model folder (besides model.json), by their format: a folder of only these is one seq-tag may write to. */
function isOwnFile(name: string): boolean {
  return (
    WEIGHTS_FILE.test(name) ||
    LEGACY_WEIGHTS_FILE.test(name) ||
    TEMP_BASES.some((base) => tempOwner(base, name)) ||
    name === LOCK_FILE ||
    name === CHECKPOINT_FILE ||
    name === LEGACY_WRITER_FILE
  );
}

/** A versioned weights file whose writer is this process or provably gone: nothing will ever name it but a model.json seq-tag writes. */
function isLeftoverWeights(name: string): boolean {
  const tag = WEIGHTS_FILE.exec(name)?.[1];
  const owner = tag ? parseOwnerTag(tag) : undefined;
  return owner !== undefined && ownerDoneWith(owner);
}

/**
 * Decides whether seq-tag may write into `dir`: a missing or empty folder, or one holding a model
 * seq-tag saved (the user's other files in it are kept). Anything else is refused, in one line.
 * Returns the weights file the current model.json names, if any.
 */
async function inspectFolder(dir: string, shown: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    throw new UserError(`cannot read --model-dir ${shown}: ${describeFsError(err)}; choose a readable folder`);
  }
  if (entries.includes(MODEL_JSON)) {
    let modelJSON: tf.io.ModelJSON;
    try {
      modelJSON = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8'));
    } catch {
      throw new UserError(
        `--model-dir ${shown} holds a ${MODEL_JSON} that is not a seq-tag model (unreadable); seq-tag will not touch it: move it away or choose another folder`,
      );
    }
    if (!isRecord(modelJSON?.userDefinedMetadata)) {
      throw new UserError(
        `--model-dir ${shown} holds a ${MODEL_JSON} that seq-tag did not write; seq-tag will not touch it: move it away or choose another folder`,
      );
    }
    return modelJSON.weightsManifest?.flatMap((g) => g.paths.map((p) => basename(p))) ?? [];
  }
  const foreign = entries.filter((name) => !isOwnFile(name));
  if (foreign.length) {
    throw new UserError(
      `--model-dir ${shown} holds other files (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}) and no seq-tag model; seq-tag will not write there: choose an empty or new folder`,
    );
  }
  return [];
}

/**
 * A model folder claimed for writing: checked, created if missing, and locked so that no other
 * seq-tag writes into it until `release`. Saving replaces only seq-tag's own files inside it; the
 * folder itself (or the symlink that names it) is never removed, renamed or swapped.
 */
export class ModelFolder {
  private constructor(
    readonly shown: string,
    readonly dir: string,
    private readonly created: boolean,
    private readonly lock: FolderLock,
  ) {}

  /** Claims `dir`, failing in one line if it is not usable, not seq-tag's, or another seq-tag is writing it. */
  static async open(shown: string): Promise<ModelFolder> {
    if (shown.trim() === '') throw new UserError('--model-dir is empty; give a folder path, e.g. --model-dir ./seq-tag-model', ExitCode.Usage);
    const dir = resolve(shown);
    const created = await makeFolder(dir, '--model-dir');
    try {
      await inspectFolder(dir, shown);
      const lock = await lockFolder(dir, shown, '--model-dir');
      await removeOrphanTemps(dir, TEMP_BASES);
      return new ModelFolder(shown, dir, created, lock);
    } catch (err) {
      // Only the empty folder this call made; never anything inside a folder.
      if (created) await rmdir(dir).catch(() => {});
      throw err;
    }
  }

  /**
   * Saves `model` so that at every instant the folder holds a complete model, the old or the new:
   * new weights under a new name (fsynced), then model.json replaced by an atomic rename (fsynced,
   * with the folder), then the old weights removed. Leftovers of a crashed save are removed too.
   * `onStep` runs between the steps (tests crash the process there).
   */
  async save(model: tfl.LayersModel, record: ModelRecord, onStep?: StepHook): Promise<void> {
    await this.lock.check();
    const weightsName = `weights-${ownerTag()}-${uniqueId()}.bin`;
    const { json, weights } = await serialize(model, record, weightsName);
    const previous = await inspectFolder(this.dir, this.shown);
    const weightsPath = join(this.dir, weightsName);
    try {
      await writeNewFile(weightsPath, weights, onStep && ((s) => onStep(`weights-${s}`)));
      await onStep?.('weights-synced');
      await syncFolder(this.dir);
      await onStep?.('folder-synced');
      await writeFileAtomic(join(this.dir, MODEL_JSON), json, onStep && ((s) => onStep(`model-json-${s}`)));
    } catch (err) {
      await rm(weightsPath, { force: true });
      if (err instanceof UserError) throw err;
      throw new UserError(`cannot save the model to ${this.shown}: ${describeFsError(err)}; the previous model there is unchanged`);
    }
    await onStep?.('switched');
    await this.removeStale(weightsName, previous);
    await onStep?.('cleaned');
  }

  /**
   * Removes what seq-tag can prove is its own and unused: the weights the replaced model.json named,
   * and weights of its own crashed or failed saves. A user's file is never removed, whatever its name.
   */
  private async removeStale(current: string, previous: string[]): Promise<void> {
    const entries = await readdir(this.dir);
    const ownWeights = (name: string) => WEIGHTS_FILE.test(name) || LEGACY_WEIGHTS_FILE.test(name) || name === LEGACY_WEIGHTS;
    const stale = entries.filter((name) => name !== current && ((ownWeights(name) && previous.includes(name)) || isLeftoverWeights(name)));
    await Promise.all(stale.map((name) => rm(join(this.dir, name), { force: true })));
  }

  /**
   * Replaces the run's checkpoint atomically: at every instant the folder holds the previous
   * epoch's checkpoint or this one, whole. A failure (a full disk) leaves the previous one.
   */
  async saveCheckpoint(checkpoint: Checkpoint, onStep?: StepHook): Promise<void> {
    await this.lock.check();
    const epoch = checkpoint.state.epochs.length;
    try {
      await writeFileAtomic(join(this.dir, CHECKPOINT_FILE), encodeCheckpoint(checkpoint), onStep);
    } catch (err) {
      if (err instanceof UserError) throw err;
      const kept =
        epoch > 1
          ? `the checkpoint of epoch ${epoch - 1} is kept: make room and continue with: seq-tag train --resume --model-dir ${quotePath(this.shown)}`
          : 'nothing of this run was kept';
      throw new UserError(
        `cannot save the checkpoint of epoch ${epoch} to ${this.shown}: ${describeFsError(err)}; training stopped and ${kept}; a model saved there before is unchanged`,
      );
    }
  }

  /** The checkpoint of an unfinished run, if the folder holds one; a damaged one is one line saying so. */
  async readCheckpoint(): Promise<Checkpoint | undefined> {
    return readCheckpointIn(this.dir, this.shown);
  }

  /** Removes the checkpoint once its run has ended (completed and saved, or diverged). */
  async removeCheckpoint(): Promise<void> {
    const path = join(this.dir, CHECKPOINT_FILE);
    const discard = (why: string) =>
      new UserError(`cannot discard the checkpoint in ${this.shown}: ${why}; move ${quotePath(join(this.shown, CHECKPOINT_FILE))} away and run again`);
    // A folder at the checkpoint's name is not one seq-tag wrote: it is never removed for the user.
    if ((await lstat(path).catch(() => undefined))?.isDirectory()) throw discard(`${CHECKPOINT_FILE} there is a folder, which seq-tag did not write`);
    await rm(path, { force: true }).catch((err: unknown) => {
      throw discard(describeFsError(err));
    });
  }

  /** Whether the folder already holds a model (the one a failed or interrupted run leaves as it was). */
  async hasModel(): Promise<boolean> {
    return (await readdir(this.dir)).includes(MODEL_JSON);
  }

  /** Unlocks; a folder this claim created and left without a model is removed again. */
  async release(): Promise<void> {
    await this.lock.release();
    if (this.created) {
      const left = await readdir(this.dir).catch(() => ['?']);
      if (left.length === 0) await rmdir(this.dir).catch(() => {});
    }
  }
}

/** The checkpoint in `dir`, if any; a damaged or foreign one is one line saying what to do. */
export async function readCheckpointIn(dir: string, shown: string): Promise<Checkpoint | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readBounded(join(dir, CHECKPOINT_FILE), LIMITS.fileBytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    const why = err instanceof NotReadable ? err.message : `cannot be read: ${describeFsError(err)}`;
    throw new UserError(`the checkpoint in ${shown} ${why}; start a new run over it with: seq-tag train --restart --model-dir ${quotePath(shown)}`);
  }
  try {
    return decodeCheckpoint(bytes);
  } catch (err) {
    if (err instanceof AlteredCheckpoint)
      throw new UserError(
        `${join(shown, CHECKPOINT_FILE)} was changed after it was written (its checksum does not match); it cannot be resumed: start a new run over it with: seq-tag train --restart --model-dir ${quotePath(shown)}`,
      );
    if (!(err instanceof BadCheckpoint)) throw err;
    throw new UserError(
      `the checkpoint in ${shown} is unreadable (${err.message}); it cannot be resumed: start a new run over it with: seq-tag train --restart --model-dir ${quotePath(shown)}`,
    );
  }
}

/** Claims `dir`, saves, releases: for callers that need no lock across training. */
export async function saveModel(model: tfl.LayersModel, dir: string, record: ModelRecord, onStep?: StepHook): Promise<void> {
  const folder = await ModelFolder.open(dir);
  try {
    await folder.save(model, record, onStep);
  } finally {
    await folder.release();
  }
}

/** Names of the model's weights holding NaN or ±Infinity. */
function nonFiniteWeights(model: tfl.LayersModel): string[] {
  return model.weights.filter((w) => !w.read().dataSync().every(Number.isFinite)).map((w) => w.originalName);
}

/** Where a model came from: a folder seq-tag saved, a stock TensorFlow.js folder, a Keras 3 `.keras` file, a legacy Keras `.h5` file. */
export type ModelFormat = 'seq-tag' | 'tfjs' | 'keras' | 'h5';

export const FORMAT_NAMES: Record<ModelFormat, string> = {
  'seq-tag': 'seq-tag folder',
  tfjs: 'TensorFlow.js Layers folder',
  keras: 'Keras .keras file',
  h5: 'Keras .h5 file',
};

export interface LoadedModel {
  model: tfl.LayersModel;
  format: ModelFormat;
  /** seq-tag's training record: present for models seq-tag trained. */
  record?: ModelRecord;
  /** The loss and optimizer it was compiled with in Keras, when the file says. */
  compile?: CompileInfo;
  kerasVersion?: string;
  description: ModelDescription;
  /** Names of weights that are NaN or infinite (only when loaded with `allowNonFinite`). */
  nonFinite: string[];
  /** What reading changed on the way (a float64 model run in float32, regularizers ignored). */
  notes?: string[];
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const startsWith = (bytes: Uint8Array, magic: number[]) => magic.every((b, i) => bytes[i] === b);

/** A model file (not folder): a Keras 3 zip or a legacy HDF5, told apart by their first bytes whatever the name. */
async function readKerasModel(path: string): Promise<{ file: KerasFile; format: ModelFormat }> {
  const bytes = await readBounded(path, LIMITS.fileBytes).catch((err) => {
    if (err instanceof NotReadable) throw new UserError(`${path} ${err.message}; --model takes a model folder, a Keras .keras file or a Keras .h5 file`);
    throw new UserError(`cannot read ${path}: ${describeFsError(err)}`);
  });
  const format: ModelFormat | undefined = startsWith(bytes, ZIP_MAGIC) ? 'keras' : startsWith(bytes, HDF5_MAGIC) ? 'h5' : undefined;
  if (!format) {
    const what = basename(path) === MODEL_JSON ? 'a model.json (pass the folder that holds it)' : 'neither a .keras (zip) nor a .h5 (HDF5) file';
    throw new UserError(`${path} is ${what}; --model takes a model folder, a Keras .keras file or a Keras .h5 file`);
  }
  try {
    return { file: format === 'keras' ? await readKerasArchive(bytes) : await readLegacyH5(bytes), format };
  } catch (err) {
    if (err instanceof UnsupportedModel) throw new UserError(`${path} cannot be used: ${err.message}`);
    if (err instanceof BrokenFile) throw new UserError(`${path} is not a readable Keras model (${err.message}); save it again from Keras with model.save(...)`);
    throw err;
  }
}

/** A model folder: seq-tag's, or a stock tfjs Layers folder (model.json + weight shards). */
async function readFolderModel(dir: string): Promise<{ model: tfl.LayersModel; record?: ModelRecord; compile?: CompileInfo }> {
  let model: tfl.LayersModel;
  try {
    model = await buildInScope(() => tfl.loadLayersModel({ load: () => readArtifacts(dir) }));
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw corrupt(dir, (err as Error).message.split('\n')[0]);
  }
  const metadata = model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
  if (isRecord(metadata)) return { model, record: withDefaults(metadata) };
  return { model, compile: compileInfo(metadata?.[COMPILE_METADATA]) };
}

/**
 * Loads a model from a folder seq-tag or stock TensorFlow.js wrote, a Keras 3 `.keras` file or a
 * legacy Keras `.h5` file, and checks that it fits the task (UnsupportedModel otherwise). A model
 * whose weights are not all finite (its training diverged) is refused unless `allowNonFinite` (the
 * doctor examines it).
 */
export async function loadModel(path: string, options: { allowNonFinite?: boolean } = {}): Promise<LoadedModel> {
  if (path.trim() === '') throw new UserError('--model is empty; give the model folder train saved to, or a .keras or .h5 file', ExitCode.Usage);
  const info = await stat(path).catch(() => undefined);
  if (!info) {
    if (/\.(keras|h5|hdf5)$/i.test(path))
      throw new UserError(`no file ${path}; check the path (save it from Keras with model.save(${JSON.stringify(basename(path))}))`);
    throw new UserError(`no model at ${path}; train one first with: seq-tag train --model-dir ${quotePath(path)}`);
  }
  let loaded: Omit<LoadedModel, 'description' | 'nonFinite'>;
  if (info.isDirectory()) {
    const { model, record, compile } = await readFolderModel(path);
    loaded = { model, record, compile, format: record ? 'seq-tag' : 'tfjs' };
  } else {
    const { file, format } = await readKerasModel(path);
    loaded = { model: file.model, format, compile: file.compile, kerasVersion: file.kerasVersion, notes: file.notes };
  }
  let description: ModelDescription;
  try {
    description = describeModel(loaded.model);
  } catch (err) {
    loaded.model.dispose();
    if (err instanceof UnsupportedModel) throw new UserError(`${path} cannot be used: ${err.message}`);
    throw err;
  }
  const nonFinite = nonFiniteWeights(loaded.model);
  if (nonFinite.length && !options.allowNonFinite) {
    loaded.model.dispose();
    throw new UserError(
      `the model's weights in ${path} contain NaN/Infinity (its training diverged): its predictions are meaningless; see why with: seq-tag doctor --model ${quotePath(path)}`,
    );
  }
  return { ...loaded, description, nonFinite };
}
