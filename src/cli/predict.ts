import { Command, InvalidArgumentError } from 'commander';
import { initBackend } from '../model/backend.js';
import { asProbabilities } from '../model/describe.js';
import { labelRepeats, parseDigitSequence } from '../task/data.js';
import { tagFreshSequences } from '../training/experiment.js';
import { freshSeed } from '../task/random.js';
import { plural, renderTagged, styleFor } from '../report/render.js';
import { loadModel } from '../storage/model-store.js';
import { tagSequences } from '../task/tagging.js';
import { parserOf, wholeNumber } from './flags.js';
import { addBackendOption, addJsonOption, addModelOption, addSeedOption, modelPath, type BackendFlag, type ModelFlag } from './options.js';
import { modelJson, modelLine, printJson, stdout } from './output.js';

interface PredictFlags extends BackendFlag, ModelFlag {
  n: number;
  seed?: number;
  digits?: Int32Array;
  probs?: boolean;
  json?: boolean;
}

function digitsArgument(value: string): Int32Array {
  const digits = parseDigitSequence(value);
  if (!digits) throw new InvalidArgumentError('expected exactly 10 digits 0-9, e.g. "4 0 2 8 5 6 1 3 3 7".');
  return digits;
}

export function predictCommand(): Command {
  const cmd = new Command('predict').description('load a trained model (seq-tag, TensorFlow.js or Keras) and tag new sequences');
  addModelOption(cmd, 'the model: the folder train saved to, a TensorFlow.js Layers folder, or a Keras .keras or .h5 file');
  cmd.option('--n <count>', 'how many fresh sequences to tag', parserOf(wholeNumber(1, 10_000)), 5);
  addSeedOption(cmd, 'fixes which sequences are generated (default: a fresh one, printed)');
  cmd
    .option('--digits <sequence>', 'tag this sequence of 10 digits instead, e.g. "4 0 2 8 5 6 1 3 3 7"', digitsArgument)
    .option('--probs', 'also show P(repeated) at each position');
  addJsonOption(cmd, 'the predictions');
  addBackendOption(cmd);
  cmd.action(runPredict);
  return cmd;
}

async function runPredict(flags: PredictFlags): Promise<void> {
  const backend = await initBackend(flags.backend);
  const path = modelPath(flags)!;
  const loaded = await loadModel(path);
  const model = asProbabilities(loaded.model, loaded.compile?.fromLogits);
  const encoding = loaded.description.encoding;
  const seed = flags.seed ?? freshSeed();
  const tagged = flags.digits
    ? tagSequences(model, encoding, { n: 1, digits: flags.digits, labels: labelRepeats(flags.digits) })
    : tagFreshSequences(model, { encoding }, flags.n, seed);

  if (flags.json) {
    printJson('predict', { backend, model: modelJson(path, loaded), seed: flags.digits ? undefined : seed, predictions: tagged });
    return;
  }
  const out = stdout();
  const style = styleFor(out.stream);
  out.write(`${modelLine(path, loaded)} · backend ${backend.name}\n`);
  out.write(flags.digits ? '\n' : `${plural(flags.n, 'fresh sequence')} (seed ${seed}):\n\n`);
  out.write(`${renderTagged(tagged, { probs: flags.probs, style })}\n`);
}
