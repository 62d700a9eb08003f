import { Command } from 'commander';
import { evaluateData, evaluateOnHeldOut, HELD_OUT_SIZE } from '../training/experiment.js';
import { nextStep } from '../diagnosis/next-step.js';
import { plural, renderEvaluation } from '../report/render.js';
import { loadModel } from '../model/store.js';
import { parserOf, wholeNumber } from './flags.js';
import {
  addBackendOption,
  initCompute,
  addDataOption,
  addJsonOption,
  addModelOption,
  addSeedOption,
  modelPath,
  taskEncoding,
  userRows,
  type BackendFlag,
  type DataFlag,
  type ModelFlag,
  textModelNeedsData,
} from './options.js';
import { modelJson, modelLine, printJson, stdout } from './output.js';
import { FOREIGN_MODEL_SEED } from '../task/model-data.js';
import { dataSize, renderTextEvaluation } from '../report/text.js';

interface EvaluateFlags extends BackendFlag, ModelFlag, DataFlag {
  samples: number;
  seed?: number;
  json?: boolean;
}

export function evaluateCommand(): Command {
  const cmd = new Command('evaluate').description('score a saved model (seq-tag, TensorFlow.js or Keras) on held-out sequences against the no-skill baselines');
  addModelOption(cmd, 'the model: the folder train saved to, a TensorFlow.js Layers folder, or a Keras .keras or .h5 file');
  cmd.option('--samples <n>', 'held-out sequences', parserOf(wholeNumber(1, 1_000_000)), HELD_OUT_SIZE);
  addSeedOption(cmd, `seed of the held-out set (default: the training seed, whose held-out stream is unseen data; ${FOREIGN_MODEL_SEED} for other models)`);
  addDataOption(cmd, 'score it');
  addJsonOption(cmd, 'the metrics');
  addBackendOption(cmd);
  cmd.action(runEvaluate);
  return cmd;
}

async function runEvaluate(flags: EvaluateFlags): Promise<void> {
  const backend = await initCompute(flags);
  const path = modelPath(flags)!;
  const loaded = await loadModel(path);
  if (flags.data === undefined) textModelNeedsData(path, loaded.record, 'score it on tagged text with --data FILE');
  const scoring = { compile: loaded.compile, mask: loaded.description.mask };
  const data = flags.data === undefined ? undefined : await userRows(flags.data, loaded.description, loaded.record);
  const seed = data ? undefined : (flags.seed ?? loaded.record?.config.seed ?? FOREIGN_MODEL_SEED);
  const evaluation = data
    ? evaluateData(loaded.model, data, scoring)
    : evaluateOnHeldOut(loaded.model, taskEncoding(path, loaded.description), flags.samples, seed!, scoring);
  const { description } = loaded;
  const next = data ? undefined : nextStep({ bidirectional: description.recurrent?.bidirectional ?? false, encoding: description.encoding }, evaluation);
  if (flags.json) {
    printJson('evaluate', { backend, model: modelJson(path, loaded), config: loaded.record?.config, data: flags.data, seed, evaluation, nextStep: next });
    return;
  }
  const out = stdout();
  const style = out.style;
  const on = data
    ? `${dataSize(data)} of ${flags.data}${loaded.description.mask ? ' (padding masked)' : ''}`
    : `${plural(flags.samples, 'held-out sequence')} (seed ${seed})`;
  out.line(`${modelLine(path, loaded)}\nbackend ${backend.name} · ${on}\n`);
  out.line(data?.tagNames ? renderTextEvaluation(evaluation, style) : renderEvaluation(evaluation, style, { task: !data, loss: loaded.compile?.loss, next }));
}
