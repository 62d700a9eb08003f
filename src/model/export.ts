import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Config } from '../config/config.js';
import { kerasArchive, kerasCompileConfig, kerasH5, type CompileInfo } from './keras/archive.js';
import { UnsupportedModel } from './keras/topology.js';
import { describeFsError, ExitCode, UserError } from '../errors.js';
import { makeFolder, removeOrphanTemps, syncFolder, writeFileAtomic, writeNewFile } from '../storage/files.js';
import { tempName } from '../storage/owner.js';
import { COMPILE_METADATA, MODEL_JSON, quotePath, serialize, type LoadedModel } from './store.js';

export type ExportFormat = 'keras' | 'h5' | 'tfjs';

/** What each export format is, as the commands say it. */
export const EXPORTED: Record<ExportFormat, string> = {
  keras: 'a Keras 3 .keras file',
  h5: 'a legacy Keras .h5 file',
  tfjs: 'a TensorFlow.js Layers folder',
};

/** The weights file of an exported TensorFlow.js folder. */
const EXPORTED_WEIGHTS = 'weights.bin';

/** What seq-tag trained with, as Keras compiles it: categorical crossentropy on a softmax head and the same optimizer. */
export function compileFromConfig(config: Config): CompileInfo {
  return {
    loss: 'categorical_crossentropy',
    fromLogits: false,
    optimizer: {
      name: config.optimizer,
      lr: config.lr,
      epsilon: config.optimizer === 'adam' ? config.adamEpsilon : undefined,
      clipnorm: config.clipnorm ?? undefined,
      clipvalue: config.clipvalue ?? undefined,
    },
  };
}

/**
 * The compile config a retrained file is written with (`train --from`): its own (or, when it had
 * none, what trained it), with the fix's from_logits, and the optimizer the flags chose.
 */
export function retrainedCompile(compile: CompileInfo | undefined, config: Config, change: { fromLogits?: boolean; ownOptimizer?: boolean }): CompileInfo {
  let result = compile ?? compileFromConfig(config);
  if (change.fromLogits !== undefined) {
    const loss = result.keras?.loss;
    const kerasLoss =
      typeof loss === 'object' && loss !== null
        ? { ...loss, config: { ...((loss as { config?: object }).config ?? {}), from_logits: change.fromLogits } }
        : loss;
    result = { ...result, fromLogits: change.fromLogits, keras: result.keras && { ...result.keras, loss: kerasLoss } };
  }
  if (change.ownOptimizer) {
    const { optimizer } = compileFromConfig(config);
    const keras = result.keras && { ...result.keras, optimizer: kerasCompileConfig({ ...result, optimizer }).optimizer };
    result = { ...result, optimizer, keras };
  }
  return result;
}

/** `.keras` → a Keras 3 file; `.h5`/`.hdf5` → a legacy Keras file; anything else names a TensorFlow.js Layers folder. */
export function exportFormat(to: string): ExportFormat {
  if (to.trim() === '') throw new UserError('--to is empty; give a file name ending in .keras or .h5, or a new folder', ExitCode.Usage);
  return /\.keras$/i.test(to) ? 'keras' : /\.(h5|hdf5)$/i.test(to) ? 'h5' : 'tfjs';
}

/** A Keras file (.keras, or legacy .h5), written atomically. */
async function writeKeras(loaded: LoadedModel, to: string, force: boolean, format: 'keras' | 'h5'): Promise<number> {
  const existing = await stat(to).catch(() => undefined);
  if (existing?.isDirectory()) throw new UserError(`--to ${to} is a folder; give a file name ending in .${format}`);
  if (existing && !force) throw new UserError(`${to} exists; add --force to replace it (the old file stays whole until the new one is complete)`);
  let bytes: Uint8Array;
  try {
    const compile = loaded.compile ?? (loaded.record && compileFromConfig(loaded.record.config));
    bytes = format === 'keras' ? await kerasArchive(loaded.model, compile) : await kerasH5(loaded.model, compile);
  } catch (err) {
    if (err instanceof UnsupportedModel) throw new UserError(`cannot export to Keras: ${err.message}`);
    throw err;
  }
  await makeFolder(dirname(resolve(to)), '--to');
  // A crashed export's temporary file (named by its writer, ./owner.ts) goes first.
  await removeOrphanTemps(dirname(resolve(to)), [basename(to)]);
  await writeFileAtomic(to, bytes);
  return bytes.byteLength;
}

/** A stock tfjs Layers folder, built beside the target and renamed into place (the target must be new or empty). */
async function writeTfjsFolder(loaded: LoadedModel, to: string): Promise<number> {
  const entries = await readdir(to).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : err));
  if (entries instanceof Error) throw new UserError(`cannot use --to ${to}: ${describeFsError(entries)}; choose a new folder, or a file name ending in .keras`);
  if (entries?.length) throw new UserError(`--to ${to} is a folder that is not empty; choose a new or empty folder, or a file name ending in .keras`);
  const target = resolve(to);
  await makeFolder(dirname(target), '--to');
  // A Keras model's compile config travels in the metadata, so that reading the folder back reasons the same (from_logits above all).
  const compile = !loaded.record && loaded.compile ? { [COMPILE_METADATA]: loaded.compile.keras ?? kerasCompileConfig(loaded.compile) } : undefined;
  const { json, weights } = await serialize(loaded.model, loaded.record ?? compile, EXPORTED_WEIGHTS);
  // A crashed export's half-built folder (named by its writer, ./owner.ts) goes first.
  await removeOrphanTemps(dirname(target), [basename(target)]);
  const tmp = join(dirname(target), tempName(basename(target)));
  await mkdir(tmp);
  try {
    await writeNewFile(join(tmp, EXPORTED_WEIGHTS), weights);
    await writeNewFile(join(tmp, MODEL_JSON), Buffer.from(json));
    await syncFolder(tmp);
    await rename(tmp, target);
    await syncFolder(dirname(target));
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return weights.byteLength + json.length;
}

/**
 * Writes `loaded` to `to`: a Keras 3 `.keras` file that keras.models.load_model reads, or a stock
 * TensorFlow.js Layers folder. Nothing the user has is overwritten unless `force` (files only), and
 * a reader never sees a half-written export. Returns the format and the bytes written.
 */
export async function exportModel(loaded: LoadedModel, to: string, force = false): Promise<{ format: ExportFormat; bytes: number }> {
  const format = exportFormat(to);
  try {
    const bytes = format === 'tfjs' ? await writeTfjsFolder(loaded, to) : await writeKeras(loaded, to, force, format);
    return { format, bytes };
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot write ${quotePath(to)}: ${describeFsError(err)}; nothing was written there`);
  }
}
