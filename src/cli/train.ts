import { Command, Option } from 'commander';
import type { BackendInfo } from '../model/backend.js';
import { validationCount, type Config } from '../config/config.js';
import { terminalLossChart } from '../report/charts.js';
import { formatDuration } from '../training/cost.js';
import { formatBytes } from '../shared/format.js';
import { diagnose } from '../diagnosis/diagnosis.js';
import {
  createExperiment,
  createTextExperiment,
  evaluateOnHeldOut,
  HELD_OUT_SIZE,
  runExperiment,
  tagFreshSequences,
  type Experiment,
} from '../training/experiment.js';
import { readTextFor, type TextRun } from '../task/text-data.js';
import { describeTextRun, textSize } from '../report/text.js';
import { textDiverged, textOutcome } from './train-text.js';
import type { Evaluation } from '../task/metrics.js';
import { labelEntropy } from '../task/metrics.js';

import { nextStep } from '../diagnosis/next-step.js';
import type { ModelSummary } from '../model/model.js';
import {
  describeEngine,
  describeExperiment,
  divergenceText,
  formatLoss,
  plural,
  renderDiagnosis,
  renderEpoch,
  renderEvaluation,
  renderSummary,
  renderTagged,
  plain,
  thousands,
  type Style,
} from '../report/render.js';
import { ModelFolder, modelRecord, quotePath, type ModelRecord } from '../model/store.js';
import type { Checkpoint } from '../storage/checkpoint.js';
import { batchProgress, ExitCode, onStop, printJson, signalExitCode, signalName, stderr, stdout, type StopRequest, setExitCode } from './output.js';
import { StateMismatch, type EpochRecord, type TrainingResult, type TrainingState } from '../training/train.js';
import { VERSION } from '../version.js';
import { UserError } from '../errors.js';
import { arithmeticFor, tagsWords, THREADS_FROM_UNITS } from '../training/fused/arithmetic.js';
import { parserOf, wholeNumber } from './flags.js';
import { openTrainingLog } from './logdir.js';
import {
  addBackendOption,
  initCompute,
  addExperimentOptions,
  addJsonOption,
  affordable,
  DEFAULT_MODEL_DIR,
  configFromFlags,
  givenOn,
  isCostly,
  addTextDataOptions,
  readTextOfFlags,
  type BackendFlag,
  type TextDataFlags,
} from './options.js';
import { newRunConfig, resumePlan, type Plan, type RunFlags } from './resume.js';
import { ONLY_WITH_FROM, trainFrom, type FromFlags } from './train-from.js';

const TEST_VIEW_SIZE = 5;

interface TrainFlags extends RunFlags, BackendFlag, TextDataFlags {
  modelDir: string;
  /** The name the reading commands use for the same flag. */
  model?: string;
  json?: boolean;
  threads?: number;
  logdir?: string;
  logBatches?: boolean;
}

