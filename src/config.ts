import type { Encoding } from './data.js';

export type RecurrentActivation = 'sigmoid' | 'hardSigmoid';
export type OutputActivation = 'softmax' | 'linear' | 'sigmoid' | 'relu';

/**
 * Everything that defines one experiment. This one plain object flows from the CLI flags through
 * model building and training into the saved model's metadata, so a saved model says exactly how
 * it was made and `predict` can rebuild its inputs.
 */
export interface Config {
  /** Training sequences generated per run. */
  samples: number;
  encoding: Encoding;
  units: number;
  /** Gate activation of the LSTM. tfjs defaults to hardSigmoid (Keras <= 2.2); Keras >= 2.3 uses sigmoid. */
  recurrentActivation: RecurrentActivation;
  /** Activation of the per-step Dense(2) head. `linear` is the seed program's bug. */
  activation: OutputActivation;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
}

/** The seed program's experiment, with the softmax fix: LSTM(16) → TimeDistributed(Dense(2, softmax)). */
export const SEED_EXPERIMENT: Omit<Config, 'seed'> = {
  samples: 1000,
  encoding: 'scalar',
  units: 16,
  recurrentActivation: 'sigmoid',
  activation: 'softmax',
  epochs: 20,
  batchSize: 32,
  lr: 0.001,
};
