// Retraining a model someone else saved (a Keras .keras or .h5 file, a TensorFlow.js folder) on the
// user's .npz, or on the generated digit task when it is a model of it; with `fix`, the doctor's fix
// for its loss and head applied first (./setup.ts). `train --from` and the API's train({ from }).
import type tfl from '@tensorflow/tfjs-layers';
import { taggerShapeOf } from '../training/fused/tagger.js';
import { configFromDescription } from '../model/describe.js';
import { quotePath, type LoadedModel } from '../model/store.js';
import { rebuildModel } from '../model/rebuild.js';
import { retrainedCompile } from '../model/export.js';
import { withHead, type CompileInfo } from '../model/keras/archive.js';
import { fileConfig } from '../config/hyperparameters.js';
import type { Config } from '../config/config.js';
import { generateDataset } from '../task/data.js';
import { taskData, wordsInRow, type TagData } from '../task/tag-data.js';
import { taskEncoding, userData } from '../task/model-data.js';
import type { Evaluation } from '../task/metrics.js';
import { freshSeed, rngFor } from '../shared/random.js';
import { thousands } from '../shared/format.js';
import { batchLoss, modelLoss } from '../training/losses.js';
import { kerasOptimizer, type KerasOptimizer } from '../training/keras-optimizer.js';
import { trainTagged, type OwnTraining, type TrainingCallbacks, type TrainingResult } from '../training/train.js';
import { evaluateData, evaluateOnHeldOut, HELD_OUT_SIZE, splitTagData } from '../training/experiment.js';
import { ExitCode, UserError } from '../errors.js';
import { setupFix, type SetupFix } from './setup.js';

/** What a retrain reads and changes: the file's model and these. */
export interface RetrainOptions {
  /** The file's path, as the user gave it (for messages). */
  from: string;
  /** An .npz of the model's own inputs and tags; without it, the digit task (a model of it only). */
  data?: string;
  validationData?: string;
  testData?: string;
  fix?: boolean;
  reinit?: boolean;
  /** Training settings given (epochs, batch size, validation split, optimizer …); others are refused. */
  overrides?: Partial<Config> & { preset?: string };
}

/** The held-out data of a retrain, and how to call it; no data: the digit task's unseen sequences. */
export interface HeldOut {
  data?: TagData;
  label: string;
}

/** A retrain ready to run: the model to train (the caller disposes it and the loaded one), its data, settings and fix. */
export interface Retrain {
  model: tfl.LayersModel;
  config: Config;
  /** The fix applied (with `fix`; undefined: nothing to fix in its loss and head). */
  fix?: SetupFix;
  /** The compile config it trains with and is written with. */
  compile: CompileInfo;
  /** The file's optimizer as it runs (undefined: an optimizer setting was given, the config's runs). */
  optimizer?: KerasOptimizer;
  own: OwnTraining;
  train: TagData;
  validation?: TagData;
  heldOut: HeldOut;
}

/** A .npz the model's own ids or features fill (a file does not hold the vocabulary a text file would need). */
async function npzFor(flag: string, file: string, loaded: LoadedModel): Promise<TagData> {
  if (!/\.npz$/i.test(file))
    throw new UserError(
      `${flag} ${file}: a model read with --from takes its data as .npz of its own input ids or features and tags (np.savez(FILE, x=inputs, y=tags)), since its vocabulary is not in its file`,
      ExitCode.Usage,
    );
  return userData(file, loaded.description);
}

/** The data to train, validate and score on: the .npz files named, or the generated task for a model of it. */
async function retrainData(options: RetrainOptions, loaded: LoadedModel, config: Config): Promise<Pick<Retrain, 'train' | 'validation' | 'heldOut'>> {
  const { data, validationData, testData, overrides = {} } = options;
  if (data === undefined) {
    if (validationData !== undefined || testData !== undefined)
      throw new UserError('--validation-data and --test-data need --data: the training file', ExitCode.Usage);
    // A model of the digit task trains on generated sequences, as seq-tag's own do.
    const encoding = taskEncoding(options.from, loaded.description);
    const all = taskData(generateDataset(config.samples, rngFor(config.seed, 'train-data')), encoding, `generated, seed ${config.seed}`);
    return { ...splitTagData(all, config.validationSplit), heldOut: { label: `${thousands(HELD_OUT_SIZE)} unseen generated sequences` } };
  }
  if (overrides.samples !== undefined)
    throw new UserError('--samples sizes the generated task; with --data the file has its own size: drop --samples', ExitCode.Usage);
  if (validationData !== undefined && overrides.validationSplit !== undefined)
    throw new UserError('--validation-split and --validation-data both choose the validation data: give one', ExitCode.Usage);
  const all = await npzFor('--data', data, loaded);
  const file = validationData === undefined ? undefined : await npzFor('--validation-data', validationData, loaded);
  const { train, validation } = file ? { train: all, validation: file } : splitTagData(all, config.validationSplit);
  const test = testData === undefined ? undefined : await npzFor('--test-data', testData, loaded);
  const heldOut = test
    ? { data: test, label: `--test-data ${testData}` }
    : validation
      ? { data: validation, label: file ? `--validation-data ${validationData}` : `the validation split of ${data}` }
      : { data: all, label: `the training data ${data}: no held-out data, give --test-data or --validation-data` };
  return { train, validation, heldOut };
}

/**
 * Checks and prepares a retrain of `loaded`: a seq-tag folder is refused (it has --resume), weights
 * that are not finite need `reinit`, a loss seq-tag does not compute is refused; then the fix, the
 * model (rebuilt for a softmax head or fresh weights), the data and the loss and optimizer it trains with.
 */