export function trainCommand(): Command {
  const cmd = new Command('train').description('generate the data, train the tagger, show it on fresh sequences, save it');
  addExperimentOptions(cmd);
  addTextDataOptions(cmd);
  addBackendOption(cmd);
  cmd.option('--model-dir <path>', 'where to save the model (a new or empty folder, or one seq-tag saved to)', DEFAULT_MODEL_DIR);
  cmd.addOption(new Option('--model <path>', 'refused: train saves to --model-dir').hideHelp());
  cmd.option(
    '--threads <n>',
    `threads of the fused float32 engine: 2 runs a bidirectional model's directions in parallel (default: 2 from ${THREADS_FROM_UNITS} units; the same seed and threads give the same losses; other thread counts agree to about 1e-10, not bit for bit)`,
    parserOf(wholeNumber(1, 2)),
  );
  cmd.option(
    '--resume',
    'continue the unfinished run in --model-dir from its last completed epoch (after Ctrl-C, SIGTERM, a crash or a full disk): the same losses as a run never stopped',
  );
  cmd.option('--restart', 'start a new run in a --model-dir that holds an unfinished one, discarding its checkpoint');
  cmd.option(
    '--logdir <dir>',
    'also write TensorBoard event files there, as Keras does (train/, validation/ and held-out/ runs, and the flags for the HParams dashboard): tensorboard --logdir <dir>',
  );
  cmd.option('--log-batches', "with --logdir, also log every batch's loss (batch_loss, as Keras's update_freq='batch')");
  cmd.option(
    '--from <file>',
    'retrain a model saved by Keras (.keras, .h5) or TensorFlow.js (a folder): its architecture, weights and compile settings, on --data FILE.npz (or the digit task for a model of it); written to --to',
  );
  cmd.option('--fix', "with --from: apply the doctor's fix for its loss and head first (a softmax output layer, or from_logits dropped on a softmax head)");
  cmd.option('--reinit', 'with --from: train its architecture from fresh weights (its initialisers, seeded by --seed)');
  cmd.option(
    '--to <file>',
    'with --from: where the retrained model goes, a .keras or .h5 file or a new folder (default: beside it, NAME.retrained.keras or NAME.fixed.keras)',
  );
  cmd.option('--force', 'with --from: replace an existing --to file (the old one stays whole until the new one is complete)');
  addJsonOption(cmd, 'the config, per-epoch losses and predictions');
  cmd.action((flags: TrainFlags & Partial<FromFlags>) => {
    const given = givenOn(cmd);
    // --model names a model to read everywhere else; train writes one, to --model-dir.
    if (flags.model !== undefined) {
      throw new UserError(
        `train takes --model-dir (the folder to save the new model in), not --model ${quotePath(flags.model)}: to retrain a model saved by Keras or TensorFlow.js, use train --from ${quotePath(flags.model)}; to check or score a saved model, use seq-tag doctor or evaluate --model`,
        ExitCode.Usage,
      );
    }
    if (flags.from !== undefined) return trainFrom(flags as FromFlags, given);
    const only = ONLY_WITH_FROM.find((key) => given(key));
    if (only) throw new UserError(`--${only} needs --from FILE: it applies to retraining a model from a file`, ExitCode.Usage);
    return runTrain(flags, given);
  });
  return cmd;
}

/** What a finished run shows and records: its held-out scores, a sample of its tagging, the loss floor. */
interface Outcome {
  evaluation?: Evaluation;
  floor: number;
  sampleTitle: string;
  sample: string;
  /** The held-out section, heading included. */
  report: string;
  json: Record<string, unknown>;
}

/** The digit task's: 5 fresh sequences and 1,000 held-out ones, with the next step when it learned nothing. */
function taskOutcome({ model, config, data }: Experiment, style: Style, columns: number): Outcome {
  const tagged = tagFreshSequences(model, config.encoding, TEST_VIEW_SIZE, config.seed, config.activation === 'softmax');
  const evaluation = evaluateOnHeldOut(model, config.encoding, HELD_OUT_SIZE, config.seed);
  const next = nextStep(config, evaluation);
  return {
    evaluation,
    floor: labelEntropy(data.labels),
    sampleTitle: `${TEST_VIEW_SIZE} fresh sequences`,
    sample: renderTagged(tagged, { style, columns }),
    report: `held-out evaluation (${thousands(HELD_OUT_SIZE)} unseen sequences):\n${renderEvaluation(evaluation, style, { next })}`,
    json: { test: tagged, evaluation, nextStep: next },
  };
}

/** The header: what runs, where, with which seed. Shared by train and doctor. */
/** "early stopping: … kept epoch 9's weights (val loss 0.0160)". */
function renderEarlyStopping(stop: NonNullable<TrainingResult['earlyStopping']>, epochs: EpochRecord[], config: Config): string {
  const best = epochs[stop.bestEpoch - 1].validation!;
  const why = stop.stoppedAfter
    ? `no better validation loss in ${plural(config.earlyStopping!, 'epoch')}: stopped after epoch ${stop.stoppedAfter} of ${config.epochs}`
    : `ran all ${config.epochs} epochs`;
  return `early stopping: ${why}; kept the weights of epoch ${stop.bestEpoch}, the best (val loss ${formatLoss(best.loss)}, exact-match ${(100 * best.exactMatch).toFixed(1)}%)`;
}

/**
 * "resumed after epoch 7 (checkpoint of 2026-11-29 23:40 UTC)", and a note when what the losses
 * depend on changed: the backend under the layers engine, or the fused engine's threads.
 */
