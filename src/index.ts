/**
 * seq-tag as a library: `import { loadModel, predict, evaluate, train, doctor } from 'seq-tag'`.
 * The same pipeline the CLI runs (task data → model → training → diagnosis/metrics → storage),
 * without printing or exiting: results are returned, problems thrown as SeqTagError with the
 * CLI's one-line message. See docs/api.md.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { ExitCode, UserError } from './errors.js';
import type { BackendChoice, BackendInfo } from './model/backend.js';
import type { KernelChoice, KernelKind } from './training/fused/wasm/instance.js';
import { startCompute } from './training/compute.js';
import { asProbabilities } from './model/describe.js';
import { checkCombination, forText, PRESETS, type Config, type DataSpec, type PresetName, type TextVocabulary } from './config/config.js';
import { DEFAULT_BURST, diagnose, type Diagnosis } from './diagnosis/diagnosis.js';
import { nextStep } from './diagnosis/next-step.js';
import { configSchema } from './config/hyperparameters.js';
import { FOREIGN_MODEL_SEED, probabilityHead, taskEncoding, userData, userRows } from './task/model-data.js';
import { examine } from './diagnosis/examine.js';
import { datasetOf, parseDigitSequence } from './task/data.js';
import { freshSeed } from './shared/random.js';
import { taskData } from './task/tag-data.js';
import { tagSequences, tagText, type TaggedSentence, type TaggedSequence } from './task/tagging.js';
import type { CorpusFormat } from './task/corpus.js';
import { readTextFiles } from './task/text-data.js';
import type { Evaluation } from './task/metrics.js';
import {
  createExperiment,
  createTextExperiment,
  evaluateData,
  fusedPredictor,
  evaluateOnHeldOut,
  evaluateText,
  HELD_OUT_SIZE,
  runExperiment,
} from './training/experiment.js';
import type { EpochRecord, TrainingResult } from './training/train.js';
import { loadModel as loadFromDisk, ModelFolder, modelRecord, type LoadedModel } from './model/store.js';
import { VERSION } from './version.js';
import { prepareRetrain, runRetrain, type RetrainOptions as FileRetrain } from './diagnosis/retrain.js';
import type { SetupFix } from './diagnosis/setup.js';
import { exportModel } from './model/export.js';

export type {
  BackendChoice,
  BackendInfo,
  KernelChoice,
  KernelKind,
  Config,
  Diagnosis,
  EpochRecord,
  Evaluation,
  PresetName,
  TaggedSentence,
  TaggedSequence,
  TextVocabulary,
};
export { VERSION };

/** Every problem the API reports: `message` is the CLI's one line (what is wrong and what to do). */
export { UserError as SeqTagError };

/** A model loaded from anything `--model` accepts: a seq-tag or TensorFlow.js folder, a `.keras` or `.h5` file. */
export interface Model extends LoadedModel {
  path: string;
  backend: BackendInfo;
}

/**
 * Loads a model in plain Node (no tfjs-node needed). Call `model.model.dispose()` when done with it.
 * `kernels`: the fused engine's float32 kernels, as `--kernels` (auto: the native build when there is one).
 */
export async function loadModel(path: string, options: { backend?: BackendChoice; kernels?: KernelChoice } = {}): Promise<Model> {
  const { backend } = await startCompute(options.backend, options.kernels);
  return { ...(await loadFromDisk(path)), path, backend };
}

/**
 * Tags sequences of the digit task: each a string ("4 0 2 8 5 6 1 3 3 7" or "4028561337") or 10
 * numbers 0-9. Returns per sequence its digits, the predicted tags (1 = repeated) and, for a
 * probability head, P(repeated) at each position; `truth` is where the repeated pair really is.
 */
export function predict(model: Model, sequences: ReadonlyArray<string | ArrayLike<number>>): TaggedSequence[] {
  const digits = sequences.map((s, k) => {
    const parsed = parseDigitSequence(typeof s === 'string' ? s : Array.from(s).join(' '));
    if (!parsed) throw new UserError(`sequence ${k + 1} is not 10 digits 0-9 (e.g. "4 0 2 8 5 6 1 3 3 7")`, ExitCode.Usage);
    return parsed;
  });
  const encoding = taskEncoding(model.path, model.description);
  const run = asProbabilities(model.model, model.compile?.fromLogits);
  return tagSequences(run, taskData(datasetOf(digits), encoding, 'api'), probabilityHead(model.description, model.compile), model.description.mask);
}

/**
 * Tags raw sentences with a model trained on text (`train` with `data`): each a string of words
 * separated by spaces, or an array of words. Returns per sentence its words, their tags and each
 * tag's probability.
 */
export function tagSentences(model: Model, sentences: ReadonlyArray<string | readonly string[]>): TaggedSentence[] {
  const vocabulary = model.record?.text;
  if (!vocabulary) throw new UserError(`${model.path} was not trained on text: tag digit sequences with predict()`, ExitCode.Usage);
  const words = sentences.map((s) => (typeof s === 'string' ? s.trim().split(/\s+/).filter(Boolean) : [...s]));
  return tagText(model.model, words, vocabulary, fusedPredictor(model.model, 'ids'));
}

