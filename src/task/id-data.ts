// A run of seq-tag's own tagger on `.npz` files of word ids (np.savez(x=ids [n, T], y=tags)): the
// files' own ids are the vocabulary (0 = padding, masked) and their tag ids the tag list, so a model
// trained here reads the user's other `.npz` files, and Keras reads its export, with the same ids.
// Each file becomes the one internal form (a Corpus of ids) for the header, samples and scores.
import { ExitCode, UserError } from '../errors.js';
import { NPZ_TAGS, type DataRef, type DataSpec, type TextVocabulary } from '../config/config.js';
import { thousands } from '../shared/format.js';
import { tokenCount, type Corpus } from './corpus.js';
import { readDataFileOf, wordsInRow, type TagData } from './tag-data.js';
import type { Encoded } from './vocabulary.js';
// A type only: text-data.ts reads .npz runs through here.
import type { TextRun } from './text-data.js';

export const isNpz = (path: string) => /\.npz$/i.test(path);

export interface IdFiles {
  train: string;
  validation?: string;
  test?: string;
}

type Role = keyof IdFiles;
const FLAG: Record<Role, string> = { train: '--data', validation: '--validation-data', test: '--test-data' };

/** One file read: its data with empty rows dropped and labels under padding cleared, and its identity. */
interface IdFile {
  data: TagData;
  ref: DataRef;
  /** Rows with no word, dropped. */
  empty: number;
}

/**
 * The position of the first problem in a row of ids [n, T] with its tag ids, or undefined: a
 * word after padding (the tagger reads each row's words first, as seq-tag's own encoder writes
 * them), or a word without a tag. Labels under padding are masked, as Keras's Embedding(mask_zero) does.
 */
function rowProblem(d: TagData, r: number): string | undefined {
  const { x, labels, steps: T } = d;
  let words = 0;
  while (words < T && x[r * T + words] !== 0) words++;
  for (let t = words; t < T; t++)
    if (x[r * T + t] !== 0)
      return `x[${r}, ${t}] = ${x[r * T + t]} is a word after padding (x[${r}, ${words}] = 0); seq-tag's tagger reads each row's words first, then padding (0)`;
  for (let t = 0; t < words; t++)
    if (labels[r * T + t] < 0) return `y[${r}, ${t}] is padding (no tag) but x[${r}, ${t}] = ${x[r * T + t]} is a word; every word needs a tag`;
  return undefined;
}

/** Reads one `.npz`, checks its rows, drops rows with no word and clears labels under padding. */
async function readIdFile(path: string, flag: string, expected?: DataRef): Promise<IdFile> {
  const { data, bytes, sha256 } = await readDataFileOf(path);
  if (expected && expected.sha256 !== sha256)
    throw new UserError(
      `${path} has changed since the run started (SHA-256 ${sha256.slice(0, 12)}…, was ${expected.sha256.slice(0, 12)}…; ${bytes} bytes, were ${expected.bytes}); the run cannot continue on other data: start a new one with --restart`,
    );
  if (data.features !== null)
    throw new UserError(
      `${flag} ${path} holds features per step (x [${thousands(data.n)}, ${data.steps}, ${data.features}]); seq-tag's own tagger reads word ids (x [n, T], 0 = padding), and features train the model they were made for: train --from MODEL.keras --data ${path}`,
      ExitCode.Usage,
    );
  const T = data.steps;
  const kept: number[] = [];
  for (let r = 0; r < data.n; r++) {
    const problem = rowProblem(data, r);
    if (problem) throw new UserError(`${flag} ${path}: ${problem}`);
    if (data.x[r * T] !== 0) kept.push(r);
  }
  if (kept.length === 0) throw new UserError(`${flag} ${path} has no row with a word (every x is 0, padding)`);
  const x = new Float32Array(kept.length * T);
  const labels = new Int32Array(kept.length * T).fill(-1);
  kept.forEach((r, i) => {
    x.set(data.x.subarray(r * T, (r + 1) * T), i * T);
    for (let t = 0; t < T && data.x[r * T + t] !== 0; t++) labels[i * T + t] = data.labels[r * T + t];
  });
  return {
    data: { ...data, n: kept.length, x, labels, sentences: kept.length },
    ref: { path, format: 'npz', bytes, sha256 },
    empty: data.n - kept.length,
  };
}

/** The largest value of `x` (word ids). */
function largestId(x: Float32Array): number {
  let max = 0;
  for (const v of x) if (v > max) max = v;
  return max;
}

/**
 * `held`'s labels over the C tags the model outputs; a tag id past them (one the training data `trainedOn`
 * never has) is refused, by position, as is a word id past the vocabulary's V ids.
 */
