// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tfl = require('@tensorflow/tfjs-layers');
import type { Config } from '../config/config.js';
import { generateDataset, type Dataset, type TaskInput } from '../task/data.js';
import type { Evaluation } from '../task/metrics.js';
import { taskData } from '../task/tag-data.js';
import { evaluateData, type Scoring } from './scoring.js';
import { buildModel, summarize, type ModelSummary } from '../model/model.js';
import { rngFor } from '../shared/random.js';
import { tagSequences, type TaggedSequence } from '../task/tagging.js';
import { trainModel, trainTagged, type TrainingCallbacks, type TrainingResult } from './train.js';
import { validationCount } from '../config/config.js';
import { sliceTagData, type TextRun } from '../task/text-data.js';
import { PADDING_MASK } from '../task/vocabulary.js';
import { isPacked, packedRows, type Rows, type TagData } from '../task/tag-data.js';

export { evaluateData, fusedPredictor, type Scoring } from './scoring.js';
import { fusedPredictor } from './scoring.js';

/** A built, untrained model with its training data, ready for `trainModel`. */
export interface Experiment {
  config: Config;
  model: tfl.Sequential;
  summary: ModelSummary;
  data: Dataset;
  /** A run on the user's text (config.data): its files as ids, and the vocabulary the model reads. */
  text?: TextRun;
}

/** Generates the training set from the `train-data` stream and builds the model from the `weights` stream. */
export function createExperiment(config: Config): Experiment {
  const dataset = generateDataset(config.samples, rngFor(config.seed, 'train-data'));
  const model = buildModel(config, config.seed);
  return { config, model, summary: summarize(model), data: dataset };
}

/** An experiment on the user's text: the model sized by its vocabulary and tags. */
export function createTextExperiment(config: Config, text: TextRun): Experiment {
  const model = buildModel(config, config.seed, { vocabulary: text.vocabulary.words.length, tags: text.vocabulary.tags.length });
  return { config, model, summary: summarize(model), data: { n: 0, digits: new Int32Array(0), labels: new Int32Array(0) }, text };
}

/**
 * The sentences a text run trains on and validates with: the --validation-data file, else the last
 * ⌈split × n⌉ sentences of the training file (as Keras's validation_split), else none.
 */
export function textSplit(text: TextRun, split: number): { train: Rows; validation?: TagData } {
  if (text.validation) return { train: text.train.data, validation: text.validation.data };
  return splitTagData(text.train.data, split);
}

/** The first rows of `all` to train on and the last ⌈split × n⌉ to validate with, as Keras's validation_split; no split: all of it. */
export function splitTagData<D extends Rows>(all: D, split: number): { train: D; validation?: TagData } {
  const kept = all.n - validationCount(all.n, split);
  if (kept === all.n) return { train: all };
  // Packed rows train from a view of themselves; padded rows, from a copy.
  const train = (isPacked(all) ? packedRows(all, 0, kept) : sliceTagData(all as TagData, 0, kept)) as D;
  return { train, validation: sliceTagData(all, kept, all.n, `${all.source} (validation split)`) };
}

/** Where a text run's held-out scores come from. */
export type HeldOutSource = 'test' | 'validation' | 'split' | 'train';

/** What a text run is scored on after training: the test file, else the validation file or split, else (said by the caller) the training data. */
export function textHeldOut(text: TextRun, split: number): { data: Rows; source: HeldOutSource } {
  if (text.test) return { data: text.test.data, source: 'test' };
  const validation = textSplit(text, split).validation;
  if (validation) return { data: validation, source: text.validation ? 'validation' : 'split' };
  return { data: text.train.data, source: 'train' };
}

/** Scores a text model on `data` (its held-out data unless given), padding masked. */
export function evaluateText(model: tfl.LayersModel, text: TextRun, split: number, data: Rows = textHeldOut(text, split).data): Evaluation {
  return evaluateData(model, data, { mask: PADDING_MASK });
}

export async function runExperiment(experiment: Experiment, callbacks: TrainingCallbacks = {}): Promise<TrainingResult> {
  if (experiment.text) {
    const { train, validation } = textSplit(experiment.text, experiment.config.validationSplit);
    return trainTagged(experiment.model, train, validation, experiment.config, callbacks);
  }
  return trainModel(experiment.model, experiment.data, experiment.config, callbacks);
}

/** Tags `n` fresh sequences from a stream distinct from the training data (the seed's test view). */
export function tagFreshSequences(model: tfl.LayersModel, encoding: TaskInput, n: number, seed: number, probability = true): TaggedSequence[] {
  const fused = fusedPredictor(model, 'digits');
  try {
    return tagSequences(model, taskData(generateDataset(n, rngFor(seed, 'test-view')), encoding, `generated, seed ${seed}`), probability, undefined, n, fused);
  } finally {
    fused?.dispose();
  }
}

/** Held-out sequences evaluated after training unless asked otherwise. */
export const HELD_OUT_SIZE = 1000;

/**
 * Scores `model` on `n` held-out sequences drawn from the `held-out` stream of `seed`: a stream
 * distinct from the training data's, so with the training seed it is still unseen data.
 */
export function evaluateOnHeldOut(model: tfl.LayersModel, encoding: TaskInput, n: number, seed: number, scoring: Scoring = {}): Evaluation {
  const data = taskData(generateDataset(n, rngFor(seed, 'held-out')), encoding, `generated, seed ${seed}`);
  return evaluateData(model, data, scoring);
}
