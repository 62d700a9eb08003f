import { Command } from 'commander';
import { initBackend } from '../model/backend.js';
import { evaluateOnHeldOut, HELD_OUT_SIZE } from '../training/experiment.js';
import { plural, renderEvaluation, styleFor } from '../report/render.js';
import { loadModel } from '../storage/model-store.js';
import { parserOf, wholeNumber } from './flags.js';
import { addBackendOption, addJsonOption, addModelOption, addSeedOption, type BackendFlag } from './options.js';
import { printJson, stdout } from './output.js';

interface EvaluateFlags extends BackendFlag {
  modelDir: string;
  samples: number;
  seed?: number;
  json?: boolean;
}

export function evaluateCommand(): Command {
  const cmd = new Command('evaluate').description('score a saved model on held-out sequences against the no-skill baselines');
  addModelOption(cmd, 'the folder train saved to');
  cmd.option('--samples <n>', 'held-out sequences', parserOf(wholeNumber(1, 1_000_000)), HELD_OUT_SIZE);
  addSeedOption(cmd, 'seed of the held-out set (default: the training seed, whose held-out stream is unseen data)');
  addJsonOption(cmd, 'the metrics');
  addBackendOption(cmd);
  cmd.action(runEvaluate);
  return cmd;
}

async function runEvaluate(flags: EvaluateFlags): Promise<void> {
  const backend = await initBackend(flags.backend);
  const { model, record } = await loadModel(flags.modelDir);
  const seed = flags.seed ?? record.config.seed;
  const evaluation = evaluateOnHeldOut(model, record.config, flags.samples, seed);
  if (flags.json) {
    printJson('evaluate', { backend, modelDir: flags.modelDir, config: record.config, seed, evaluation });
    return;
  }
  const out = stdout();
  const style = styleFor(out.stream);
  out.line(`model ${flags.modelDir} · backend ${backend.name} · ${plural(flags.samples, 'held-out sequence')} (seed ${seed})\n`);
  out.line(renderEvaluation(evaluation, style));
}
