// `train --from FILE`: retrain a model someone else saved (a Keras .keras or .h5 file, a TensorFlow.js
// folder) on the user's .npz, or on the generated digit task when it is a model of it; with --fix,
// the doctor's fix for its loss and head applied first. Written back as a Keras file (or a tfjs folder).
import { readdir, stat } from 'node:fs/promises';
import type { BackendInfo } from '../model/backend.js';
import { loadModel, quotePath, type LoadedModel } from '../model/store.js';
import { EXPORTED, exportFormat, exportModel } from '../model/export.js';
import { prepareRetrain, runRetrain, type Retrain } from '../diagnosis/retrain.js';
import { nextStep } from '../diagnosis/next-step.js';
import { tagEntropy } from '../task/metrics.js';
import type { TrainingResult } from '../training/train.js';
import { terminalLossChart } from '../report/charts.js';
import { describeEngine, divergenceText, plural, renderEpoch, renderEvaluation, type Style } from '../report/render.js';
import { dataSize } from '../report/text.js';
import { VERSION } from '../version.js';
import { describeOptimizer } from '../config/config.js';
import { ExitCode, UserError } from '../errors.js';
import { initCompute, typedOverrides, type BackendFlag, type ExperimentFlags, type TextDataFlags } from './options.js';
import { batchProgress, modelJson, modelLine, onStop, printJson, setExitCode, signalExitCode, signalName, stderr, stdout, type StopRequest } from './output.js';
import { tagCounts } from './train-text.js';

export interface FromFlags extends ExperimentFlags, BackendFlag, TextDataFlags {
  from: string;
  fix?: boolean;
  reinit?: boolean;
  to?: string;
  force?: boolean;
  json?: boolean;
}

/** train's flags that have no meaning with --from (the file brings its model; its data is an .npz). */
const NOT_WITH_FROM = ['resume', 'restart', 'modelDir', 'threads', 'tagColumn', 'dataFormat', 'logdir', 'logBatches'];
/** Flags that only mean something with --from. */
export const ONLY_WITH_FROM = ['fix', 'reinit', 'to', 'force'];

const dashed = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Where the retrained model goes unless --to says: beside the file, "tagger.keras" → "tagger.retrained.keras" (or "….fixed.keras"). */
export function defaultTarget(from: string, fix: boolean): string {
  const stem = from.replace(/[/\\]+$/, '').replace(/\.(keras|h5|hdf5)$/i, '');
  return `${stem}.${fix ? 'fixed' : 'retrained'}.keras`;
}

/** Refuses what cannot be done before anything is read or trained: stray flags, a target that exists. */
async function checkFlags(flags: FromFlags, given: (flag: string) => boolean, to: string): Promise<void> {
  const stray = NOT_WITH_FROM.find((key) => given(key));
  if (stray) throw new UserError(`${dashed(stray)} does not apply with --from: the retrained model is written to --to (a Keras file)`, ExitCode.Usage);
  exportFormat(to);
  const existing = await stat(to).catch(() => undefined);
  if (existing?.isDirectory()) {
    if (/\.keras$/i.test(to)) throw new UserError(`--to ${to} is a folder; give a file name ending in .keras`, ExitCode.Usage);
    if ((await readdir(to)).length)
      throw new UserError(`--to ${to} is a folder that is not empty; choose a new or empty folder, or a file name ending in .keras`, ExitCode.Usage);
  } else if (existing && !flags.force)
    throw new UserError(
      `${to} exists; give another --to, or add --force to replace it (the old file stays whole until the new one is complete)`,
      ExitCode.Usage,
    );
}

/** `train --from FILE`: see the top of this file. */
export async function trainFrom(flags: FromFlags, given: (flag: string) => boolean): Promise<void> {
  const to = flags.to ?? defaultTarget(flags.from, flags.fix === true);
  await checkFlags(flags, given, to);
  const backend = await initCompute(flags);
  const loaded = await loadModel(flags.from, { allowNonFinite: true });
  let retrain: Retrain | undefined;
  const stop = onStop((signal) => stderr().line(`\nseq-tag: ${signalName(signal)}: stopping after this batch (nothing is written; ${to} is not touched)`));
  try {
    const { data, validationData, testData, fix, reinit } = flags;
    retrain = await prepareRetrain(loaded, { from: flags.from, data, validationData, testData, fix, reinit, overrides: typedOverrides(flags, given) });
    await trainAndWrite({ flags, loaded, retrain, to, stop }, backend);
  } finally {
    stop.dispose();
    if (retrain && retrain.model !== loaded.model) retrain.model.dispose();
    loaded.model.dispose();
  }
}

interface Run {
  flags: FromFlags;
  loaded: LoadedModel;
  retrain: Retrain;
  to: string;
  stop: StopRequest;
}

