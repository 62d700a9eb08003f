// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');
import type { Config } from '../model/config.js';
import { featureTensor, generateDataset, labelTensor, SEQUENCE_LENGTH, type Dataset } from '../task/data.js';
import { evaluateTags, type Evaluation } from '../task/metrics.js';
import { buildModel, predictAll, summarize, type ModelSummary } from '../model/model.js';
import { rngFor } from '../task/random.js';
import { tagSequences, type TaggedSequence } from '../task/tagging.js';
import { tagLoss, trainModel, type TrainingCallbacks, type TrainingResult } from './train.js';

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
export function tagFreshSequences(model: tfl.LayersModel, config: Pick<Config, 'encoding'>, n: number, seed: number): TaggedSequence[] {
  return tagSequences(model, config.encoding, generateDataset(n, rngFor(seed, 'test-view')));
}

/** Held-out sequences evaluated after training unless asked otherwise. */
export const HELD_OUT_SIZE = 1000;

/**
 * Scores `model` on `n` held-out sequences drawn from the `held-out` stream of `seed`: a stream
 * distinct from the training data's, so with the training seed it is still unseen data.
 */
export function evaluateOnHeldOut(model: tfl.LayersModel, config: Pick<Config, 'encoding'>, n: number, seed: number): Evaluation {
  const data = generateDataset(n, rngFor(seed, 'held-out'));
  const { loss, predicted } = tf.tidy(() => {
    const x = featureTensor(data.digits, config.encoding);
    const y = labelTensor(data.labels);
    const out = predictAll(model, x);
    return {
      loss: tagLoss(y, out).dataSync()[0],
      predicted: tf.argMax(out, -1).dataSync() as Int32Array,
    };
  });
  return evaluateTags(data.labels, predicted, SEQUENCE_LENGTH, loss);
}
