import { ExitCode, UserError } from '../errors.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type BackendName = Exclude<BackendChoice, 'auto'>;
/** The backends by name (what a checkpoint may record). */
export const BACKEND_NAMES = BACKEND_CHOICES.filter((b): b is BackendName => b !== 'auto') as [BackendName, ...BackendName[]];

/** Every sequence of the digit task has this many positions, one per digit 0..9. */
export const SEQUENCE_LENGTH = 10;
/** Label classes: index 0 = unique digit, index 1 = part of the repeated pair. */
export const NUM_CLASSES = 2;

/** How inputs are fed to the network: a digit's raw value or a one-hot vector of 10, or a word id through an Embedding (text). */
export const ENCODINGS = ['scalar', 'onehot', 'embedding'] as const;
export type Encoding = (typeof ENCODINGS)[number];
/** How a model reads the digits: an encoding seq-tag trains, or the digits as integer ids (a user's Embedding over 0..9). */
export type TaskInput = Encoding | 'ids';

/** Width of one time step's input vector (an embedding's input is one id). */
export function inputWidth(encoding: Encoding): number {
  return encoding === 'onehot' ? 10 : 1;
}

/** A text file a run reads, as its records name it: a file that changed since is refused. */
export interface DataRef {
  path: string;
  /** CoNLL-U, CoNLL columns or word/TAG (../task/corpus.ts). */
  format: string;
  bytes: number;
  sha256: string;
}

/** What a model trained on text (../task/vocabulary.ts) saves beside its weights to read text again. */
export interface TextVocabulary {
  /** words[id]; words[0] is "" (padding), words[1] is "<unk>". */
  words: string[];
  /** Tag names by tag id (the model's output column). */
  tags: string[];
  lowercase: boolean;
  minCount: number;
  /** Sentences longer than this were split into pieces of at most this many words. */
  maxLength: number;
  /** Trained on `.npz` files of ids: words[i] is the id i itself, written as a number (../task/id-data.ts). */
  ids?: boolean;
}

/** The user's tagged text a run trains on, and where its held-out scores come from. */
export interface DataSpec {
  train: DataRef;
  validation?: DataRef;
  test?: DataRef;
  /** The column the tags are read from: upos, xpos, a column number, or last (word/TAG: tag; an .npz: NPZ_TAGS). */
  tagColumn: string;
}

/** The "tag column" of a run on `.npz` files of ids: their tags are the array y (../task/id-data.ts). */
export const NPZ_TAGS = 'y';

export const RECURRENT_ACTIVATIONS = ['sigmoid', 'hardSigmoid'] as const;
/** The recurrent cell: Keras's LSTM, or its GRU (TensorFlow.js's, reset_after=False). */
export const CELLS = ['lstm', 'gru'] as const;
export type Cell = (typeof CELLS)[number];
export type RecurrentActivation = (typeof RECURRENT_ACTIVATIONS)[number];
export const OUTPUT_ACTIVATIONS = ['softmax', 'linear', 'sigmoid', 'relu'] as const;
export type OutputActivation = (typeof OUTPUT_ACTIVATIONS)[number];
export const OPTIMIZERS = ['adam', 'sgd', 'rmsprop', 'adagrad'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];
/** Keras's class name of each optimizer. */
export const KERAS_OPTIMIZERS: Record<OptimizerName, string> = { adam: 'Adam', sgd: 'SGD', rmsprop: 'RMSprop', adagrad: 'Adagrad' };
export const LSTM_ENGINES = ['fused', 'layers'] as const;
export type LstmEngine = (typeof LSTM_ENGINES)[number];
export const DTYPES = ['float32', 'float64'] as const;
export const LR_SCHEDULES = ['constant', 'plateau'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];
export type Dtype = (typeof DTYPES)[number];
/** Initialiser names as tfjs spells them; all of them take a seed or need none. */
export const INITIALIZERS = [
  'glorotUniform',
  'glorotNormal',
  'heUniform',
  'heNormal',
  'leCunUniform',
  'leCunNormal',
  'randomUniform',
  'randomNormal',
  'truncatedNormal',
  'orthogonal',
  'zeros',
] as const;
export type InitializerName = (typeof INITIALIZERS)[number];

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
  /** Read the sequence both ways (a second LSTM right to left, outputs concatenated). */
  bidirectional: boolean;
  /** The recurrent cell of every recurrent layer. */
  cell: Cell;
  /** Recurrent layers stacked, each reading the whole sequence of the one before. */
  layers: number;
  /** Keras's LSTM(dropout): the share of each sentence's inputs zeroed in training (one mask a sentence, drawn from the seed). */
  dropout: number;
  /** Keras's LSTM(recurrent_dropout): the same for the state carried from step to step. */
  recurrentDropout: number;
  /** Gate activation of the LSTM. tfjs defaults to hardSigmoid (Keras <= 2.2); Keras >= 2.3 uses sigmoid. */
  recurrentActivation: RecurrentActivation;
  /** Activation of the per-step Dense(2) head. `linear` is the seed program's bug. */
  activation: OutputActivation;
  /** Answer 2: BatchNormalization after the LSTM. */
  batchNorm: boolean;
  /** Answer 3: LayerNormalization after the LSTM. */
  layerNorm: boolean;
  /** Initialiser of the LSTM and Dense kernels (Keras default glorotUniform). */
  kernelInitializer: InitializerName;
  recurrentInitializer: InitializerName;
  optimizer: OptimizerName;
  lr: number;
  /** Adam's epsilon (Keras default 1e-7). */
  adamEpsilon: number;
  /** Keras semantics: each gradient tensor is rescaled to at most this L2 norm. */
  clipnorm: number | null;
  /** Keras semantics: each gradient element is clipped to [-clipvalue, clipvalue]. */
  clipvalue: number | null;
  epochs: number;
  batchSize: number;
  /** Share of the `samples` held out for validation after every epoch: the last ones, as Keras's validation_split (0: none). */
  validationSplit: number;
  /** Epochs without a better validation loss before training stops, keeping the best epoch's weights (null: never). */
  earlyStopping: number | null;
  /** The least fall of the validation loss that counts as better. */
  minDelta: number;
  /** `plateau`: Keras's ReduceLROnPlateau on the validation loss (lrFactor, lrPatience, minLr); `constant`: never changed. */
  lrSchedule: LrSchedule;
  lrFactor: number;
  lrPatience: number;
  minLr: number;
  /** Stop at the first batch whose loss is NaN, infinite or pinned at the clip bound. */
  nanGuard: boolean;
  /**
   * Training engine: `fused` computes the whole step on typed arrays (src/training/fused/), `layers` runs
   * tf.layers through the tfjs backend. Both train the same model (test/fused.test.ts checks parity).
   */
  lstm: LstmEngine;
  /**
   * The fused engine's arithmetic: float32 runs the LSTM layer in WebAssembly SIMD (src/training/fused/wasm/),
   * float64 everything in JavaScript (the reference, and answer 3's "double precision"). The layers
   * engine is float32 only: TensorFlow.js has no float64 tensors.
   */
  dtype: Dtype;
  /** Width of the word vectors (--encoding embedding). */
  embeddingDim: number;
  /** Words seen fewer times than this in the training file read as <unk>. */
  minCount: number;
  /** Words are lowercased before they are looked up. */
  lowercase: boolean;
  /** Longer sentences are split into pieces of at most this many words. */
  maxLength: number;
  /** A run on the user's text: the files (absent: the digit task's generated sequences). */
  data?: DataSpec;
  seed: number;
}

