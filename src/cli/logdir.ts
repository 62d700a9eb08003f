// `--logdir`: the TensorBoard writer (and protobufjs under it) is loaded only when a command is
// given one, so that every other start-up stays as fast as it was.
import type { Config } from '../config/config.js';
import type { TrainingLog } from '../report/tensorboard.js';
import type { RunRecord } from '../sweep/records.js';
import { flagValues } from './flags.js';
import { stderr } from './output.js';

const warn = (text: string) => stderr().line(`seq-tag: warning: ${text}`);

/** Writes to a run's logs while they work (see guardedLog); does nothing without --logdir. */
export type LogWriter = (where: string, write: (logs: TrainingLog) => void) => void;

/** `train --logdir`: the run's logs, opened (and its HParams session started) before training, so an unusable folder is said first. */
export async function openTrainingLog(logdir: string | undefined, config: Config): Promise<LogWriter> {
  if (logdir === undefined) return () => {};
  const tensorboard = await import('../report/tensorboard.js');
  const session = { hparams: flagValues(config), metrics: tensorboard.runMetrics(config.validationSplit > 0) };
  return tensorboard.guardedLog(new tensorboard.TrainingLog(logdir, session), warn);
}

/**
 * `sweep --logdir` and `tune --logdir`: each finished run's record, in its own run folder, its
 * HParams session in its configuration's group (so the seed, which only tells the group's runs
 * apart, is not one of its hyperparameters).
 */
export async function openRunLog(logdir: string | undefined): Promise<(record: RunRecord) => void> {
  if (logdir === undefined) return () => {};
  const log = (await import('../report/tensorboard.js')).runLogger(logdir, warn);
  return (record) => {
    const { seed: _, ...hparams } = flagValues(record.config);
    log({ ...record, lr: record.config.lr, hparams });
  };
}
