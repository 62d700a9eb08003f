// The hyperparameter table and the config schema derived from it: the bottom of the config system,
// read by the CLI (its flags), sweep and tune (records, grids), storage (checkpoints), the API and
// queue workers. Nothing here knows commander; ../cli/flags.ts turns the table into options.
import { z } from 'zod';
import {
  DEFAULT_LR,
  DTYPES,
  INITIALIZERS,
  LR_SCHEDULES,
  LSTM_ENGINES,
  OPTIMIZERS,
  NPZ_TAGS,
  ORIGINAL_EXPERIMENT,
  OUTPUT_ACTIVATIONS,
  RECURRENT_ACTIVATIONS,
  type Config,
  ENCODINGS,
  CELLS,
} from './config.js';
import { thousands } from '../shared/format.js';
import { ExitCode, UserError } from '../errors.js';

/** The largest LSTM measured to build, train and evaluate here (2 cores, 24 GiB): 4,096 exhausted wasm's 4 GiB. */
export const MAX_UNITS = 1024;

/** A zod schema for a command-line word: whole numbers in [min, max], said the way the CLI says it. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): z.ZodType<number, string> {
  const expected = `expected a whole number from ${min} to ${thousands(max)}.`;
  return z
    .string()
    .regex(/^\s*\d+\s*$/, expected)
    .transform(Number)
    .pipe(z.number().min(min, expected).max(max, expected));
}

/** A number in decimal notation (0.001, 1e-3), unsigned: what the number flags accept. */
const DECIMAL = /^\+?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A zod schema for a number greater than 0, in decimal notation (0.001, 1e-3): Number() would also take 0x10, 0b1 and 0o7. */
export const positiveNumber: z.ZodType<number, string> = z
  .string()
  .trim()
  .regex(DECIMAL, 'expected a number greater than 0, in decimal notation (e.g. 0.001 or 1e-3).')
  .transform(Number)
  .pipe(z.number().finite('expected a number greater than 0.').gt(0, 'expected a number greater than 0.'));

/** A number of 0 or more, in decimal notation. */
export const nonNegativeNumber: z.ZodType<number, string> = z
  .string()
  .trim()
  .regex(DECIMAL, 'expected a number of 0 or more, in decimal notation (e.g. 0.001 or 1e-3).')
  .transform(Number)
  .pipe(z.number().finite('expected a finite number.'));

const SHARE = 'expected a fraction above 0 and at most 1, e.g. 0.98.';

/** A share reached or aimed at: a decimal number above 0 and at most 1 (tune's --goal). */
export const share: z.ZodType<number, string> = z
  .string()
  .trim()
  .regex(/^\+?(\d+\.?\d*|\.\d+)$/, SHARE)
  .transform(Number)
  .pipe(z.number().gt(0, SHARE).max(1, SHARE));

/** A share of the data: a decimal number from 0 up to (not including) `below`. */
export function fraction(below: number): z.ZodType<number, string> {
  const expected = `expected a fraction from 0 to below ${below}, e.g. 0.2.`;
  return z
    .string()
    .trim()
    .regex(/^\+?(\d+\.?\d*|\.\d+)$/, expected)
    .transform(Number)
    .pipe(z.number().min(0, expected).lt(below, expected));
}

/**
 * One hyperparameter: its config key, its flag, what it accepts and its help. `values` lists the
 * words of a choice; `schema` parses a number; a boolean is a switch (`negate` names its --no- form).
 */
export interface Hyperparameter {
  key: Exclude<keyof Config, 'seed' | 'data'>;
  flag: string;
  help: string;
  values?: readonly string[];
  schema?: z.ZodType<number, string>;
  /** For a switch: what its --no- form does (it always exists; shown in help when this is given). */
  offHelp?: string;
  /** No default on the command line: it depends on another flag (--lr on --optimizer). */
  derived?: true;
  /** The seq-tag version that added the row; configs written before it mean its default. */
  since?: string;
  /**
   * Whether it applies to a model read from a file (`train --from`): 'training' (epochs, batches,
   * validation), 'optimizer' (one given replaces the file's optimizer); unset, it builds seq-tag's
   * own model or data, which a file brings itself.
   */
  scope?: 'training' | 'optimizer';
}

/**
 * Every hyperparameter of the experiment, one row each. The commander options, the flags type and
 * the config are derived from it (./options.ts); the defaults are the original preset's
 * (../model/config.ts), so a preset is just a config.
 */
