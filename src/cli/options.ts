import { totalmem } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKEND_CHOICES, type BackendChoice } from '../model/backend.js';
import { DEFAULT_LR, INITIALIZERS, LSTM_ENGINES, OPTIMIZERS, OUTPUT_ACTIVATIONS, PRESETS, SEED_EXPERIMENT, type Config, type PresetName } from '../model/config.js';
import { estimateCost, formatBytes, type Cost } from '../training/cost.js';
import { UserError } from '../errors.js';
import { thousands } from '../report/format.js';
import { freshSeed } from '../task/random.js';

/** Commander argument parsers: each rejects a bad value with one line that says what is expected. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${thousands(max)}.`);
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
/** The largest LSTM measured to build, train and evaluate here (2 cores, 24 GiB): 4,096 exhausted wasm's 4 GiB. */
export const MAX_UNITS = 1024;
/** WebAssembly's 32-bit memory, less what tfjs needs besides the data. */
const WASM_MEMORY_BYTES = 3.5 * 2 ** 30;
/** A run may plan to use at most this share of the machine's memory. */
const MEMORY_SHARE = 0.75;

/**
 * Refuses a run that cannot fit in memory (naming the flag to lower) instead of letting it crash,
 * and returns its estimated cost so that long or large runs can say so before they start.
 */
export function affordable(config: Omit<Config, 'seed'>, copies = 1, backend?: string): Cost {
  const cost = estimateCost(config);
  if (backend === 'wasm' && cost.backendBytes > WASM_MEMORY_BYTES) {
    throw new UserError(`--lstm layers keeps about ${formatBytes(cost.backendBytes)} in the wasm backend, which holds at most 4 GiB; use --lstm fused (the default), --backend cpu, or lower --${cost.biggest}`, 2);
  }
  const limit = MEMORY_SHARE * totalmem();
  if (cost.bytes * copies > limit) {
    const each = copies > 1 ? ` in each of ${copies} workers` : '';
    throw new UserError(`this run needs about ${formatBytes(cost.bytes)} of memory${each}, more than this machine can give (${formatBytes(limit)} of ${formatBytes(totalmem())}); lower --${cost.biggest}`, 2);
  }
  return cost;
}

/** A cost worth announcing before the run: over a minute, or over 2 GiB. */
export function isCostly(cost: Cost): boolean {
  return cost.seconds > 60 || cost.bytes > 2 * 2 ** 30;
}

/**
 * Flags that define the experiment; shared by every command that builds and trains a model.
 * Defaults shown are the seed preset's; another --preset replaces every default it sets, and a
 * flag typed on the command line overrides the preset.
 */
export function addExperimentOptions(cmd: Command): Command {
  const d = SEED_EXPERIMENT;
  return cmd
    .addOption(new Option('--preset <name>', 'seed: the original experiment; solve: a bidirectional one-hot model that solves the task').choices(Object.keys(PRESETS)).default('seed'))
    .addOption(new Option('--encoding <kind>', 'digit input: scalar value (the seed) or one-hot').choices(['scalar', 'onehot']).default(d.encoding))
    .option('--bidirectional', 'read the sequence both ways (Bidirectional LSTM)', d.bidirectional)
    .option('--no-bidirectional', 'read left to right only (overrides --preset solve)')
    .option('--epochs <n>', 'training epochs', wholeNumber(1, 100_000), d.epochs)
    .option('--samples <n>', 'training sequences', wholeNumber(1, 10_000_000), d.samples)
    .option('--batch-size <n>', 'sequences per gradient step', wholeNumber(1, 1_000_000), d.batchSize)
    .option('--units <n>', 'LSTM units (at most 1,024: measured to train and evaluate here; runs of minutes print an estimate first)', wholeNumber(1, MAX_UNITS), d.units)
    .option('--lr <x>', 'learning rate (default: Keras\'s for the optimizer: adam 0.001, sgd 0.01, rmsprop 0.001, adagrad 0.001)', positiveNumber)
    .option('--seed <n>', 'fixes data, initial weights and batch order (default: a fresh one, printed)', wholeNumber(0, MAX_SEED))
    .addOption(
      new Option('--recurrent-activation <name>', 'LSTM gate activation; hardSigmoid is the seed\'s Keras 2 behaviour')
        .choices(['sigmoid', 'hardSigmoid'])
        .default(d.recurrentActivation),
    )
    .addOption(new Option('--activation <name>', 'output layer activation; linear reproduces the seed\'s NaN').choices([...OUTPUT_ACTIVATIONS]).default(d.activation))
    .option('--batch-norm', 'answer 2: BatchNormalization after the LSTM', false)
    .option('--layer-norm', 'answer 3: LayerNormalization after the LSTM', false)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices([...OPTIMIZERS]).default(d.optimizer))
    .option('--adam-epsilon <x>', 'Adam\'s epsilon', positiveNumber, d.adamEpsilon)
    .option('--clipnorm <x>', 'rescale each gradient tensor to at most this L2 norm (Keras clipnorm)', positiveNumber)
    .option('--clipvalue <x>', 'clip each gradient element to [-x, x] (Keras clipvalue)', positiveNumber)
    .addOption(new Option('--kernel-initializer <name>', 'initialiser of the LSTM and Dense kernels').choices([...INITIALIZERS]).default(d.kernelInitializer))
    .addOption(new Option('--recurrent-initializer <name>', 'initialiser of the LSTM recurrent kernel').choices([...INITIALIZERS]).default(d.recurrentInitializer))
    .option('--dtype <type>', 'float32 only: TensorFlow.js has no float64 tensors', 'float32')
    .option('--no-nan-guard', 'train on through NaN, printing nan losses like the seed program')
    .addOption(new Option('--lstm <engine>', 'training engine: fused (typed arrays, fast) or layers (tf.layers on the backend)').choices([...LSTM_ENGINES]).default(d.lstm));
}

