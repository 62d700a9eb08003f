import { Command, InvalidArgumentError } from 'commander';
import { describeFsError, ExitCode, UserError } from '../errors.js';
import type { BackendInfo } from '../model/backend.js';
import { asProbabilities } from '../model/describe.js';
import { datasetOf, parseDigitSequence } from '../task/data.js';
import { BadSequenceLine, sequenceBatches } from '../task/sequences-file.js';
import { fileChunks, NotReadable } from '../storage/files.js';
import { taskData } from '../task/tag-data.js';
import { fusedPredictor, tagFreshSequences } from '../training/experiment.js';
import { freshSeed } from '../shared/random.js';
import { plural, renderTagged, toJson } from '../report/render.js';
import { loadModel, type LoadedModel } from '../model/store.js';
import { tagSequences, tagText } from '../task/tagging.js';
import type { TextVocabulary } from '../config/config.js';
import { readCorpus, sentencesOf } from '../task/corpus.js';
import { isNpz, readIdCorpus } from '../task/id-data.js';
import { invalidUtf8At, lines, LongLine } from '../task/lines.js';
import { renderTaggedSentences } from '../report/text.js';
import { parserOf, wholeNumber } from './flags.js';
import {
  addBackendOption,
  initCompute,
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
  textModelNeedsData,
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
  const backend = await initCompute(flags);
  const path = modelPath(flags)!;
  const loaded = await loadModel(path);
  if (loaded.record?.text) return predictText(flags, path, loaded, loaded.record.text, backend);
  const model = asProbabilities(loaded.model, loaded.compile?.fromLogits);
  const probability = probabilityHead(loaded.description, loaded.compile);
  if (flags.input !== undefined) return predictInput(flags, flags.input, { path, loaded, model, probability });
  const { mask } = loaded.description;
  const seed = flags.digits || flags.data ? undefined : (flags.seed ?? freshSeed());
  let tagged;
  if (flags.data) tagged = tagSequences(model, await userData(flags.data, loaded.description, loaded.record), probability, mask, flags.n);
  else {
    const encoding = taskEncoding(path, loaded.description);
    tagged = flags.digits
      ? tagWithFused(model, (fused) => tagSequences(model, taskData(datasetOf(flags.digits!), encoding, 'typed'), probability, mask, undefined, fused))
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
  // The fused engine's forward pass when it computes this model (its weights read once), else tf.layers.
  const fused = fusedPredictor(model, 'digits');
  try {
    for await (const part of sequenceBatches(inputChunks(input), INPUT_BATCH)) {
      const tagged = tagSequences(model, taskData(part, encoding, input), probability, loaded.description.mask, undefined, fused);
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
  } finally {
    fused?.dispose();
  }
  if (!flags.json) stderr().line(`${modelLine(path, loaded)}: ${plural(count, 'sequence')} of ${input === '-' ? 'stdin' : input}`);
}

/** Runs `tag` with the fused forward pass of a digit model the engine computes (else undefined: tf.layers), then frees it. */
function tagWithFused<T>(model: LoadedModel['model'], tag: (fused: ReturnType<typeof fusedPredictor>) => T): T {
  const fused = fusedPredictor(model, 'digits');
  try {
    return tag(fused);
  } finally {
    fused?.dispose();
  }
}

/**
 * A model trained on text: --input tags raw sentences (one per line, words split on spaces; - for
 * stdin), streamed a batch at a time, as word/TAG lines (JSONL with --json); --data shows the first
 * --n sentences of a tagged file with the right tag beside each wrong one.
 */
async function predictText(flags: PredictFlags, path: string, loaded: LoadedModel, vocabulary: TextVocabulary, backend: BackendInfo): Promise<void> {
  if (flags.digits) textModelNeedsData(path, loaded.record, 'give --input FILE (one sentence per line) or --data FILE, not --digits');
  if (flags.input === undefined && flags.data === undefined)
    textModelNeedsData(path, loaded.record, 'give --input FILE (one sentence per line, words split on spaces; - for stdin) or --data FILE (a tagged file)');
  // The fused engine's forward pass for a tagger it computes (its weights read once), else tf.layers.
  const fused = fusedPredictor(loaded.model, 'ids');
  if (flags.data !== undefined) {
    const corpus = isNpz(flags.data) ? await readIdCorpus(flags.data, vocabulary) : await readCorpus(flags.data);
    const { words, tags: truth } = sentencesOf(corpus, 0, flags.n);
    const first = words.length;
    const tagged = tagText(loaded.model, words, vocabulary, fused);
    if (flags.json) {
      printJson('predict', {
        backend,
        model: modelJson(path, loaded),
        data: flags.data,
        reading: 'probabilities',
        predictions: tagged.map((t, i) => ({ ...t, truth: truth[i] })),
      });
      return;
    }
    const out = stdout();
    out.line(`${modelLine(path, loaded)}\n${plural(first, 'sentence')} of ${flags.data} (a wrong tag shows the right one):\n`);
    out.line(renderTaggedSentences(tagged, { style: out.style, truth }));
    return;
  }
  const input = flags.input!;
  const out = stdout();
  let count = 0;
  let batch: string[][] = [];
  const flush = () => {
    if (!batch.length) return;
    const tagged = tagText(loaded.model, batch, vocabulary, fused);
    const lines = tagged.map((t) =>
      flags.json ? toJson({ tokens: t.words, tags: t.tags, confidence: t.confidence }, 0) : t.words.map((w, k) => `${w}/${t.tags[k]}`).join(' '),
    );
    out.write(`${lines.join('\n')}\n`);
    count += batch.length;
    batch = [];
  };
  const decoder = new TextDecoder();
  try {
    for await (const line of lines(inputChunks(input), 2 ** 20)) {
      const bad = invalidUtf8At(line.bytes);
      if (bad !== -1) {
        flush();
        throw new UserError(
          `--input ${input}:${line.number}: byte ${bad + 1} of the line (offset ${line.offset + bad} in the input) is not UTF-8${count ? ` (the ${plural(count, 'line')} before it ${count === 1 ? 'is' : 'are'} tagged above)` : ''}; convert it, e.g. iconv -f latin1 -t utf-8`,
        );
      }
      const text = decoder
        .decode(line.bytes)
        .replace(/^\ufeff/, '')
        .trim();
      batch.push(text === '' ? [] : text.split(/\s+/));
      if (batch.length === INPUT_BATCH) flush();
    }
    flush();
  } catch (err) {
    if (err instanceof UserError) throw err;
    if (err instanceof NotReadable) throw new UserError(`--input ${input} ${err.message}; give a text file with one sentence per line, or - for stdin`);
    if (err instanceof LongLine) throw new UserError(`--input ${input}:${err.number}: the line is longer than 1 MiB; give one sentence per line`);
    throw new UserError(`--input ${input} cannot be read: ${describeFsError(err)}; give a text file with one sentence per line, or - for stdin`);
  }
  if (!flags.json) stderr().line(`${modelLine(path, loaded)}: ${plural(count, 'sentence')} of ${input === '-' ? 'stdin' : input}`);
}