function resumedLine(resume: Checkpoint, backend: string, threads: number): string {
  const at = resume.savedAt.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
  const unlike = 'so the losses will not match an unstopped run bit for bit';
  const drift =
    resume.config.lstm === 'layers' && resume.backend !== backend
      ? `; note: it was written on the ${resume.backend} backend and continues on ${backend}, ${unlike}`
      : resume.threads !== undefined && resume.threads !== threads
        ? `; note: it trained on ${plural(resume.threads, 'thread')} and continues on ${threads} (--threads ${threads}), ${unlike}`
        : '';
  return `— resumed after epoch ${resume.state.epochs.length} (checkpoint of ${at})${drift} —`;
}

/** The fused engine's threads for this run: --threads, else those a resumed run trained on, else seq-tag's choice (undefined). */
function runThreads(flags: TrainFlags, config: Config, resume: Checkpoint | undefined): number | undefined {
  if (flags.threads !== undefined || resume?.threads === undefined) return flags.threads;
  return resume.threads === arithmeticFor(config).threads ? undefined : resume.threads;
}

/** " (4,800 training, 1,200 validation; early stopping, patience 3)" with a validation split. */
function validationText(config: Config, text?: TextRun): string {
  const total = text ? text.train.data.n : config.samples;
  const held = validationCount(total, config.validationSplit);
  const stopping =
    config.earlyStopping === null ? '' : `; early stopping, patience ${config.earlyStopping}${config.minDelta ? `, min delta ${config.minDelta}` : ''}`;
  return held
    ? ` (${thousands(total - held)} training, ${thousands(held)} validation${stopping})`
    : text?.validation && stopping
      ? ` (${stopping.slice(2)})`
      : '';
}

export function renderHeader(backend: BackendInfo, config: Config, summary: ModelSummary, style: Style, threads?: number, text?: TextRun): string {
  const size = text ? `${textSize(text)}${validationText(config, text)}` : `${plural(config.samples, 'sequence')} × 10${validationText(config)}`;
  return (
    `seq-tag ${VERSION} · backend ${style.bold(backend.name)} (${backend.reason}) · seed ${style.bold(String(config.seed))} · ` +
    `${size} · ${thousands(summary.trainableParams)} params\n` +
    (text ? describeTextRun(text).join('\n') + '\n' : '') +
    describeExperiment(config, threads, text?.vocabulary.tags.length)
  );
}

async function runTrain(flags: TrainFlags, given: (flag: string) => boolean): Promise<void> {
  if (flags.logBatches && flags.logdir === undefined)
    throw new UserError('--log-batches needs --logdir <dir>: the batch losses are TensorBoard logs written there');
  if (flags.resume && flags.data !== undefined)
    throw new UserError('--resume continues on the files the run started with (its checkpoint names them): drop --data', ExitCode.Usage);
  // A new run's flags and files are checked before the folder is touched; --resume reads its config from the folder.
  const text = flags.resume ? undefined : await readTextOfFlags(flags);
  const fresh = flags.resume ? undefined : configFromFlags(flags, given, text?.spec);
  // Text runs are bounded by their data (LIMITS.dataBytes); the estimate is of the digit task.
  if (fresh && !text) affordable(fresh);
  const folder = await ModelFolder.open(flags.modelDir);
  // Armed until the save is done: a Ctrl-C (or SIGTERM, SIGHUP) during the evaluation after training still saves.
  const stop = onStop((signal) =>
    stderr().line(
      `\nseq-tag: ${signalName(signal)}: stopping after this batch to save the last completed epoch (${signal === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit now without saving the model; the checkpoint of the last completed epoch stays for --resume)`,
    ),
  );
  try {
    // --restart discards the checkpoint unread: a damaged one must not stand in the way.
    const checkpoint = flags.restart && !flags.resume ? undefined : await folder.readCheckpoint();
    const plan: Plan = fresh ? { config: newRunConfig(fresh, flags, checkpoint, flags.modelDir) } : resumePlan(flags, given, checkpoint, flags.modelDir);
    if (flags.restart) await folder.removeCheckpoint();
    // A resumed run on text reads the files its config names, each checked against its SHA-256.
    const data = plan.config.data;
    await trainInto(folder, flags, plan, stop, text ?? (data && (await readTextFor({ ...plan.config, data }))));
  } catch (err) {
    // A checkpoint whose arrays are not those of the run its (checksummed) header describes.
    if (err instanceof StateMismatch)
      throw new UserError(
        `the checkpoint in ${flags.modelDir} does not fit the run it describes (${err.message}); it cannot be resumed: start a new run over it with: seq-tag train --restart --model-dir ${quotePath(flags.modelDir)}`,
      );
    throw err;
  } finally {
    stop.dispose();
    await folder.release();
  }
}