export function addBackendOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--backend <name>', 'TensorFlow.js backend (auto picks the fastest available)').choices([...BACKEND_CHOICES]).default('auto'),
  );
}

export interface ExperimentFlags
  extends Pick<
    Config,
    | 'encoding'
    | 'bidirectional'
    | 'epochs'
    | 'samples'
    | 'batchSize'
    | 'units'
    | 'recurrentActivation'
    | 'activation'
    | 'batchNorm'
    | 'layerNorm'
    | 'optimizer'
    | 'adamEpsilon'
    | 'kernelInitializer'
    | 'recurrentInitializer'
    | 'nanGuard'
    | 'lstm'
  > {
  preset: PresetName;
  lr?: number;
  seed?: number;
  clipnorm?: number;
  clipvalue?: number;
  dtype: string;
}

/** Turns parsed flags into the experiment config; rejects combinations no single flag parser can see. */
export function configFromFlags(flags: ExperimentFlags, given: (flag: string) => boolean = () => false): Config {
  if (flags.dtype !== 'float32') {
    const why = flags.dtype === 'float64' ? 'TensorFlow.js has no float64 tensors, so answer 3\'s "try double precision" cannot be tried here' : 'only float32 exists in TensorFlow.js';
    throw new UserError(`--dtype ${flags.dtype} is not possible: ${why}`, 2);
  }
  if (given('adamEpsilon') && flags.optimizer !== 'adam') {
    throw new UserError(`--adam-epsilon applies to --optimizer adam, not ${flags.optimizer}`, 2);
  }
  const preset = PRESETS[flags.preset];
  const pick = <K extends keyof typeof preset>(key: K, value: Config[K]): Config[K] => (given(key) ? value : (preset[key] as Config[K]));
  const optimizer = pick('optimizer', flags.optimizer);
  return {
    samples: pick('samples', flags.samples),
    encoding: pick('encoding', flags.encoding),
    units: pick('units', flags.units),
    bidirectional: pick('bidirectional', flags.bidirectional),
    recurrentActivation: pick('recurrentActivation', flags.recurrentActivation),
    activation: pick('activation', flags.activation),
    batchNorm: pick('batchNorm', flags.batchNorm),
    layerNorm: pick('layerNorm', flags.layerNorm),
    kernelInitializer: pick('kernelInitializer', flags.kernelInitializer),
    recurrentInitializer: pick('recurrentInitializer', flags.recurrentInitializer),
    optimizer,
    // A different optimizer brings its own Keras default rate unless --lr says otherwise.
    lr: flags.lr ?? (given('optimizer') ? DEFAULT_LR[optimizer] : preset.lr),
    adamEpsilon: pick('adamEpsilon', flags.adamEpsilon),
    clipnorm: pick('clipnorm', flags.clipnorm ?? null),
    clipvalue: pick('clipvalue', flags.clipvalue ?? null),
    epochs: pick('epochs', flags.epochs),
    batchSize: pick('batchSize', flags.batchSize),
    nanGuard: pick('nanGuard', flags.nanGuard),
    lstm: pick('lstm', flags.lstm),
    seed: flags.seed ?? freshSeed(),
  };
}

/** Whether a flag was typed by the user rather than filled in from its default. */
export function givenOn(cmd: Command): (flag: string) => boolean {
  return (flag) => cmd.getOptionValueSource(flag) === 'cli';
}

export type BackendFlag = { backend: BackendChoice };