/**
 * Scores a model against the no-skill baselines: on `samples` generated held-out sequences (seed:
 * the training seed's held-out stream, or 1), or on your own `.npz` with `data`.
 */
export async function evaluate(model: Model, options: { samples?: number; seed?: number; data?: string } = {}): Promise<Evaluation> {
  const scoring = { compile: model.compile, mask: model.description.mask };
  if (options.data !== undefined) return evaluateData(model.model, await userRows(options.data, model.description, model.record), scoring);
  const seed = options.seed ?? model.record?.config.seed ?? FOREIGN_MODEL_SEED;
  return evaluateOnHeldOut(model.model, taskEncoding(model.path, model.description), options.samples ?? HELD_OUT_SIZE, seed, scoring);
}

/** The text options of `train` (not hyperparameters: the files and how to read them). */
type TextFlags = Pick<TrainOptions, 'data' | 'validationData' | 'testData' | 'tagColumn' | 'dataFormat'>;

/** What `train` takes: a preset, any hyperparameter of the flag table (by its config key), and where to save. */
export type TrainOptions = Partial<Omit<Config, 'seed' | 'data'>> & {
  preset?: PresetName;
  seed?: number;
  backend?: BackendChoice;
  /** The fused engine's float32 kernels, as `--kernels` (auto: the native build when there is one). */
  kernels?: KernelChoice;
  /** Save the model here (a new or empty folder, or seq-tag's own), atomically; a diverged run is never saved. */
  modelDir?: string;
  onEpoch?: (epoch: EpochRecord) => void;
  signal?: AbortSignal;
  /** Train on tagged text (CoNLL-U, CoNLL columns, word/TAG) instead of the digit task; see docs/data.md. */
  data?: string;
  validationData?: string;
  /** Scored after training (else the validation data, else the training data). */
  testData?: string;
  /** upos or xpos (CoNLL-U), or a column number from 2 (CoNLL columns). */
  tagColumn?: string;
  dataFormat?: CorpusFormat;
};

export interface TrainResult extends Pick<TrainingResult, 'epochs' | 'divergence' | 'earlyStopping' | 'seconds'> {
  config: Config;
  backend: BackendInfo;
  /** The kernels that ran: the same seed and kernels give the same losses. */
  kernels: KernelKind;
  /** The trained network (tf.layers); dispose it when done. */
  model: tfl.LayersModel;
  /** On 1,000 unseen sequences (text: the test data, else the validation data); absent when training diverged. */
  evaluation?: Evaluation;
  /** A run on text: the words and tags the model reads and writes (saved with it). */
  vocabulary?: TextVocabulary;
  /** For a run that learned nothing, the step seq-tag measured to work. */
  nextStep?: ReturnType<typeof nextStep>;
  saved: boolean;
}

/** A config from a preset and overrides, checked as the command line checks flags. */
export function makeConfig(
  options: Omit<TrainOptions, 'backend' | 'kernels' | 'modelDir' | 'onEpoch' | 'signal' | keyof TextFlags> = {},
  data?: DataSpec,
): Config {
  const { preset = 'original', seed = freshSeed(), ...overrides } = options;
  if (!(preset in PRESETS)) throw new UserError(`unknown preset '${preset}'; use one of: ${Object.keys(PRESETS).join(', ')}`, ExitCode.Usage);
  const base = data ? forText(PRESETS[preset], data) : PRESETS[preset];
  const parsed = configSchema.safeParse({ ...base, ...overrides, seed });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(`${issue.path.join('.') || 'config'}: ${issue.message}`, ExitCode.Usage);
  }
  const config = parsed.data as Config;
  checkCombination(config);
  return config;
}

/** Trains as `seq-tag train` does (same seed → same losses on the same backend), then evaluates and optionally saves. */
export async function train(options: TrainOptions = {}): Promise<TrainResult> {
  const { backend: choice, kernels: kernelChoice, modelDir, onEpoch, signal, data, validationData, testData, tagColumn, dataFormat, ...rest } = options;
  const text =
    data === undefined ? undefined : await readTextFiles({ train: data, validation: validationData, test: testData, tagColumn, format: dataFormat }, rest);
  const config = makeConfig(rest, text?.spec);
  const folder = modelDir === undefined ? undefined : await ModelFolder.open(modelDir);
  try {
    const { backend, kernels } = await startCompute(choice, kernelChoice);
    const experiment = text ? createTextExperiment(config, text) : createExperiment(config);
    const result = await runExperiment(experiment, { onEpochEnd: onEpoch, signal });
    const { epochs, divergence, earlyStopping, seconds } = result;
    const base = {
      config,
      backend,
      kernels,
      model: experiment.model,
      epochs,
      divergence,
      earlyStopping,
      seconds,
      ...(text ? { vocabulary: text.vocabulary } : {}),
    };
    if (divergence || result.interrupted) return { ...base, saved: false };
    if (text) {
      const evaluation = evaluateText(experiment.model, text, config.validationSplit);
      if (folder) await folder.save(experiment.model, { ...modelRecord(config, backend.name, result), text: text.vocabulary });
      return { ...base, evaluation, saved: folder !== undefined };
    }
    const evaluation = evaluateOnHeldOut(experiment.model, config.encoding, HELD_OUT_SIZE, config.seed);
    if (folder) await folder.save(experiment.model, modelRecord(config, backend.name, result));
    return { ...base, evaluation, nextStep: nextStep(config, evaluation), saved: folder !== undefined };
  } finally {
    await folder?.release();
  }
}