/** Keras's default learning rate per optimizer, used when --lr is not given. */
export const DEFAULT_LR: Record<OptimizerName, number> = { adam: 0.001, sgd: 0.01, rmsprop: 0.001, adagrad: 0.001 };

/**
 * The question's experiment, with answer 1's softmax fix (`--activation linear` restores its NaN):
 * LSTM(16) → TimeDistributed(Dense(2, softmax)), 1,000 sequences, 20 epochs, batch 32, Adam.
 * These are the defaults of every flag.
 */
export const ORIGINAL_EXPERIMENT: Omit<Config, 'seed'> = {
  samples: 1000,
  encoding: 'scalar',
  units: 16,
  bidirectional: false,
  cell: 'lstm',
  layers: 1,
  dropout: 0,
  recurrentDropout: 0,
  recurrentActivation: 'sigmoid',
  activation: 'softmax',
  batchNorm: false,
  layerNorm: false,
  kernelInitializer: 'glorotUniform',
  recurrentInitializer: 'orthogonal',
  optimizer: 'adam',
  lr: DEFAULT_LR.adam,
  adamEpsilon: 1e-7,
  clipnorm: null,
  clipvalue: null,
  epochs: 20,
  batchSize: 32,
  validationSplit: 0,
  earlyStopping: null,
  minDelta: 0,
  // Keras's ReduceLROnPlateau defaults: factor 0.1, patience 10, min_lr 0.
  lrSchedule: 'constant',
  lrFactor: 0.1,
  lrPatience: 10,
  minLr: 0,
  nanGuard: true,
  lstm: 'fused',
  dtype: 'float32',
  embeddingDim: 64,
  minCount: 1,
  lowercase: false,
  maxLength: 128,
};

/**
 * A bidirectional LSTM on one-hot digits: the smallest, fastest configuration found that solves the
 * task (token accuracy ≥ 99.5% and exact-match ≥ 98% on 1,000 held-out sequences) for each of
 * three seeds; `npm run bench:solve` measures it.
 */
export const SOLVE_EXPERIMENT: Omit<Config, 'seed'> = {
  ...ORIGINAL_EXPERIMENT,
  encoding: 'onehot',
  bidirectional: true,
  units: 16,
  samples: 6000,
  batchSize: 32,
  lr: 0.015,
  epochs: 12,
};

export const PRESETS = { original: ORIGINAL_EXPERIMENT, solve: SOLVE_EXPERIMENT } as const;

/**
 * What a run on text (config.data) changes in any preset before its flags apply: words are read
 * through an Embedding, which the layers engine runs (the fused one reads digits). The command line
 * and the API both apply it.
 */
