import type { Config } from '../config/config.js';
import { ExitCode, UserError } from '../errors.js';
import type { Checkpoint } from '../storage/checkpoint.js';
import { quotePath } from '../model/store.js';
import { flagName, HYPERPARAMETERS, type Hyperparameter } from './flags.js';
import { presetConfig, type ExperimentFlags } from './options.js';

export interface RunFlags extends ExperimentFlags {
  resume?: boolean;
  restart?: boolean;
}

/** What `train` runs: a new config from the flags, or the checkpoint's run continued. */
export interface Plan {
  config: Config;
  resume?: Checkpoint;
}

const shown = (v: unknown) => (v === null ? 'none' : String(v));

/** A new run's config (from the flags): refused over an unfinished run unless --restart. */
export function newRunConfig(config: Config, flags: RunFlags, checkpoint: Checkpoint | undefined, dir: string): Config {
  if (checkpoint && !flags.restart) {
    const { epochs } = checkpoint.state;
    throw new UserError(
      `${dir} holds an unfinished run (${epochs.length} of ${checkpoint.config.epochs} epochs done, seed ${checkpoint.config.seed}): continue it with: seq-tag train --resume --model-dir ${quotePath(dir)}, or start this run over it with --restart`,
    );
  }
  return config;
}

/**
 * Continues the checkpoint's run with its own config: flags repeated from the original command
 * must agree with it, except --epochs, which may extend the run.
 */
export function resumePlan(flags: RunFlags, given: (key: string) => boolean, checkpoint: Checkpoint | undefined, dir: string): Plan {
  if (flags.restart) throw new UserError('--resume continues the unfinished run and --restart discards it: give one', ExitCode.Usage);
  if (!checkpoint) throw new UserError(`--resume: ${dir} holds no unfinished run (no checkpoint); start a new run without --resume`);
  const saved = checkpoint.config;
  const disagree = (what: string, there: unknown, here: unknown) =>
    new UserError(
      `--resume continues the run in ${dir} as it was configured: ${what} ${shown(there)} there, ${shown(here)} here; drop ${what}, or start a new run with --restart`,
      ExitCode.Usage,
    );
  if (given('seed') && flags.seed !== saved.seed) throw disagree('--seed', saved.seed, flags.seed);
  const preset = given('preset') ? presetConfig(flags.preset) : undefined;
  for (const row of HYPERPARAMETERS as readonly Hyperparameter[]) {
    if (row.key === 'epochs') continue;
    const here = given(row.key) ? flags[row.key] : preset?.[row.key];
    if (here !== undefined && here !== saved[row.key]) throw disagree(given(row.key) ? flagName(row) : `--preset ${flags.preset}`, saved[row.key], here);
  }
  const done = checkpoint.state.epochs.length;
  const epochs = given('epochs') ? flags.epochs : saved.epochs;
  if (epochs < done)
    throw new UserError(`--resume: the run in ${dir} has done ${done} epochs already; --epochs ${epochs} would end it before that`, ExitCode.Usage);
  return { config: { ...saved, epochs }, resume: checkpoint };
}