/** What `retrain` takes: the file, its data, the fix (diagnosis/retrain.ts), training settings by config key (epochs, batchSize, lr, optimizer …; not the model's), and where to write it. */
export type RetrainOptions = Partial<Omit<Config, 'data'>> &
  Omit<FileRetrain, 'overrides'> & {
    backend?: BackendChoice;
    kernels?: KernelChoice;
    /** Write the retrained model here: a .keras file or a new folder (atomically; never after a diverged run). */
    to?: string;
    /** Replace an existing `to` file. */
    force?: boolean;
    onEpoch?: (epoch: EpochRecord) => void;
    signal?: AbortSignal;
  };

export interface RetrainResult extends Pick<TrainingResult, 'epochs' | 'divergence' | 'seconds'> {
  config: Config;
  backend: BackendInfo;
  /** The retrained network; dispose it when done. */
  model: tfl.LayersModel;
  /** The fix applied (with `fix`; undefined: nothing to fix in its loss and head). */
  fix?: SetupFix;
  /** On its held-out data (the test data, else the validation data, else 1,000 unseen sequences of the task, else the training data); absent when training diverged. */
  evaluation?: Evaluation;
  saved: boolean;
}

/** Retrains a model saved by Keras or TensorFlow.js as `seq-tag train --from` does, and writes it to `to` when given. */
export async function retrain(options: RetrainOptions): Promise<RetrainResult> {
  const { from, data, validationData, testData, fix, reinit, backend: choice, kernels, to, force, onEpoch, signal, ...overrides } = options;
  const { backend } = await startCompute(choice, kernels);
  const loaded = await loadFromDisk(from, { allowNonFinite: true });
  let model: tfl.LayersModel | undefined;
  try {
    const prepared = await prepareRetrain(loaded, { from, data, validationData, testData, fix, reinit, overrides });
    model = prepared.model;
    const { result, evaluation } = await runRetrain(prepared, loaded, from, { onEpochEnd: onEpoch, signal });
    const { epochs, divergence, seconds } = result;
    if (evaluation && to !== undefined) await exportModel({ ...loaded, model, compile: prepared.compile, nonFinite: [] }, to, force === true);
    // The caller owns the model returned; the file's, when a new one was built, is freed.
    if (model !== loaded.model) loaded.model.dispose();
    return {
      config: prepared.config,
      backend,
      model,
      fix: prepared.fix,
      epochs,
      divergence,
      seconds,
      evaluation,
      saved: evaluation !== undefined && to !== undefined,
    };
  } catch (err) {
    if (model && model !== loaded.model) model.dispose();
    loaded.model.dispose();
    throw err;
  }
}

/**
 * The doctor's checks: of a saved model (`model`: its path; with `data`, on your
 * own `.npz`), or of a configuration built from a preset and overrides (the model `train` would build).
 */
export async function doctor(
  options: { model?: string; data?: string; burst?: number; seed?: number; backend?: BackendChoice } & Omit<
    TrainOptions,
    'modelDir' | 'onEpoch' | 'signal'
  > = {},
): Promise<Diagnosis & { config: Config }> {
  const { model, data, burst, backend, kernels, ...rest } = options;
  const stray = Object.keys(rest).find((key) => key !== 'seed' && rest[key as keyof typeof rest] !== undefined);
  if (model !== undefined && stray) {
    throw new UserError(`${stray} does not apply with model: the doctor checks that model as it is, with its own configuration`, ExitCode.Usage);
  }
  await startCompute(backend, kernels);
  if (model === undefined) {
    if (data !== undefined) throw new UserError('data needs a model: the doctor checks a saved model on your data', ExitCode.Usage);
    const config = makeConfig(rest);
    return { config, ...diagnose(config, { burstBatches: burst }) };
  }
  // Loaded here, not taken from the caller: the burst trains the model it checks.
  const loaded = await loadFromDisk(model, { allowNonFinite: true });
  try {
    const tagData = data === undefined ? undefined : await userData(data, loaded.description, loaded.record);
    const { config, diagnosis } = examine(model, loaded, { burst: burst ?? DEFAULT_BURST, seed: options.seed }, tagData);
    return { config, ...diagnosis };
  } finally {
    loaded.model.dispose();
  }
}
