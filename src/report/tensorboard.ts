/**
 * TensorBoard logs of seq-tag's runs, laid out as keras.callbacks.TensorBoard lays them out:
 * `<logdir>/train` and `<logdir>/validation` with Keras's tags (`epoch_loss`, `epoch_accuracy`,
 * `epoch_learning_rate`, `batch_loss`), plus `<logdir>/held-out` (the evaluation after training)
 * and, in `<logdir>` itself, the run's HParams session (its flag values, how it ended), so that
 * TensorBoard's HParams dashboard compares runs. Each record is appended with one write, so a killed
 * run leaves files TensorBoard reads up to their last whole record. The bytes: ./tfevents.ts.
 */
import { accessSync, appendFileSync, constants, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describeFsError, UserError } from '../errors.js';
import { makeFolderSync } from '../storage/files.js';
import type { Divergence } from '../training/train.js';
import { divergenceText } from './render.js';
import { eventBytes, SESSION_STATUS, tfRecord, type EventContent, type HParamValue } from './tfevents.js';

/** One run folder's event file, opened with its file-version record, appended record by record. */
export class EventFile {
  readonly path: string;

  constructor(dir: string, now = Date.now()) {
    makeFolderSync(dir, '--logdir');
    // TensorBoard finds files by "tfevents" in the name; the suffix keeps two writers apart.
    this.path = join(dir, `events.out.tfevents.${Math.floor(now / 1000)}.${hostname()}.${process.pid}.${Math.floor(Math.random() * 1e9)}.v2`);
    this.write(0, { fileVersion: 'brain.Event:2' }, now);
  }

  /** One event at `step`: one record, one write. */
  write(step: number, content: EventContent, now = Date.now()): void {
    appendFileSync(this.path, tfRecord(eventBytes(now / 1000, step, content)));
  }
}

/** What seq-tag's epoch records become in TensorBoard (Keras's tags; steps are seq-tag's 1-based epochs). */
export interface EpochScalars {
  epoch: number;
  loss: number;
  lr: number;
  validation?: { loss: number; tokenAccuracy: number; exactMatch: number };
}

/** The held-out evaluation after training (loss is null for a model without one). */
export interface HeldOutScalars {
  loss: number | null;
  tokenAccuracy: number;
  exactMatch: number;
}

/** How a run ended, for its HParams session: a run stopped by the NaN guard or a crash failed; a pruned trial's status is unknown. */
export type RunEnd = 'ok' | 'diverged' | 'failed' | 'pruned';

const STATUS: Record<RunEnd, (typeof SESSION_STATUS)[keyof typeof SESSION_STATUS]> = {
  ok: SESSION_STATUS.success,
  diverged: SESSION_STATUS.failure,
  failed: SESSION_STATUS.failure,
  pruned: SESSION_STATUS.unknown,
};

/**
 * One run's logs in `logdir`: `train/` (epoch_loss, epoch_learning_rate, batch_loss), `validation/`
 * (epoch_loss, epoch_accuracy: token accuracy, epoch_exact_match), `held-out/` (loss, accuracy,
 * exact_match after training) and the HParams session in `logdir` itself. A run adds new event
 * files (a resumed run adds its own; TensorBoard joins them).
 */
export class TrainingLog {
  private readonly train: EventFile;
  private readonly session?: EventFile;
  /** The session's file when it is the logdir's root, which then also holds the metrics (see runMetrics). */
  private readonly root?: EventFile;
  private readonly runs = new Map<string, EventFile>();

  /**
   * Opens the files at once, so that an unusable DIR is said before training starts; `session`
   * starts the HParams session: the run's flag values and, for the seeds of one configuration, the
   * group TensorBoard aggregates them in.
   */
  constructor(
    readonly logdir: string,
    session?: { hparams: Record<string, HParamValue>; group?: string; metrics?: { group: string; tag: string }[] },
    started = Date.now(),
  ) {
    try {
      makeFolderSync(logdir, '--logdir');
      this.train = new EventFile(join(logdir, 'train'), started);
      if (session) {
        this.session = new EventFile(logdir, started);
        // A session at the logdir's root (train --logdir): TensorBoard 2.21 looks for its metrics in
        // "./train", which is no run, so the root's own file carries them too and an experiment names them.
        if (session.metrics) {
          this.root = this.session;
          this.session.write(0, { experiment: { hparams: session.hparams, metrics: session.metrics, time: started / 1000 } }, started);
        }
        const sessionStart = { hparams: session.hparams, groupName: session.group ?? '', startTime: started / 1000 };
        this.session.write(0, { sessionStart }, started);
      }
    } catch (err) {
      throw unwritable(logdir, err);
    }
  }

  /** `batch_loss` at `step`, the batch's number counted over the whole run (Keras's update_freq='batch'). */
  batch(step: number, loss: number): void {
    this.train.write(step, { scalars: { batch_loss: loss } });
  }

  epoch(e: EpochScalars): void {
    this.train.write(e.epoch, { scalars: { epoch_loss: e.loss, epoch_learning_rate: e.lr } });
    this.root?.write(e.epoch, { scalars: { 'train/epoch_loss': e.loss, 'train/epoch_learning_rate': e.lr } });
    if (!e.validation) return;
    const { loss, tokenAccuracy, exactMatch } = e.validation;
    this.run('validation').write(e.epoch, { scalars: { epoch_loss: loss, epoch_accuracy: tokenAccuracy, epoch_exact_match: exactMatch } });
    this.root?.write(e.epoch, {
      scalars: { 'validation/epoch_loss': loss, 'validation/epoch_accuracy': tokenAccuracy, 'validation/epoch_exact_match': exactMatch },
    });
  }