export const HYPERPARAMETERS = [
  {
    key: 'encoding',
    flag: '--encoding <kind>',
    help: "input: a digit's scalar value (the original) or one-hot; embedding: word ids through an Embedding(mask_zero=True), for --data text (its default there)",
    values: ENCODINGS,
  },
  {
    key: 'embeddingDim',
    flag: '--embedding-dim <n>',
    help: 'width of the word vectors of --encoding embedding',
    schema: wholeNumber(1, 4096),
    since: '0.3',
  },
  {
    key: 'minCount',
    flag: '--min-count <n>',
    help: 'words seen fewer times in the training file read as <unk> (text data)',
    schema: wholeNumber(1, 1_000_000),
    since: '0.3',
  },
  {
    key: 'lowercase',
    flag: '--lowercase',
    help: 'lowercase words before looking them up (text data)',
    offHelp: 'keep the case of words (the default)',
    since: '0.3',
  },
  {
    key: 'maxLength',
    flag: '--max-length <n>',
    help: 'split longer sentences into pieces of at most this many words (text data)',
    schema: wholeNumber(1, 100_000),
    since: '0.3',
  },
  {
    key: 'bidirectional',
    flag: '--bidirectional',
    help: 'read the sequence both ways (Bidirectional LSTM)',
    offHelp: 'read left to right only (overrides --preset solve)',
  },
  {
    key: 'cell',
    flag: '--cell <kind>',
    help: "the recurrent cell: Keras's LSTM, or its GRU (as TensorFlow.js computes it, reset_after=False); gru runs on --lstm layers",
    values: CELLS,
    since: '0.3',
  },
  {
    key: 'dropout',
    flag: '--dropout <fraction>',
    help: "Keras's LSTM(dropout): the share of a sentence's inputs zeroed while training (text, fused engine; masks drawn from --seed)",
    schema: fraction(1),
    since: '0.3',
  },
  {
    key: 'recurrentDropout',
    flag: '--recurrent-dropout <fraction>',
    help: "Keras's LSTM(recurrent_dropout): the same for the state carried between steps",
    schema: fraction(1),
    since: '0.3',
  },
  {
    key: 'layers',
    flag: '--layers <n>',
    help: 'recurrent layers stacked, each reading the whole output sequence of the one before; over 1 runs on --lstm layers',
    schema: wholeNumber(1, 8),
    since: '0.3',
  },
  { key: 'epochs', scope: 'training', flag: '--epochs <n>', help: 'training epochs', schema: wholeNumber(1, 100_000) },
  { key: 'samples', scope: 'training', flag: '--samples <n>', help: 'training sequences', schema: wholeNumber(1, 10_000_000) },
  { key: 'batchSize', scope: 'training', flag: '--batch-size <n>', help: 'sequences per gradient step', schema: wholeNumber(1, 1_000_000) },
  {
    key: 'validationSplit',
    scope: 'training',
    flag: '--validation-split <fraction>',
    help: "hold out this share of the training sequences (the last ones, as Keras's validation_split) and score them after every epoch",
    schema: fraction(0.9),
    since: '0.2',
  },
  {
    key: 'earlyStopping',
    scope: 'training',
    flag: '--early-stopping <patience>',
    help: "stop after this many epochs without a better validation loss and keep the best epoch's weights (Keras's EarlyStopping(restore_best_weights=True)); needs --validation-split",
    schema: wholeNumber(1, 100_000),
    since: '0.2',
  },
  {
    key: 'minDelta',
    scope: 'training',
    flag: '--min-delta <x>',
    help: 'the least fall of the validation loss that counts as better, for --early-stopping',
    schema: nonNegativeNumber,
    since: '0.2',
  },
  {
    key: 'lrSchedule',
    scope: 'optimizer',
    flag: '--lr-schedule <kind>',
    help: "plateau: Keras's ReduceLROnPlateau on the validation loss (multiply the rate by --lr-factor after --lr-patience epochs without a fall of 1e-4); needs --validation-split",
    values: LR_SCHEDULES,
    since: '0.2',
  },
  {
    key: 'lrFactor',
    scope: 'training',
    flag: '--lr-factor <x>',
    help: 'the plateau schedule multiplies the learning rate by this',
    schema: fraction(1),
    since: '0.2',
  },
  {
    key: 'lrPatience',
    scope: 'training',
    flag: '--lr-patience <epochs>',
    help: 'epochs without improvement before the plateau schedule lowers the rate',
    schema: wholeNumber(1, 100_000),
    since: '0.2',
  },
  {
    key: 'minLr',
    scope: 'training',
    flag: '--min-lr <x>',
    help: 'the plateau schedule never lowers the rate below this',
    schema: nonNegativeNumber,
    since: '0.2',
  },
  {
    key: 'units',
    flag: '--units <n>',
    help: 'LSTM units (at most 1,024: measured to train and evaluate here; runs of minutes print an estimate first)',
    schema: wholeNumber(1, MAX_UNITS),
  },
  {
    key: 'lr',
    scope: 'optimizer',
    flag: '--lr <x>',
    help: "learning rate (default: Keras's for the optimizer: adam 0.001, sgd 0.01, rmsprop 0.001, adagrad 0.001)",
    schema: positiveNumber,
    derived: true,
  },
  {
    key: 'recurrentActivation',
    flag: '--recurrent-activation <name>',
    help: "LSTM gate activation; hardSigmoid is the original's Keras 2 behaviour",
    values: RECURRENT_ACTIVATIONS,
  },
  { key: 'activation', flag: '--activation <name>', help: "output layer activation; linear reproduces the original's NaN", values: OUTPUT_ACTIVATIONS },
  { key: 'batchNorm', flag: '--batch-norm', help: 'answer 2: BatchNormalization after the LSTM' },
  { key: 'layerNorm', flag: '--layer-norm', help: 'answer 3: LayerNormalization after the LSTM' },
  { key: 'optimizer', scope: 'optimizer', flag: '--optimizer <name>', help: 'optimizer', values: OPTIMIZERS },
  { key: 'adamEpsilon', scope: 'optimizer', flag: '--adam-epsilon <x>', help: "Adam's epsilon", schema: positiveNumber },
  {
    key: 'clipnorm',
    scope: 'optimizer',
    flag: '--clipnorm <x>',
    help: 'rescale each gradient tensor to at most this L2 norm (Keras clipnorm)',
    schema: positiveNumber,
  },
  { key: 'clipvalue', scope: 'optimizer', flag: '--clipvalue <x>', help: 'clip each gradient element to [-x, x] (Keras clipvalue)', schema: positiveNumber },
  { key: 'kernelInitializer', flag: '--kernel-initializer <name>', help: 'initialiser of the LSTM and Dense kernels', values: INITIALIZERS },
  { key: 'recurrentInitializer', flag: '--recurrent-initializer <name>', help: 'initialiser of the LSTM recurrent kernel', values: INITIALIZERS },
  {
    key: 'nanGuard',
    scope: 'training',
    flag: '--nan-guard',
    help: 'stop at the first diverged batch (NaN, infinite, or pinned at the clip bound)',
    offHelp: 'train on through NaN, printing nan losses like the original program',
  },
  {
    key: 'lstm',
    scope: 'training',
    flag: '--lstm <engine>',
    help: 'training engine: fused (typed arrays, fast) or layers (tf.layers on the backend)',
    values: LSTM_ENGINES,
  },
  {
    key: 'dtype',
    scope: 'training',
    flag: '--dtype <type>',
    help: "arithmetic: float32 (the fused LSTM in WebAssembly SIMD, as tfjs) or float64 (the fused engine in JavaScript; answer 3's double precision)",
    values: DTYPES,
  },
] as const satisfies readonly Hyperparameter[];

