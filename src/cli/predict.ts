import { Command, InvalidArgumentError } from 'commander';
import { ExitCode, UserError } from '../errors.js';
import { initBackend } from '../model/backend.js';
import { asProbabilities } from '../model/describe.js';
import { labelRepeats, parseDigitSequence } from '../task/data.js';
import { taskData } from '../task/tag-data.js';
import { tagFreshSequences } from '../training/experiment.js';
import { freshSeed } from '../task/random.js';
import { plural, renderTagged, styleFor } from '../report/render.js';
import { loadModel } from '../storage/model-store.js';
import { tagSequences } from '../task/tagging.js';
import { parserOf, wholeNumber } from './flags.js';
import {
  addBackendOption,
  addDataOption,
  addJsonOption,
  addModelOption,
  addSeedOption,
  modelPath,
  probabilityHead,
  taskEncoding,
  userData,
  type BackendFlag,
  type DataFlag,
  type ModelFlag,
} from './options.js';
import { modelJson, modelLine, printJson, stdout } from './output.js';

interface PredictFlags extends BackendFlag, ModelFlag, DataFlag {
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
    .option('--probs', 'also show P(repeated) at each position (a head that is not softmax: its raw outputs)');
  addDataOption(cmd, 'tag the first --n sequences');
  addJsonOption(cmd, 'the predictions');
  addBackendOption(cmd);
  cmd.action(runPredict);
  return cmd;
}

async function runPredict(flags: PredictFlags): Promise<void> {
  if (flags.digits && flags.data !== undefined) throw new UserError('give --digits or --data, not both', ExitCode.Usage);
  const backend = await initBackend(flags.backend);
  const path = modelPath(flags)!;
  const loaded = await loadModel(path);
  const model = asProbabilities(loaded.model, loaded.compile?.fromLogits);
  const probability = probabilityHead(loaded.description, loaded.compile);
  const { mask } = loaded.description;
  const seed = flags.digits || flags.data ? undefined : (flags.seed ?? freshSeed());
  let tagged;
  if (flags.data) tagged = tagSequences(model, await userData(flags.data, loaded.description), probability, mask, flags.n);
  else {
    const encoding = taskEncoding(path, loaded.description);
    tagged = flags.digits
      ? tagSequences(model, taskData({ n: 1, digits: flags.digits, labels: labelRepeats(flags.digits) }, encoding, 'typed'), probability, mask)
      : tagFreshSequences(model, encoding, flags.n, seed!, probability);
  }
  const reading = probability
    ? undefined
    : `${loaded.description.head} head: raw outputs, not probabilities; tags are their argmax, as Keras's users read them`;

  if (flags.json) {
    printJson('predict', { backend, model: modelJson(path, loaded), seed, data: flags.data, reading: reading ?? 'probabilities', predictions: tagged });
    return;
  }
  const out = stdout();
  const style = styleFor(out.stream);
  out.write(`${modelLine(path, loaded)} · backend ${backend.name}\n`);
  if (reading) out.write(`${style.dim(reading)}\n`);
  const what = flags.data
    ? `${plural(tagged.length, 'sequence')} of ${flags.data}:\n\n`
    : flags.digits
      ? '\n'
      : `${plural(flags.n, 'fresh sequence')} (seed ${seed}):\n\n`;
  out.write(what);
  out.write(`${renderTagged(tagged, { probs: flags.probs, style, task: !flags.data })}\n`);
}
