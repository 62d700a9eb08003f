import { totalmem } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKEND_CHOICES, type BackendChoice, type BackendInfo } from '../model/backend.js';
import { KERNEL_CHOICES, type KernelChoice } from '../training/fused/wasm/instance.js';
import { startCompute } from '../training/compute.js';
import {
  checkCombination,
  DEFAULT_LR,
  forText,
  ORIGINAL_EXPERIMENT,
  PRESET_ALIASES,
  PRESETS,
  SOLVE_EXPERIMENT,
  type Config,
  type DataSpec,
  type PresetName,
} from '../config/config.js';
import { CORPUS_FORMATS, type CorpusFormat } from '../task/corpus.js';
import { readTextFiles, type TextRun } from '../task/text-data.js';
import { estimateCost, type Cost } from '../training/cost.js';
import { formatBytes } from '../shared/format.js';
import { ExitCode, UserError } from '../errors.js';
import { freshSeed } from '../shared/random.js';
export { taskEncoding, userData, userRows, probabilityHead } from '../task/model-data.js';
import { addHyperparameters, HYPERPARAMETERS, MAX_SEED, parserOf, wholeNumber, type Hyperparameter, type HyperparameterKey } from './flags.js';

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
    throw new UserError(
      `--lstm layers keeps about ${formatBytes(cost.backendBytes)} in the wasm backend, which holds at most 4 GiB; use --lstm fused (the default), --backend cpu, or lower --${cost.biggest}`,
      ExitCode.Usage,
    );
  }
  if (cost.wasmBytes > 4 * 2 ** 30) {
    throw new UserError(
      `the float32 engine needs about ${formatBytes(cost.wasmBytes)} of WebAssembly memory for batches of ${config.batchSize}, more than its 4 GiB; lower --batch-size or --units, or use --dtype float64`,
      ExitCode.Usage,
    );
  }
  const limit = MEMORY_SHARE * totalmem();
  if (cost.bytes * copies > limit) {
    const each = copies > 1 ? ` in each of ${copies} workers` : '';
    throw new UserError(
      `this run needs about ${formatBytes(cost.bytes)} of memory${each}, more than this machine can give (${formatBytes(limit)} of ${formatBytes(totalmem())}); lower --${cost.biggest}`,
      ExitCode.Usage,
    );
  }
  return cost;
}

/** A cost worth announcing before the run: over a minute, or over 2 GiB. */
export function isCostly(cost: Cost): boolean {
  return cost.seconds > 60 || cost.bytes > 2 * 2 ** 30;
}

/**
 * Flags that define the experiment, from the hyperparameter table (./flags.ts); shared by every
 * command that builds and trains a model. Defaults shown are the original preset's; another
 * --preset replaces every default it sets, and a flag typed on the command line overrides it.
 */
export function addExperimentOptions(cmd: Command): Command {
  const names = Object.keys(PRESETS);
  cmd.addOption(
    new Option(
      '--preset <name>',
      "original: the question's experiment with answer 1's softmax (add --activation linear for its NaN); solve: a bidirectional one-hot model that solves the task (its values are shown beside each flag it sets)",
    )
      // Retired names are still read, never offered (not in the help nor in the error's list).
      .argParser((value: string) => {
        if (names.includes(value) || value in PRESET_ALIASES) return value;
        throw new InvalidArgumentError(`Allowed choices are ${names.join(', ')}.`);
      })
      .default('original'),
  );
  addHyperparameters(cmd, ORIGINAL_EXPERIMENT, SOLVE_EXPERIMENT);
  return addSeedOption(cmd, 'fixes data, initial weights and batch order (default: a fresh one, printed)');
}

export function addBackendOption(cmd: Command): Command {
  return cmd
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend (auto picks the fastest available)').choices([...BACKEND_CHOICES]).default('auto'))
    .addOption(
      new Option(
        '--kernels <kind>',
        "the fused float32 engine's kernels: native (compiled for this CPU at install, when a C++ compiler was found) or wasm (WebAssembly SIMD, everywhere); auto takes native when built; results agree to float32 rounding, not bit for bit",
      )
        .choices([...KERNEL_CHOICES])
        .default('auto'),
    );
}

/** Picks the fused engine's kernels (--kernels), then starts the TensorFlow.js backend (--backend, or `backend`). */
export async function initCompute(flags: BackendFlag, backend: BackendChoice = flags.backend): Promise<BackendInfo> {
  return (await startCompute(backend, flags.kernels)).backend;
}

/** --seed, with what it fixes for this command. */
export function addSeedOption(cmd: Command, help: string): Command {
  return cmd.option('--seed <n>', help, parserOf(wholeNumber(0, MAX_SEED)));
}

/** --json: one document on stdout in the envelope of ./output.ts instead of text. */
export function addJsonOption(cmd: Command, what: string): Command {
  return cmd.addOption(new Option('--json', `print ${what} as one JSON document instead of text`));
}

/** Where `train` saves and the other commands read a model unless told otherwise. */
export const DEFAULT_MODEL_DIR = './seq-tag-model';

/**
 * --model, the saved model a command reads: a folder seq-tag or TensorFlow.js wrote, a Keras .keras
 * or .h5 file. --model-dir, its earlier name, still works. Without a default (doctor), the command
 * does without a model.
 */
export function addModelOption(cmd: Command, help: string, withDefault = true): Command {
  cmd.option('--model <path>', help, withDefault ? DEFAULT_MODEL_DIR : undefined);
  return cmd.addOption(new Option('--model-dir <path>', 'the earlier name of --model').hideHelp());
}

