import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKEND_CHOICES, type BackendChoice } from '../backend.js';
import { SEED_EXPERIMENT, type Config } from '../config.js';
import { freshSeed } from '../random.js';

/** Commander argument parsers: each rejects a bad value with one line that says what is expected. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max.toLocaleString('en-US')}.`);
    }
    return n;
  };
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number greater than 0.');
  return n;
}

const MAX_SEED = 2 ** 31 - 1;

/** Flags that define the experiment; shared by every command that builds and trains a model. */
export function addExperimentOptions(cmd: Command): Command {
  const d = SEED_EXPERIMENT;
  return cmd
    .option('--epochs <n>', 'training epochs', wholeNumber(1, 100_000), d.epochs)
    .option('--samples <n>', 'training sequences', wholeNumber(1, 10_000_000), d.samples)
    .option('--batch-size <n>', 'sequences per gradient step', wholeNumber(1, 1_000_000), d.batchSize)
    .option('--units <n>', 'LSTM units', wholeNumber(1, 4096), d.units)
    .option('--lr <x>', 'Adam learning rate', positiveNumber, d.lr)
    .option('--seed <n>', 'fixes data, initial weights and batch order (default: a fresh one, printed)', wholeNumber(0, MAX_SEED))
    .addOption(
      new Option('--recurrent-activation <name>', 'LSTM gate activation; hardSigmoid is the seed\'s Keras 2 behaviour')
        .choices(['sigmoid', 'hardSigmoid'])
        .default(d.recurrentActivation),
    );
}

export function addBackendOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--backend <name>', 'TensorFlow.js backend (auto picks the fastest available)').choices([...BACKEND_CHOICES]).default('auto'),
  );
}

export interface ExperimentFlags {
  epochs: number;
  samples: number;
  batchSize: number;
  units: number;
  lr: number;
  seed?: number;
  recurrentActivation: Config['recurrentActivation'];
}

export function configFromFlags(flags: ExperimentFlags): Config {
  return {
    ...SEED_EXPERIMENT,
    samples: flags.samples,
    units: flags.units,
    recurrentActivation: flags.recurrentActivation,
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    lr: flags.lr,
    seed: flags.seed ?? freshSeed(),
  };
}

export type BackendFlag = { backend: BackendChoice };