async function trainInto(folder: ModelFolder, flags: TrainFlags, { config, resume }: Plan, stop: StopRequest, text: TextRun | undefined): Promise<void> {
  // Opened before anything runs: an unusable --logdir is one line, not a lost run.
  const log = await openTrainingLog(flags.logdir, config);
  const { signal } = stop;
  // A resumed run continues on the backend that wrote its checkpoint unless told otherwise.
  const backend = await initCompute(flags, flags.backend === 'auto' && resume ? resume.backend : flags.backend);
  const out = stdout();
  const style = out.style;
  const say = (text: string) => {
    if (!flags.json) out.line(text);
  };
  const shownDir = quotePath(flags.modelDir);
  const hadModel = await folder.hasModel();
  const unchanged = hadModel ? `${flags.modelDir} is unchanged` : `nothing was written to ${flags.modelDir}`;

  const cost = text ? undefined : affordable(config, 1, backend.name);
  if (cost && isCostly(cost))
    say(
      style.yellow(
        `estimate: about ${formatDuration(cost.seconds)} and ${formatBytes(cost.bytes)} of memory for this run (rates measured on a 2-core machine; Ctrl-C saves the last completed epoch)`,
      ),
    );
  if (cost && cost.initSeconds > 2)
    say(
      `initialising the ${thousands(config.units)}-unit recurrent kernel${config.bidirectional ? 's' : ''} (orthogonal, about ${formatDuration(cost.initSeconds)})…`,
    );
  const experiment = text ? createTextExperiment(config, text) : createExperiment(config);
  const threads = runThreads(flags, config, resume);
  if (tagsWords(config) && threads !== undefined && threads > 1)
    throw new UserError(`--threads ${threads}: the fused engine runs a text tagger on one thread; drop --threads`, ExitCode.Usage);
  const threadsUsed = arithmeticFor(config, threads).threads;
  say(renderHeader(backend, config, experiment.summary, style, threads, text));
  say('');
  say(renderSummary(experiment.summary, style));
  say('');
  if (resume) {
    for (const record of resume.state.epochs) say(style.dim(renderEpoch(record, config.epochs, plain)));
    say(resumedLine(resume, backend.name, threadsUsed));
  }
  const resumes = resume ? [...(resume.resumes ?? []), resume.state.epochs.length] : undefined;
  const checkpoint = (state: TrainingState) =>
    folder.saveCheckpoint({
      config,
      backend: backend.name,
      savedAt: new Date().toISOString(),
      seqTagVersion: VERSION,
      state,
      resumes,
      threads: config.lstm === 'fused' ? threadsUsed : undefined,
    });
  const progress = batchProgress(out, flags.json === true, config.epochs);
  const result = await runExperiment(experiment, {
    signal,
    threads,
    resume: resume?.state,
    onCheckpoint: checkpoint,
    onBatchEnd: (batch) => {
      if (flags.logBatches)
        log(`epoch ${batch.epoch}, batch ${batch.batch}`, (logs) => logs.batch((batch.epoch - 1) * batch.batches + batch.batch, batch.loss));
      progress.batch(batch);
    },
    onEpochEnd: (record) => {
      log(`epoch ${record.epoch}`, (logs) => logs.epoch({ ...record, lr: record.lr ?? config.lr }));
      progress.clear();
      say(renderEpoch(record, config.epochs, style));
    },
  });
  progress.clear();

  if (result.divergence) {
    const d = result.divergence;
    log(`epoch ${d.epoch}`, (logs) => {
      logs.diverged(d, result.stopped);
      logs.end('diverged');
    });
    // A diverged model is never saved: whatever is in --model-dir stays as it was; its run cannot be continued.
    await folder.removeCheckpoint();
    if (text) return textDiverged(result, flags.json === true, { backend, config, summary: experiment.summary, unchanged });
    const diagnosis = diagnose(config, { trigger: result.divergence });
    setExitCode(ExitCode.Failed);
    if (flags.json) {
      printJson('train', {
        backend,
        config,
        summary: experiment.summary,
        epochs: result.epochs,
        divergence: result.divergence,
        stopped: result.stopped,
        saved: false,
        diagnosis,
      });
      return;
    }
    if (result.epochs.length) say('');
    say(style.red(divergenceText(result.divergence, result.stopped)));
    say(
      `the model was not saved; ${unchanged}. Diagnosis (fresh model with the same seed, ${diagnosis.checks.find((c) => c.id === 'loss')?.numbers.batches} training batches):`,
    );
    say('');
    say(renderDiagnosis(diagnosis, style, out.columns));
    return;
  }

  const record: ModelRecord = { ...modelRecord(config, backend.name, result, resumes), ...(text ? { text: text.vocabulary } : {}) };
  if (result.interrupted) {
    setExitCode(stop.received ? signalExitCode(stop.received) : ExitCode.Interrupted);
    const at = `${stop.received ? `${signalName(stop.received)}: ` : ''}interrupted at epoch ${result.interrupted.atEpoch} of ${config.epochs}`;
    if (result.epochs.length === 0) {
      if (flags.json) printJson('train', { backend, config, epochs: [], interrupted: result.interrupted, saved: false });
      else say(`${at}, before any epoch completed: nothing saved; ${unchanged}`);
      return;
    }
    await folder.save(experiment.model, { ...record, interrupted: { atEpoch: result.interrupted.atEpoch, epochs: config.epochs } });
    const again = `seq-tag train --resume --model-dir ${shownDir}`;
    if (flags.json)
      printJson('train', { backend, config, epochs: result.epochs, interrupted: result.interrupted, saved: true, modelDir: flags.modelDir, resume: again });
    else say(`${at}: saved the model of epoch ${result.epochs.length} to ${flags.modelDir}; continue the run with: ${again}`);
    return;
  }

  const outcome = text ? textOutcome(experiment.model, text, config, style) : taskOutcome(experiment, style, out.columns);
  const evaluation = outcome.evaluation;
  if (evaluation)
    log('the held-out evaluation', (logs) => {
      logs.heldOut(result.epochs.at(-1)!.epoch, evaluation);
      logs.end('ok');
    });
  await folder.save(experiment.model, record).catch((err: unknown) => {
    if (!(err instanceof UserError)) throw err;
    throw new UserError(`${err.message}; the run's last checkpoint is kept: make room and finish it with: seq-tag train --resume --model-dir ${shownDir}`);
  });
  await folder.removeCheckpoint();

  if (flags.json) {
    printJson('train', {
      backend,
      config,
      summary: experiment.summary,
      epochs: result.epochs,
      trainSeconds: result.seconds,
      engine: describeEngine(config, threads),
      saved: true,
      modelDir: flags.modelDir,
      ...outcome.json,
      earlyStopping: result.earlyStopping,
      ...(resumes ? { resumedAfter: resumes } : {}),
    });
    return;
  }
  const chart = terminalLossChart(
    result.epochs.map((e) => e.loss),
    outcome.floor,
    out.columns,
    undefined,
    result.epochs[0]?.validation ? result.epochs.map((e) => e.validation!.loss) : undefined,
  );
  if (chart) say(`\n${chart}`);
  if (result.earlyStopping) say(`\n${renderEarlyStopping(result.earlyStopping, result.epochs, config)}`);
  say('');
  say(`trained ${plural(result.epochs.length, 'epoch')} in ${result.seconds.toFixed(2)} s; ${outcome.sampleTitle}:`);
  say('');
  say(outcome.sample);
  say('');
  say(outcome.report);
  say('');
  say(`saved to ${flags.modelDir}  (next: seq-tag predict --model ${shownDir})`);
}
