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
import { trainModel, type TrainingCallbacks, type TrainingResult } from './train.js';

export { evaluateData, type Scoring } from './scoring.js';

/** A built, untrained model with its training data, ready for `trainModel`. */
export interface Experiment {
  config: Config;
  model: tfl.Sequential;
  summary: ModelSummary;
  data: Dataset;
}

/** Generates the training set from the `train-data` stream and builds the model from the `weights` stream. */
export function createExperiment(config: Config): Experiment {
  const dataset = generateDataset(config.samples, rngFor(config.seed, 'train-data'));
  const model = buildModel(config, config.seed);
  return { config, model, summary: summarize(model), data: dataset };
}

export async function runExperiment(experiment: Experiment, callbacks: TrainingCallbacks = {}): Promise<TrainingResult> {
  return trainModel(experiment.model, experiment.data, experiment.config, callbacks);
}

/** Tags `n` fresh sequences from a stream distinct from the training data (the seed's test view). */
export function tagFreshSequences(model: tfl.LayersModel, encoding: TaskInput, n: number, seed: number, probability = true): TaggedSequence[] {
  return tagSequences(model, taskData(generateDataset(n, rngFor(seed, 'test-view')), encoding, `generated, seed ${seed}`), probability);
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
