// Words to ids and back: the vocabulary and the tag list are built from the training corpus only,
// saved with the model, and every other text (validation, test, raw sentences to tag) goes
// through them, so an id means the same word in training, scoring and prediction.
import { UserError } from '../errors.js';
import { formatBytes, thousands } from '../shared/format.js';
import { LIMITS } from '../shared/limits.js';
import { sentenceCount, type Corpus } from './corpus.js';
import type { PackedRows, Rows } from './tag-data.js';
import type { TextVocabulary } from '../config/config.js';
export type { TextVocabulary };

/** Id 0 is padding (masked: Embedding(mask_zero=True)); id 1 every word the vocabulary lacks. */
export const PAD_ID = 0;
export const UNKNOWN_ID = 1;
export const UNKNOWN_WORD = '<unk>';
/** The mask a text model reads its padding with (Keras's Embedding(mask_zero=True)). */
export const PADDING_MASK = { of: 'ids', value: PAD_ID } as const;

export interface VocabularyOptions {
  minCount: number;
  lowercase: boolean;
  maxLength: number;
}

/**
 * The vocabulary of a training corpus: every form seen at least `minCount` times (lowercased when
 * asked), most frequent first (ties in code-point order, so the ids do not depend on sentence
 * order), after padding and <unk>; the tags in code-point order.
 */
export function buildVocabulary(corpus: Corpus, options: VocabularyOptions): TextVocabulary {
  const counts = new Map<string, number>();
  const formCounts = new Float64Array(corpus.forms.length);
  for (const w of corpus.words) formCounts[w]++;
  corpus.forms.forEach((form, id) => {
    const key = options.lowercase ? form.toLowerCase() : form;
    counts.set(key, (counts.get(key) ?? 0) + formCounts[id]);
  });
  const kept = [...counts].filter(([, c]) => c >= options.minCount);
  kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const used = new Set<number>(corpus.tags);
  const tags = [...used].map((t) => corpus.tagNames[t]).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  // Only these fields: the vocabulary is saved in the model's JSON metadata, which takes no undefined.
  const { minCount, lowercase, maxLength } = options;
  return { words: ['', UNKNOWN_WORD, ...kept.map(([w]) => w)], tags, minCount, lowercase, maxLength };
}

/** A word's id in `vocabulary` (UNKNOWN_ID if it lacks it). */
export function wordIds(vocabulary: TextVocabulary): (word: string) => number {
  const ids = new Map(vocabulary.words.map((w, i) => [w, i]));
  ids.delete('');
  ids.delete(UNKNOWN_WORD);
  return (word) => ids.get(vocabulary.lowercase ? word.toLowerCase() : word) ?? UNKNOWN_ID;
}

/** How a corpus became model inputs: pieces of long sentences, and words the vocabulary lacked. */
export interface Encoded<D extends Rows = Rows> {
  data: D;
  /** Sentences longer than maxLength, each split into pieces. */
  split: number;
  /** Words (tokens) mapped to <unk>. */
  unknown: number;
  tokens: number;
}

/**
 * A corpus as packed rows (./tag-data.ts: ids and tag ids of each sentence, without padding; a
 * sentence longer than maxLength as several rows). `role` names the flag in messages. Refuses a
 * tag the vocabulary's tag list lacks (naming it, its line and the training file) and data that
 * would not fit in LIMITS.dataBytes, counted before anything is allocated.
 */
export function encodeCorpus(corpus: Corpus, vocabulary: TextVocabulary, role: string, trainedOn?: string): Encoded<PackedRows> {
  const id = wordIds(vocabulary);
  const tagIds = corpus.tagNames.map((name) => vocabulary.tags.indexOf(name));
  const max = vocabulary.maxLength;
  const sentences = sentenceCount(corpus);
  let n = 0;
  let steps = 0;
  let split = 0;
  for (let s = 0; s < sentences; s++) {
    const length = corpus.starts[s + 1] - corpus.starts[s];
    n += Math.ceil(length / max);
    if (length > max) split++;
    steps = Math.max(steps, Math.min(length, max));
    for (let k = corpus.starts[s]; k < corpus.starts[s + 1]; k++) {
      if (tagIds[corpus.tags[k]] === -1)
        throw new UserError(
          `${corpus.path}:${corpus.lines[s]}: tag ${JSON.stringify(corpus.tagNames[corpus.tags[k]])} (sentence ${thousands(s + 1)}) never occurs in ${trainedOn ? `the training data (${trainedOn})` : 'the data the model was trained on'}, so the model cannot output it; fix the tag or train on data that has it`,
        );
    }
  }
  const tokens = corpus.words.length;
  // Ids and tag ids a word, and each row's offset.
  const bytes = tokens * (4 + 4) + (n + 1) * 4;
  if (bytes > LIMITS.dataBytes)
    throw new UserError(
      `${role} ${corpus.path} would take ${formatBytes(bytes)} in memory (${thousands(tokens)} words as ids and tag ids), more than the ${formatBytes(LIMITS.dataBytes)} seq-tag holds; split the file`,
    );
  // Each form's id looked up once, not once a word.
  const formIds = Int32Array.from(corpus.forms, id);
  const ids = new Int32Array(tokens);
  const labels = new Int32Array(tokens);
  const starts = new Int32Array(n + 1);
  let unknown = 0;
  for (let k = 0; k < tokens; k++) {
    ids[k] = formIds[corpus.words[k]];
    if (ids[k] === UNKNOWN_ID) unknown++;
    labels[k] = tagIds[corpus.tags[k]];
  }
  let row = 0;
  for (let s = 0; s < sentences; s++)
    for (let from = corpus.starts[s]; from < corpus.starts[s + 1]; from += max) starts[++row] = Math.min(from + max, corpus.starts[s + 1]);
  const data: PackedRows = {
    n,
    steps,
    features: null,
    starts,
    ids,
    labels,
    tags: vocabulary.tags.length,
    source: corpus.path,
    tagNames: vocabulary.tags,
    sentences,
  };
  return { data, split, unknown, tokens };
}

/**
 * Raw sentences (words split on spaces) as ids [n, steps] for the model to tag: words the
 * vocabulary lacks are <unk>; a sentence longer than maxLength is tagged in pieces.
 */
export function encodeSentences(sentences: string[][], vocabulary: TextVocabulary): { x: Float32Array; n: number; steps: number; pieces: number[] } {
  const id = wordIds(vocabulary);
  const max = vocabulary.maxLength;
  const pieces = sentences.map((s) => Math.max(1, Math.ceil(s.length / max)));
  const n = pieces.reduce((a, b) => a + b, 0);
  let steps = 1;
  for (const s of sentences) steps = Math.max(steps, Math.min(s.length, max));
  const x = new Float32Array(n * steps);
  let row = 0;
  for (const words of sentences) {
    for (let from = 0; from < Math.max(words.length, 1); from += max, row++) {
      for (let k = from; k < Math.min(from + max, words.length); k++) x[row * steps + k - from] = id(words[k]);
    }
  }
  return { x, n, steps, pieces };
}