export function forText(preset: Omit<Config, 'seed'>, data: DataSpec): Omit<Config, 'seed'> {
  // The fused engine runs text in float32 WebAssembly (../training/fused/tagger.ts; --dtype float64: JavaScript); --lstm layers runs tf.layers.
  return { ...preset, encoding: 'embedding', lstm: 'fused', dtype: 'float32', data };
}
export type PresetName = keyof typeof PRESETS;
/** Earlier names of presets, still accepted: "seed" also meant the random seed. */
export const PRESET_ALIASES: Record<string, PresetName> = { seed: 'original' };

/** "adam (lr 0.001, epsilon 1e-7), clipnorm 1" */
export function describeOptimizer(config: Config): string {
  const settings = [`lr ${config.lr}`];
  if (config.optimizer === 'adam') settings.push(`epsilon ${config.adamEpsilon}`);
  const clip = [config.clipnorm !== null && `clipnorm ${config.clipnorm}`, config.clipvalue !== null && `clipvalue ${config.clipvalue}`];
  return [`${config.optimizer} (${settings.join(', ')})`, ...clip.filter(Boolean)].join(', ');
}

/** How many of `n` sequences a validation split holds out: n − ⌊n × (1 − split)⌋, as Keras splits. */
export function validationCount(n: number, split: number): number {
  return split > 0 ? n - Math.floor(n * (1 - split)) : 0;
}

/**
 * Settings that are each valid but not together. The one check for them: the command line, the
 * sweep's grid and a queue worker (on a job from Redis) all call it.
 */
export function checkCombination(config: Omit<Config, 'seed'>): void {
  if (config.data && config.encoding !== 'embedding')
    throw new UserError(`--encoding ${config.encoding} feeds digits; words of --data are fed by --encoding embedding`, ExitCode.Usage);
  if (!config.data && config.encoding === 'embedding')
    throw new UserError('--encoding embedding reads the words of a tagged text: give it with --data FILE (CoNLL-U, CoNLL columns or word/TAG)', ExitCode.Usage);
  // The fused engine runs a text tagger's LSTM or GRU layers, stacked or not; the digit task's GRU and stacks run on tf.layers.
  if (config.lstm === 'fused' && !config.data && (config.cell !== 'lstm' || config.layers > 1))
    throw new UserError(
      `the fused engine computes the digit task's one LSTM layer: --${config.cell !== 'lstm' ? `cell ${config.cell}` : `layers ${config.layers}`} runs on tf.layers, add --lstm layers (a text tagger, --data, runs them fused)`,
      ExitCode.Usage,
    );
  if (config.cell === 'gru' && (config.dropout > 0 || config.recurrentDropout > 0))
    throw new UserError(
      `--${config.dropout > 0 ? 'dropout' : 'recurrent-dropout'} is drawn for LSTM layers; --cell gru trains without dropout here`,
      ExitCode.Usage,
    );
  if ((config.dropout > 0 || config.recurrentDropout > 0) && (!config.data || config.lstm !== 'fused'))
    throw new UserError(
      `--${config.dropout > 0 ? 'dropout' : 'recurrent-dropout'} trains a text tagger (--data) on the fused engine, which draws its masks from --seed; ${config.data ? "tf.layers' dropout is not seeded: drop --lstm layers" : 'the digit task has none'}`,
      ExitCode.Usage,
    );
  if (config.data && config.lstm === 'fused' && (config.activation !== 'softmax' || config.batchNorm || config.layerNorm))
    throw new UserError(
      'the fused engine runs a text tagger with a softmax head and no normalisation layer: add --lstm layers for --activation other than softmax, --batch-norm or --layer-norm',
      ExitCode.Usage,
    );
  // A text run on tf.layers recorded while text's default was float64 says so: it ran, and resumes, in float32.
  if (config.dtype === 'float64' && config.lstm === 'layers' && !config.data) {
    throw new UserError('--dtype float64 needs --lstm fused: TensorFlow.js has no float64 tensors', ExitCode.Usage);
  }
  const validated = config.validationSplit > 0 || config.data?.validation !== undefined;
  const add = config.data
    ? 'add --validation-data FILE or --validation-split, e.g. --validation-split 0.1'
    : 'add --validation-split, e.g. --validation-split 0.2';
  if (config.earlyStopping !== null && !validated) {
    throw new UserError(`--early-stopping watches the validation loss: ${add}`, ExitCode.Usage);
  }
  if (config.lrSchedule === 'plateau' && !validated) {
    throw new UserError(`--lr-schedule plateau watches the validation loss: ${add}`, ExitCode.Usage);
  }
  if (config.data?.validation && config.validationSplit > 0)
    throw new UserError('--validation-data is the validation set: drop --validation-split (or the file)', ExitCode.Usage);
  const held = validationCount(config.samples, config.validationSplit);
  if (!config.data && config.validationSplit > 0 && (held === config.samples || held === 0)) {
    const problem = held === config.samples ? 'leaves no training sequences' : 'holds out no sequence';
    throw new UserError(
      `--validation-split ${config.validationSplit} of --samples ${config.samples} ${problem}; raise --samples or change the split`,
      ExitCode.Usage,
    );
  }
}