export type HyperparameterKey = (typeof HYPERPARAMETERS)[number]['key'];

/** A row's flag without its argument: "--epochs". */
export function flagName(row: Hyperparameter): string {
  return row.flag.split(' ')[0];
}

/** A word of a command line as a shell reads it back: quoted when it holds spaces or shell characters. */
export function quoteWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The largest seed any command accepts. */
export const MAX_SEED = 2 ** 31 - 1;

/** One config value as the table allows it: a listed word, a number its flag's parser accepts, or a switch. */
function configField(row: Hyperparameter): z.ZodType {
  const field = row.values
    ? z.enum(row.values as unknown as [string, ...string[]])
    : row.schema
      ? z.number().refine((n) => row.schema!.safeParse(String(n)).success, `not a valid value for ${flagName(row)}`)
      : z.boolean();
  const nullable: z.ZodType = ORIGINAL_EXPERIMENT[row.key] === null ? field.nullable() : field;
  // A row added after 0.1: configs written before it (records, sweep.json, queued runs) mean its default.
  return row.since ? z.preprocess((v) => (v === undefined ? ORIGINAL_EXPERIMENT[row.key] : v), nullable) : nullable;
}

/** Rows added after seq-tag 0.1, with the value that reproduces what 0.1 did. */
export const ADDED_ROWS = (HYPERPARAMETERS as readonly Hyperparameter[]).filter((row) => row.since).map((row) => row.key);