export type ModelFlag = { model?: string; modelDir?: string };

/** The model path the user gave, by either name; both at once must agree. */
export function modelPath(flags: ModelFlag): string | undefined {
  if (flags.model !== undefined && flags.modelDir !== undefined && flags.model !== flags.modelDir && flags.model !== DEFAULT_MODEL_DIR) {
    throw new UserError(
      `--model ${flags.model} and --model-dir ${flags.modelDir} disagree; give one (--model-dir is the earlier name of --model)`,
      ExitCode.Usage,
    );
  }
  return flags.modelDir ?? flags.model;
}

/** The table's hyperparameters as parsed flags, plus what only the command line has. */
export type ExperimentFlags = { [K in HyperparameterKey]: Config[K] } & {
  preset: PresetName | keyof typeof PRESET_ALIASES;
  seed?: number;
};

/** The config a --preset name (or a retired alias of one) stands for. */
export function presetConfig(name: ExperimentFlags['preset']): Omit<Config, 'seed'> {
  return PRESETS[PRESET_ALIASES[name] ?? (name as PresetName)];
}

/** Turns parsed flags into the experiment config; rejects combinations no single flag parser can see. */
export function configFromFlags(flags: ExperimentFlags, given: (flag: string) => boolean = () => false, data?: DataSpec): Config {
  if (given('adamEpsilon') && flags.optimizer !== 'adam') {
    throw new UserError(`--adam-epsilon applies to --optimizer adam, not ${flags.optimizer}`, ExitCode.Usage);
  }
  const preset = presetConfig(flags.preset);
  const config = { ...(data ? forText(preset, data) : preset) } as Record<HyperparameterKey, unknown>;
  for (const { key } of HYPERPARAMETERS) if (given(key)) config[key] = flags[key];
  const chosen = config as Omit<Config, 'seed'>;
  checkCombination(chosen);
  // A different optimizer brings its own Keras default rate unless --lr says otherwise.
  if (!given('lr') && given('optimizer')) chosen.lr = DEFAULT_LR[chosen.optimizer];
  return { ...chosen, seed: flags.seed ?? freshSeed() };
}
/** The training flags the user typed, for `train --from` (fileConfig refuses those that build a model). */
export function typedOverrides(flags: ExperimentFlags, given: (flag: string) => boolean): Partial<Config> & { preset?: string } {
  const typed = (HYPERPARAMETERS as readonly Hyperparameter[]).filter((row) => given(row.key));
  const preset = given('preset') ? { preset: flags.preset } : {};
  return { ...Object.fromEntries(typed.map((row) => [row.key, flags[row.key]])), ...preset, ...(flags.seed === undefined ? {} : { seed: flags.seed }) };
}

/** Whether a flag was typed by the user rather than filled in from its default. */
export function givenOn(cmd: Command): (flag: string) => boolean {
  return (flag) => cmd.getOptionValueSource(flag) === 'cli';
}

export type BackendFlag = { backend: BackendChoice; kernels: KernelChoice };

export type DataFlag = { data?: string };

/** A model trained on text reads tagged text only: without --data (or --input), one line saying so, not the digit task. */
export function textModelNeedsData(path: string, record: { text?: unknown; config: Config } | undefined, what: string): void {
  if (record?.text) throw new UserError(`${path} tags text (it was trained on ${record.config.data?.train.path ?? 'a text file'}): ${what}`, ExitCode.Usage);
}

/** The files of a run on tagged text, and how to read them. */
export type TextDataFlags = DataFlag & { validationData?: string; testData?: string; tagColumn?: string; dataFormat?: CorpusFormat };

/** --data and its companions for the commands that train (train). */
export function addTextDataOptions(cmd: Command): Command {
  cmd.option(
    '--data <file>',
    'train on your tagged text: CoNLL-U (.conllu), CoNLL columns (word first, tag last) or word/TAG tokens one sentence per line, told by extension or content; or an .npz of word ids (x [n, T], 0 = padding) and tags (y)',
  );
  cmd.option('--validation-data <file>', 'score this file after every epoch (else --validation-split of --data)');
  cmd.option('--test-data <file>', 'the held-out file scored after training (else the validation data)');
  cmd.option('--tag-column <col>', 'the tags: upos (default) or xpos of CoNLL-U, or a column number of CoNLL columns (default: the last)');
  cmd.addOption(new Option('--data-format <kind>', 'the format, when the extension and content do not tell it').choices([...CORPUS_FORMATS]));
  return cmd;
}

/** A new run's text files from its flags (vocabulary options as typed, else their defaults); undefined for the digit task. */
export async function readTextOfFlags(flags: TextDataFlags & Partial<Pick<Config, 'minCount' | 'lowercase' | 'maxLength'>>): Promise<TextRun | undefined> {
  if (flags.data === undefined) {
    const stray = (['validationData', 'testData', 'tagColumn', 'dataFormat'] as const).find((k) => flags[k] !== undefined);
    if (stray) throw new UserError(`--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} goes with --data FILE (the training text)`, ExitCode.Usage);
    return undefined;
  }
  return readTextFiles(
    { train: flags.data, validation: flags.validationData, test: flags.testData, tagColumn: flags.tagColumn, format: flags.dataFormat },
    flags,
  );
}

/** --data: the user's own sequences instead of the task's generated digits. */
export function addDataOption(cmd: Command, what: string): Command {
  return cmd.option('--data <file.npz>', `${what} on your own data: an .npz with x ([n, T] ids or [n, T, F]) and y ([n, T, C] one-hot or [n, T] tag ids)`);
}