/** What the header says about the model, the fix and how it trains. */
function describeRun({ flags, loaded, retrain }: Run, backend: BackendInfo, style: Style): string {
  const { config, train, validation } = retrain;
  const validating = validation ? `, ${dataSize(validation)} validating` : '';
  const on = flags.data === undefined ? `${plural(train.n, 'generated sequence')} × 10` : `${dataSize(train)} of ${flags.data}`;
  const fix = !flags.fix
    ? []
    : [retrain.fix ? `fix (--fix): ${retrain.fix.what}` : 'fix (--fix): nothing to fix in its loss and head (seq-tag doctor checks the rest)'];
  const weights = flags.reinit ? `fresh weights from its initialisers (--reinit, seed ${config.seed})` : `its own weights`;
  const { compile, optimizer: own } = retrain;
  const loss = `${compile.loss}${compile.fromLogits ? ' (from logits)' : ''}${loaded.compile ? " (the file's)" : ' (assumed: the file holds no loss)'}`;
  const optimizer = own
    ? `${own.described} (${loaded.compile?.optimizer ? "the file's compile config" : "Keras's defaults: the file has no optimizer"})${own.dropped.length ? `; not run as Keras would: ${own.dropped.join('; ')}` : ''}`
    : `${describeOptimizer(config)} (set by the flags)`;
  return [
    `seq-tag ${VERSION} · backend ${style.bold(backend.name)} (${backend.reason}) · seed ${style.bold(String(config.seed))} · ${on}${validating}`,
    `from ${modelLine(flags.from, loaded)}`,
    ...fix,
    `training ${weights} · ${loss} · ${optimizer} · batch ${config.batchSize} · ${plural(config.epochs, 'epoch')} · ${describeEngine(config)}`,
  ].join('\n');
}

async function trainAndWrite(run: Run, backend: BackendInfo): Promise<void> {
  const { flags, loaded, retrain, to } = run;
  const { config, heldOut } = retrain;
  const out = stdout();
  const style = out.style;
  const say = (text: string) => {
    if (!flags.json) out.line(text);
  };
  say(describeRun(run, backend, style));
  say('');
  const progress = batchProgress(out, flags.json === true, config.epochs);
  const { result, evaluation } = await runRetrain(retrain, loaded, flags.from, {
    signal: run.stop.signal,
    onBatchEnd: (batch) => progress.batch(batch),
    onEpochEnd: (record) => {
      progress.clear();
      say(renderEpoch(record, config.epochs, style));
    },
  });
  progress.clear();
  const common = { backend, from: modelJson(flags.from, loaded), fix: retrain.fix, reinit: flags.reinit === true, config, epochs: result.epochs };
  if (!evaluation) return notWritten(run, result, common);
  const written = await exportModel({ ...loaded, model: retrain.model, compile: retrain.compile, nonFinite: [] }, to, flags.force === true);
  if (flags.json) {
    printJson('train', {
      ...common,
      trainSeconds: result.seconds,
      evaluation,
      heldOut: heldOut.label,
      saved: true,
      to,
      format: written.format,
      bytes: written.bytes,
    });
    return;
  }
  const floor = tagEntropy(tagCounts(retrain.train));
  const validation = result.epochs[0]?.validation ? result.epochs.map((e) => e.validation!.loss) : undefined;
  const chart = terminalLossChart(
    result.epochs.map((e) => e.loss),
    floor,
    out.columns,
    undefined,
    validation,
  );
  if (chart) say(`\n${chart}`);
  say(`\ntrained ${plural(result.epochs.length, 'epoch')} in ${result.seconds.toFixed(2)} s; held-out evaluation (${heldOut.label}):`);
  const { recurrent, encoding } = loaded.description;
  const next = flags.data === undefined ? nextStep({ bidirectional: recurrent?.bidirectional ?? false, encoding }, evaluation) : undefined;
  say(renderEvaluation(evaluation, style, { task: flags.data === undefined, loss: retrain.compile.loss, next }));
  const check = `seq-tag evaluate --model ${quotePath(to)}${flags.data === undefined ? '' : ` --data ${quotePath(flags.testData ?? flags.validationData ?? flags.data)}`}`;
  say(`\nsaved to ${to} (${EXPORTED[written.format]})\nnext: ${check}`);
}

/** A diverged or interrupted retrain: nothing is written, and the exit code says why. */
function notWritten(run: Run, result: TrainingResult, common: object): void {
  const { flags, stop, to } = run;
  const out = stdout();
  if (result.interrupted) setExitCode(stop.received ? signalExitCode(stop.received) : ExitCode.Interrupted);
  else setExitCode(ExitCode.Failed);
  if (flags.json) {
    printJson('train', { ...common, divergence: result.divergence, stopped: result.stopped, interrupted: result.interrupted, saved: false });
    return;
  }
  if (result.interrupted) {
    out.line(`interrupted at epoch ${result.interrupted.atEpoch} of ${run.retrain.config.epochs}: nothing written; ${to} is not touched`);
    return;
  }
  const d = result.divergence!;
  const doctor = `seq-tag doctor --model ${quotePath(flags.from)}${flags.data === undefined ? '' : ` --data ${quotePath(flags.data)}`}`;
  const hint = flags.fix ? `see why with: ${doctor}` : `see why with: ${doctor}; the fix it names for the loss and head is applied by adding --fix`;
  out.line(`\n${out.style.red(divergenceText(d, result.stopped))}\nnothing was written to ${to}; ${hint}`);
}