function overTags(held: IdFile, flag: string, C: number, V: number, trainedOn: string): TagData {
  const d = held.data;
  const beyond = d.x.findIndex((v) => v >= V);
  if (beyond >= 0)
    throw new UserError(
      `${flag} ${d.source}: x[${Math.floor(beyond / d.steps)}, ${beyond % d.steps}] = ${d.x[beyond]}, but ${trainedOn} has word ids 0..${V - 1}; give data written with the same ids`,
    );
  const past = d.labels.findIndex((tag) => tag >= C);
  if (past >= 0)
    throw new UserError(
      `${flag} ${d.source}: y[${Math.floor(past / d.steps)}, ${past % d.steps}] is tag ${d.labels[past]}, which ${trainedOn} (tags 0..${C - 1}) never has, so the model cannot output it; fix the tag or train on data that has it`,
    );
  return { ...d, tags: C };
}

/** A file of ids in the one internal form: its words are the ids themselves, written as numbers. */
function corpusOf(file: IdFile, vocabulary: TextVocabulary): Corpus {
  const d = file.data;
  const T = d.steps;
  const starts = new Int32Array(d.n + 1);
  let tokens = 0;
  // Rows were checked (readIdFile): words first, then padding.
  for (let r = 0; r < d.n; r++) {
    tokens += wordsInRow(d.x, r, T);
    starts[r + 1] = tokens;
  }
  const words = new Int32Array(tokens);
  const tags = new Int32Array(tokens);
  for (let r = 0, k = 0; r < d.n; r++) {
    for (let t = 0; t < starts[r + 1] - starts[r]; t++, k++) {
      words[k] = d.x[r * T + t];
      tags[k] = d.labels[r * T + t];
    }
  }
  return {
    ...file.ref,
    format: 'npz',
    tagColumn: NPZ_TAGS,
    forms: vocabulary.words,
    tagNames: vocabulary.tags,
    words,
    tags,
    starts,
    lines: Int32Array.from({ length: d.n }, (_, r) => r + 1),
    skipped: { emptySentences: file.empty, docstarts: 0, multiwordTokens: 0, emptyNodes: 0, comments: 0 },
  };
}

/**
 * Reads the `.npz` files of a run: the vocabulary is ids 0..V − 1, V one more than the largest id
 * in any of them (ids the training file lacks keep their initial embedding, as in Keras), and the
 * tags are the training file's. A row longer than `maxLength` is refused (--max-length says how
 * long a sentence may be). `expected` (a resumed run, a worker) holds the files' SHA-256.
 */
export async function readIdRun(files: IdFiles, maxLength: number, expected?: DataSpec): Promise<TextRun> {
  const train = await readIdFile(files.train, FLAG.train, expected?.train);
  const validation = files.validation === undefined ? undefined : await readIdFile(files.validation, FLAG.validation, expected?.validation);
  const test = files.test === undefined ? undefined : await readIdFile(files.test, FLAG.test, expected?.test);
  const all = [train, validation, test].filter((f): f is IdFile => f !== undefined);
  const long = all.find((f) => f.data.steps > maxLength);
  if (long)
    throw new UserError(
      `${long.ref.path} has rows of ${long.data.steps} steps, longer than --max-length ${maxLength}; give --max-length ${long.data.steps} (or cut the rows)`,
      ExitCode.Usage,
    );
  const ids = Math.max(2, ...all.map((f) => largestId(f.data.x) + 1));
  const vocabulary: TextVocabulary = {
    words: Array.from({ length: ids }, (_, i) => (i === 0 ? '' : String(i))),
    tags: Array.from({ length: train.data.tags }, (_, c) => String(c)),
    minCount: 1,
    lowercase: false,
    maxLength,
    ids: true,
  };
  const corpora = { train: corpusOf(train, vocabulary), validation: validation && corpusOf(validation, vocabulary), test: test && corpusOf(test, vocabulary) };
  const encoded = (file: IdFile, role: Role): Encoded<TagData> => {
    const held = role === 'train' ? file.data : overTags(file, FLAG[role], train.data.tags, ids, `the training data (${train.ref.path})`);
    return { data: { ...held, tagNames: vocabulary.tags }, split: 0, unknown: 0, tokens: tokenCount(corpora[role]!) };
  };
  return {
    vocabulary,
    corpora,
    train: encoded(train, 'train'),
    validation: validation && encoded(validation, 'validation'),
    test: test && encoded(test, 'test'),
    spec: {
      train: train.ref,
      ...(validation ? { validation: validation.ref } : {}),
      ...(test ? { test: test.ref } : {}),
      tagColumn: NPZ_TAGS,
    },
  };
}

/**
 * An `.npz` of ids (`--data` of predict) as the one internal form, read through a text model's
 * vocabulary: its ids must be the model's (below its vocabulary's size) and its tags the model's.
 */
export async function readIdCorpus(path: string, vocabulary: TextVocabulary): Promise<Corpus> {
  const file = await readIdFile(path, '--data');
  const data = overTags(file, '--data', vocabulary.tags.length, vocabulary.words.length, 'the model');
  return corpusOf({ ...file, data }, vocabulary);
}
