import { Command, Option } from 'commander';
import { initBackend } from '../backend.js';
import { evaluateOnHeldOut, HELD_OUT_SIZE } from '../experiment.js';
import { renderEvaluation, styleFor, thousands, toJson } from '../render.js';
import { loadModel } from '../storage.js';
import { VERSION } from '../version.js';
import { addBackendOption, wholeNumber, type BackendFlag } from './options.js';
import { DEFAULT_MODEL_DIR } from './train.js';

interface EvaluateFlags extends BackendFlag {
  modelDir: string;
  samples: number;
  seed?: number;
  json?: boolean;
}

export function evaluateCommand(): Command {
  const cmd = new Command('evaluate').description('score a saved model on held-out sequences against the no-skill baselines');
  cmd
    .option('--model-dir <path>', 'the folder train saved to', DEFAULT_MODEL_DIR)
    .option('--samples <n>', 'held-out sequences', wholeNumber(1, 1_000_000), HELD_OUT_SIZE)
    .option('--seed <n>', 'seed of the held-out set (default: the training seed, whose held-out stream is unseen data)', wholeNumber(0, 2 ** 31 - 1))
    .addOption(new Option('--json', 'print the metrics as one JSON document'));
  addBackendOption(cmd);
  cmd.action(runEvaluate);
  return cmd;
}

async function runEvaluate(flags: EvaluateFlags): Promise<void> {
  const backend = await initBackend(flags.backend);
  const { model, record } = await loadModel(flags.modelDir);
  const seed = flags.seed ?? record.config.seed;
  const evaluation = evaluateOnHeldOut(model, record.config, flags.samples, seed);
  const out = process.stdout;
  if (flags.json) {
    out.write(`${toJson({ command: 'evaluate', seqTagVersion: VERSION, backend, modelDir: flags.modelDir, config: record.config, seed, evaluation })}\n`);
    return;
  }
  const style = styleFor(out);
  out.write(`model ${flags.modelDir} · backend ${backend.name} · ${thousands(flags.samples)} held-out sequences (seed ${seed})\n\n`);
  out.write(`${renderEvaluation(evaluation, style)}\n`);
}