  /**
   * Where training diverged, as what it was: a `divergence` text says where and why, and when the
   * guard stopped the run inside that epoch, `epoch_loss` there is the loss it saw (NaN, or the
   * wasm backend's clip bound); a run that went on has its NaN epochs already.
   */
  diverged(d: Divergence, stopped: boolean): void {
    if (stopped) this.train.write(d.epoch, { scalars: { epoch_loss: d.loss } });
    this.train.write(d.epoch, { text: { tag: 'divergence', value: divergenceText(d, stopped) } });
  }

  /** The held-out evaluation, at the run's last epoch: the HParams dashboard's final metrics. */
  heldOut(epoch: number, e: HeldOutScalars): void {
    const scalars: Record<string, number> = { accuracy: e.tokenAccuracy, exact_match: e.exactMatch };
    if (e.loss !== null) scalars.loss = e.loss;
    this.run('held-out').write(epoch, { scalars });
    this.root?.write(epoch, { scalars: Object.fromEntries(Object.entries(scalars).map(([tag, v]) => [`held-out/${tag}`, v])) });
  }

  /** Ends the HParams session (an interrupted run, which will resume, is not ended). */
  end(how: RunEnd, now = Date.now()): void {
    this.session?.write(0, { sessionEnd: { status: STATUS[how], endTime: now / 1000 } }, now);
  }

  private run(name: string): EventFile {
    let file = this.runs.get(name);
    if (!file) this.runs.set(name, (file = new EventFile(join(this.logdir, name))));
    return file;
  }
}

/**
 * The metrics of a session at the logdir's root, as its own file holds them (group "", tags
 * "train/epoch_loss", "held-out/exact_match", …): train always, validation with a split, held-out after training.
 */
export function runMetrics(validation: boolean): { group: string; tag: string }[] {
  const tags = [
    'train/epoch_loss',
    'train/epoch_learning_rate',
    ...(validation ? ['validation/epoch_loss', 'validation/epoch_accuracy', 'validation/epoch_exact_match'] : []),
    'held-out/loss',
    'held-out/accuracy',
    'held-out/exact_match',
  ];
  return tags.map((tag) => ({ group: '', tag }));
}

/** Makes `logdir` (for sweep and tune), or says in one line why it cannot be written. */
export function openLogdir(logdir: string): string {
  makeFolderSync(logdir, '--logdir');
  try {
    accessSync(logdir, constants.W_OK);
  } catch (err) {
    throw unwritable(logdir, err);
  }
  return logdir;
}

function unwritable(logdir: string, err: unknown): UserError {
  // The folder walk's own refusal already names the path and what to do.
  if (err instanceof UserError) return err;
  return new UserError(`--logdir ${logdir}: cannot write TensorBoard logs there: ${describeFsError(err)}; give a folder you can write to`);
}

/**
 * Writes to the logs while they work: the logs are a view of the run, so the first failure (a full
 * disk) stops them, not the training or the sweep, and `warn` says so once, naming where.
 */
export function guardedLog<T>(logs: T | undefined, warn: (text: string) => void): (where: string, write: (logs: T) => void) => void {
  return (where, write) => {
    if (logs === undefined) return;
    try {
      write(logs);
    } catch (err) {
      logs = undefined;
      warn(`TensorBoard logging stopped at ${where}: ${err instanceof UserError ? err.message : describeFsError(err)}`);
    }
  };
}

/** A finished sweep or tune run, as its record gives it, with its flag values. */
export interface LoggedRun {
  label: string;
  seed: number;
  status: RunEnd;
  epochs: { epoch: number; loss: number; lr?: number; validation?: EpochScalars['validation'] }[];
  lr: number;
  divergence?: Divergence;
  evaluation?: HeldOutScalars;
  seconds: number;
  /** The configuration's flag values, without the seed: TensorBoard groups a configuration's seeds (the group is the label). */
  hparams: Record<string, HParamValue>;
}

/** The logger sweep and tune call with each new record (see guardedLog). */
export function runLogger(logdir: string, warn: (text: string) => void): (run: LoggedRun) => void {
  const log = guardedLog(openLogdir(logdir), warn);
  return (run) => log(`${run.label} · seed ${run.seed}`, (dir) => logRun(dir, run));
}

/** A label as a folder name: "answer 3: clipnorm 1.0" → "answer_3_clipnorm_1.0". */
export function runFolderName(label: string): string {
  return label.replace(/[^A-Za-z0-9._=+-]+/g, '_').replace(/^_+|_+$/g, '') || 'run';
}

/**
 * A finished sweep or tune run in `<logdir>/<label>/seed-<n>/` (its session in the group of its
 * configuration, train/, validation/, held-out/), all at once (a run's record arrives whole). A run folder already there is left as it
 * is, so running the same sweep again (it resumes) writes only the runs not logged yet. Returns
 * whether it wrote.
 */
export function logRun(logdir: string, run: LoggedRun, now = Date.now()): boolean {
  const dir = join(logdir, runFolderName(run.label), `seed-${run.seed}`);
  if (existsSync(dir)) return false;
  const log = new TrainingLog(dir, { hparams: run.hparams, group: run.label }, now - run.seconds * 1000);
  for (const e of run.epochs) log.epoch({ ...e, lr: e.lr ?? run.lr });
  const d = run.divergence;
  if (d) log.diverged(d, !run.epochs.some((e) => e.epoch === d.epoch));
  if (run.evaluation) log.heldOut(run.epochs.at(-1)?.epoch ?? 0, run.evaluation);
  log.end(run.status, now);
  return true;
}
