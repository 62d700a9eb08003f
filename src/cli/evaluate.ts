import { Command } from 'commander';
import { initBackend } from '../model/backend.js';
import { asProbabilities } from '../model/describe.js';
import { evaluateOnHeldOut, HELD_OUT_SIZE } from '../training/experiment.js';
import { plural, renderEvaluation, styleFor } from '../report/render.js';
import { loadModel } from '../storage/model-store.js';
import { parserOf, wholeNumber } from './flags.js';
import { addBackendOption, addJsonOption, addModelOption, addSeedOption, modelPath, type BackendFlag, type ModelFlag } from './options.js';
import { modelJson, modelLine, printJson, stdout } from './output.js';

interface EvaluateFlags extends BackendFlag, ModelFlag {
  samples: number;
  seed?: number;
  json?: boolean;
}

/** Held-out seed for models seq-tag did not train: any stream is unseen data for them. */
const FOREIGN_MODEL_SEED = 1;

export function evaluateCommand(): Command {
  const cmd = new Command('evaluate').description('score a saved model (seq-tag, TensorFlow.js or Keras) on held-out sequences against the no-skill baselines');
  addModelOption(cmd, 'the model: the folder train saved to, a TensorFlow.js Layers folder, or a Keras .keras or .h5 file');
  cmd.option('--samples <n>', 'held-out sequences', parserOf(wholeNumber(1, 1_000_000)), HELD_OUT_SIZE);
  addSeedOption(cmd, `seed of the held-out set (default: the training seed, whose held-out stream is unseen data; ${FOREIGN_MODEL_SEED} for other models)`);
  addJsonOption(cmd, 'the metrics');
  addBackendOption(cmd);
  cmd.action(runEvaluate);
  return cmd;
}

async function runEvaluate(flags: EvaluateFlags): Promise<void> {
  const backend = await initBackend(flags.backend);
  const path = modelPath(flags)!;
  const loaded = await loadModel(path);
  const seed = flags.seed ?? loaded.record?.config.seed ?? FOREIGN_MODEL_SEED;
  const evaluation = evaluateOnHeldOut(asProbabilities(loaded.model, loaded.compile?.fromLogits), loaded.description, flags.samples, seed);
  if (flags.json) {
    printJson('evaluate', { backend, model: modelJson(path, loaded), config: loaded.record?.config, seed, evaluation });
    return;
  }
  const out = stdout();
  const style = styleFor(out.stream);
  out.line(`${modelLine(path, loaded)}\nbackend ${backend.name} · ${plural(flags.samples, 'held-out sequence')} (seed ${seed})\n`);
  out.line(renderEvaluation(evaluation, style));
}