export async function prepareRetrain(loaded: LoadedModel, options: RetrainOptions, seed = options.overrides?.seed ?? freshSeed()): Promise<Retrain> {
  const { from } = options;
  if (loaded.record)
    throw new UserError(
      `${from} is a model seq-tag trained: --from retrains a file from Keras or TensorFlow.js; continue an unfinished run with train --resume --model-dir ${quotePath(from)}, or train a new one with its flags`,
      ExitCode.Usage,
    );
  if (loaded.nonFinite.length && !options.reinit) {
    const fix = options.fix ? '' : `, and --fix for what made it diverge (seq-tag doctor --model ${quotePath(from)} says)`;
    throw new UserError(
      `the weights in ${from} hold NaN or Infinity (${loaded.nonFinite.length} of its tensors: its training diverged), so training cannot continue from them; add --reinit to train its architecture from fresh weights${fix}`,
    );
  }
  const { config, ownOptimizer } = fileConfig(configFromDescription(loaded.description, loaded.compile, seed), { ...options.overrides, seed });
  const { head, tags, mask } = loaded.description;
  const fix = options.fix ? setupFix(head, loaded.compile, tags) : undefined;
  const perToken = modelLoss(retrainedCompile(loaded.compile, config, { fromLogits: fix?.fromLogits }));
  if (!perToken) throw new UserError(`${from} is compiled with loss ${loaded.compile!.loss}, which seq-tag does not compute; it cannot be trained here`);
  const data = await retrainData(options, loaded, config);
  const model =
    fix?.head || options.reinit ? await rebuildModel(loaded.model, { head: fix?.head, freshSeed: options.reinit ? seed : undefined }) : loaded.model;
  // A softmax head that is the last layer is read through by Keras's crossentropies (CompileInfo.outputLogits).
  const compile = withHead(retrainedCompile(loaded.compile, config, { fromLogits: fix?.fromLogits, ownOptimizer }), model)!;
  const optimizer = ownOptimizer ? undefined : kerasOptimizer(loaded.compile?.keras?.optimizer);
  const lstm = retrainEngine(model, compile, optimizer, [data.train, data.validation], options.overrides?.lstm);
  if (lstm === 'layers' && config.dtype === 'float64')
    throw new UserError('--dtype float64 needs the fused engine, which does not train this model: drop --dtype', ExitCode.Usage);
  // The fused engine's tagger reads words through the file's Embedding.
  const runs: Config = lstm === 'fused' ? { ...config, lstm, encoding: 'embedding' } : { ...config, lstm };
  const own = { loss: batchLoss(perToken, mask), plan: optimizer, scoring: { compile, mask }, fusedTagger: lstm === 'fused' };
  return { model, config: runs, fix, compile, optimizer, own, ...data };
}

/** Each row's ids are words, then padding (0) only: what the fused tagger packs. */
function paddingTrails(data: TagData): boolean {
  if (data.features !== null) return false;
  for (let r = 0; r < data.n; r++) if (wordsInRow(data.x, r, data.steps) < 0) return false;
  return true;
}

/**
 * The engine a retrain runs on: the fused one (float32 WebAssembly) when it trains the file's model
 * exactly as tf.layers would — the fused tagger (Embedding(mask_zero) → LSTM or Bidirectional(LSTM)
 * → TimeDistributed(Dense(softmax))), categorical crossentropy on the softmax, the flags' optimizer
 * or the file's plain Adam, ids padded after each row's words — else tf.layers (--lstm layers
 * chooses it; --lstm fused on a model it cannot train is refused, saying why).
 */
function retrainEngine(
  model: tfl.LayersModel,
  compile: CompileInfo,
  optimizer: KerasOptimizer | undefined,
  data: (TagData | undefined)[],
  asked?: Config['lstm'],
): Config['lstm'] {
  if (asked === 'layers') return 'layers';
  const why = !taggerShapeOf(model)
    ? 'it is not Embedding(mask_zero) → LSTM or Bidirectional(LSTM) → TimeDistributed(Dense(softmax))'
    : compile.loss !== 'categorical_crossentropy' || compile.fromLogits || compile.labelSmoothing || compile.outputLogits
      ? `its loss is ${compile.loss}${compile.fromLogits ? ' from logits' : ''}${compile.labelSmoothing ? ' with label smoothing' : ''}; the fused engine computes categorical crossentropy on the softmax`
      : optimizer && !optimizer.plainAdam
        ? `its optimizer is ${optimizer.described}; --optimizer and --lr choose one the fused engine runs`
        : data.some((d) => d && !paddingTrails(d))
          ? 'its data has padding (id 0) before a word'
          : undefined;
  if (why && asked === 'fused') throw new UserError(`--lstm fused cannot train this model as Keras would: ${why}; drop --lstm`, ExitCode.Usage);
  return why ? 'layers' : 'fused';
}

/** Trains a prepared retrain; scores it on its held-out data unless it diverged or was interrupted. */
export async function runRetrain(
  retrain: Retrain,
  loaded: LoadedModel,
  from: string,
  callbacks: TrainingCallbacks = {},
): Promise<{ result: TrainingResult; evaluation?: Evaluation }> {
  const { model, config, own, heldOut } = retrain;
  const result = await trainTagged(model, retrain.train, retrain.validation, config, callbacks, own);
  if (result.divergence || result.interrupted) return { result };
  const evaluation = heldOut.data
    ? evaluateData(model, heldOut.data, own.scoring)
    : evaluateOnHeldOut(model, taskEncoding(from, loaded.description), HELD_OUT_SIZE, config.seed, own.scoring);
  return { result, evaluation };
}
