import { Command, InvalidArgumentError } from 'commander';
import { describeFsError, ExitCode, UserError } from '../errors.js';
import { initBackend } from '../model/backend.js';
import { asProbabilities } from '../model/describe.js';
import { datasetOf, parseDigitSequence } from '../task/data.js';
import { BadSequenceLine, sequenceBatches } from '../task/sequences-file.js';
import { fileChunks, NotReadable } from '../storage/files.js';
import { taskData } from '../task/tag-data.js';
import { tagFreshSequences } from '../training/experiment.js';
import { freshSeed } from '../shared/random.js';
import { plural, renderTagged, toJson } from '../report/render.js';
import { loadModel, type LoadedModel } from '../model/store.js';
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
import { modelJson, modelLine, printJson, stderr, stdout, stdin } from './output.js';

interface PredictFlags extends BackendFlag, ModelFlag, DataFlag {
  n: number;
  seed?: number;
  digits?: Int32Array[];
  input?: string;
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
    .option(
      '--digits <sequence>',
      'tag this sequence of 10 digits instead, e.g. "4 0 2 8 5 6 1 3 3 7" (repeat for more)',
      (v: string, all: Int32Array[] = []) => [...all, digitsArgument(v)],
    )
    .option(
      '--input <file>',
      'tag the sequences of a text file, one per line (- for stdin; blank and # lines skipped), streamed as they are read; prints one result per line (JSONL with --json); a line that is not a sequence stops it with its line number, after the lines before it are printed (exit 1)',
    )
    .option('--probs', 'also show P(repeated) at each position (a head that is not softmax: its raw outputs)');
  addDataOption(cmd, 'tag the first --n sequences');
  addJsonOption(cmd, 'the predictions');
  addBackendOption(cmd);
  cmd.action(runPredict);
  return cmd;
}

async function runPredict(flags: PredictFlags): Promise<void> {
  const sources = [flags.digits && '--digits', flags.data !== undefined && '--data', flags.input !== undefined && '--input'].filter(Boolean);
  if (sources.length > 1) throw new UserError(`give one of --digits, --data and --input, not ${sources.join(' and ')}`, ExitCode.Usage);
  const backend = await initBackend(flags.backend);
  const path = modelPath(flags)!;
  const loaded = await loadModel(path);
  const model = asProbabilities(loaded.model, loaded.compile?.fromLogits);
  const probability = probabilityHead(loaded.description, loaded.compile);
  if (flags.input !== undefined) return predictInput(flags, flags.input, { path, loaded, model, probability });
  const { mask } = loaded.description;
  const seed = flags.digits || flags.data ? undefined : (flags.seed ?? freshSeed());
  let tagged;
  if (flags.data) tagged = tagSequences(model, await userData(flags.data, loaded.description), probability, mask, flags.n);
  else {
    const encoding = taskEncoding(path, loaded.description);
    tagged = flags.digits
      ? tagSequences(model, taskData(datasetOf(flags.digits), encoding, 'typed'), probability, mask)
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
  const style = out.style;
  out.line(`${modelLine(path, loaded)} · backend ${backend.name}`);
  if (reading) out.line(style.dim(reading));
  const what = flags.data
    ? `${plural(tagged.length, 'sequence')} of ${flags.data}:\n`
    : flags.digits
      ? ''
      : `${plural(flags.n, 'fresh sequence')} (seed ${seed}):\n`;
  out.line(what);
  out.line(renderTagged(tagged, { probs: flags.probs, style, task: !flags.data, columns: out.columns }));
}

/** The bytes of --input: a regular file, or stdin for "-", read as they come. */
function inputChunks(path: string): AsyncIterable<Uint8Array> {
  return path === '-' ? stdin() : fileChunks(path);
}

/** Sequences tagged at a time: bounds memory, and wasm's slices copy the whole batch (measured: 20,001 lines 11.4 s in batches of 10,000). */
const INPUT_BATCH = 1_000;

/**
 * --input: one result per line on stdout (tab-separated text, or JSONL with --json), streamed a
 * batch at a time, so that memory stays bounded whatever the input's size; the model and the count
 * on stderr at the end. A bad line stops it after the results of the lines before it.
 */
async function predictInput(
  flags: PredictFlags,
  input: string,
  { path, loaded, model, probability }: { path: string; loaded: LoadedModel; model: LoadedModel['model']; probability: boolean },
): Promise<void> {
  const encoding = taskEncoding(path, loaded.description);
  const out = stdout();
  let count = 0;
  try {
    for await (const part of sequenceBatches(inputChunks(input), INPUT_BATCH)) {
      const tagged = tagSequences(model, taskData(part, encoding, input), probability, loaded.description.mask);
      // One write per batch: a line per write would be a system call per sequence.
      const lines = tagged.map((t) =>
        flags.json
          ? toJson(
              {
                digits: t.digits,
                truth: t.truth,
                predicted: t.predicted,
                ...(t.probs ? { probs: t.probs, probabilities: t.probabilities } : { outputs: t.outputs }),
              },
              0,
            )
          : [t.digits.join(' '), t.predicted.join(' '), ...(flags.probs && t.probs ? [t.probs.map((p) => p.toFixed(3)).join(' ')] : [])].join('\t'),
      );
      out.write(`${lines.join('\n')}\n`);
      count += part.n;
    }
  } catch (err) {
    if (err instanceof NotReadable)
      throw new UserError(`--input ${input} ${err.message}; give a text file with one sequence of 10 digits per line, or - for stdin`);
    if (err instanceof BadSequenceLine)
      throw new UserError(
        `--input ${input}: line ${err.line} (${JSON.stringify(err.text.slice(0, 60))}) is not a sequence of 10 digits 0-9${count ? ` (the ${plural(count, 'line')} before it ${count === 1 ? 'is' : 'are'} tagged above)` : ''}; write one per line, e.g. 4 0 2 8 5 6 1 3 3 7`,
      );
    if (err instanceof UserError) throw err;
    throw new UserError(`--input ${input} cannot be read: ${describeFsError(err)}; give a text file with one sequence of 10 digits per line, or - for stdin`);
  }
  if (!flags.json) stderr().line(`${modelLine(path, loaded)}: ${plural(count, 'sequence')} of ${input === '-' ? 'stdin' : input}`);
}