/**
 * A config as run keys and records compare it: rows added after 0.1 left out while at their default,
 * so a sweep folder made by 0.1 resumes with the same keys.
 */
export function canonicalConfig<T extends Partial<Config>>(config: T): T {
  const out = { ...config };
  for (const key of ADDED_ROWS) if (out[key] === ORIGINAL_EXPERIMENT[key]) delete out[key];
  return out;
}

/** A whole experiment config checked against the table (and nothing else in it): what a queue worker accepts. */
const dataRef = z.object({ path: z.string(), format: z.string(), bytes: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict();

/** The files of a run on text (Config.data). */
export const dataSpecSchema = z.object({ train: dataRef, validation: dataRef.optional(), test: dataRef.optional(), tagColumn: z.string() }).strict();

export const configSchema = z
  .object({
    ...Object.fromEntries((HYPERPARAMETERS as readonly Hyperparameter[]).map((row) => [row.key, configField(row)])),
    data: dataSpecSchema.optional(),
    seed: z.number().int().min(0).max(MAX_SEED),
  })
  .strict();

/**
 * The train command that runs `config`: the flags whose values differ from the original preset's
 * (and --lr when it differs from the optimizer's default), then --seed.
 */
export function commandLine(config: Config, command = 'seq-tag train'): string {
  const parts = [command];
  for (const row of HYPERPARAMETERS as readonly Hyperparameter[]) {
    const value = config[row.key];
    const usual = row.key === 'lr' ? DEFAULT_LR[config.optimizer] : ORIGINAL_EXPERIMENT[row.key];
    if (value === usual) continue;
    const flag = flagName(row);
    if (typeof value === 'boolean') parts.push(value ? flag : `--no-${flag.slice(2)}`);
    else parts.push(flag, String(value));
  }
  const data = config.data;
  if (data) {
    parts.push('--data', quoteWord(data.train.path));
    if (data.validation) parts.push('--validation-data', quoteWord(data.validation.path));
    if (data.test) parts.push('--test-data', quoteWord(data.test.path));
    if (!['last', 'upos', 'tag', NPZ_TAGS].includes(data.tagColumn)) parts.push('--tag-column', data.tagColumn);
  }
  parts.push('--seed', String(config.seed));
  return parts.join(' ');
}

/**
 * The run's hyperparameters by flag name (without "--"), as TensorBoard's HParams dashboard shows
 * them: every row of the table, then the seed; a flag that is off (--clipnorm unset) is left out.
 */
export function flagValues(config: Config): Record<string, number | string | boolean> {
  const values: Record<string, number | string | boolean> = {};
  for (const row of HYPERPARAMETERS as readonly Hyperparameter[]) {
    const value = config[row.key];
    if (value !== null && value !== undefined) values[flagName(row).slice(2)] = value;
  }
  values.seed = config.seed;
  return values;
}

/**
 * The config of a retrained file (`train --from`): the file's own (`base`, from its topology and
 * compile config) with the training settings given; one that builds seq-tag's own model or data
 * is refused in one line, since the file brings its model. `ownOptimizer`: an optimizer setting was
 * given, so the config's optimizer replaces the file's.
 */
export function fileConfig(base: Config, overrides: Partial<Config> & { preset?: string }): { config: Config; ownOptimizer: boolean } {
  const rows = (HYPERPARAMETERS as readonly Hyperparameter[]).filter((row) => overrides[row.key] !== undefined);
  const stray = 'preset' in overrides && overrides.preset !== undefined ? '--preset' : rows.find((row) => row.scope === undefined)?.flag.split(' ')[0];
  if (stray)
    throw new UserError(
      `${stray} does not apply with --from: the file brings its own model, trained as it is (--reinit for fresh weights); drop ${stray}`,
      ExitCode.Usage,
    );
  const config = { ...base } as Record<HyperparameterKey, unknown>;
  for (const { key } of rows) config[key] = overrides[key];
  const chosen = config as Config;
  if (overrides.adamEpsilon !== undefined && chosen.optimizer !== 'adam')
    throw new UserError(`--adam-epsilon applies to --optimizer adam, not ${chosen.optimizer}`, ExitCode.Usage);
  // A different optimizer brings its own Keras default rate unless --lr says otherwise.
  if (overrides.lr === undefined && overrides.optimizer !== undefined) chosen.lr = DEFAULT_LR[chosen.optimizer];
  return { config: { ...chosen, seed: overrides.seed ?? base.seed }, ownOptimizer: rows.some((row) => row.scope === 'optimizer') };
}
