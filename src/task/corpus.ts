// A user's tagged text, whatever its format (CoNLL-U, CoNLL-2000/2003 columns, word/TAG per line),
// read once into one internal form: words and tags interned, sentence after sentence in flat
// arrays. Everything after this (vocabulary, ids, training, scoring) reads only that form.
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { describeFsError, ExitCode, UserError } from '../errors.js';
import { formatBytes, thousands } from '../shared/format.js';
import { LIMITS } from '../shared/limits.js';
import { fileChunks, NotReadable } from '../storage/files.js';
import { invalidUtf8At, lines, LongLine } from './lines.js';

export const CORPUS_FORMATS = ['conllu', 'conll', 'word-tag'] as const;
export type CorpusFormat = (typeof CORPUS_FORMATS)[number];

export const FORMAT_NAMES: Record<CorpusFormat | 'npz', string> = {
  conllu: 'CoNLL-U',
  conll: 'CoNLL columns',
  'word-tag': 'word/TAG per line',
  npz: 'NumPy .npz of word ids',
};

/** Which column holds the tag: CoNLL-U's upos or xpos, or a column number (1-based) of a CoNLL file. */
export type TagColumn = 'upos' | 'xpos' | number;

export interface CorpusOptions {
  /** Told by the extension (.conllu) or the content when not given. */
  format?: CorpusFormat;
  tagColumn?: TagColumn;
  /** Tests lower it; the default is LIMITS.corpusBytes. */
  maxBytes?: number;
}

/** What the file held besides sentences, counted for the header. */
export interface Skipped {
  /** Blank lines of a word/TAG file, or a sentence left with no word (only multi-word or empty-node lines). */
  emptySentences: number;
  /** CoNLL-2003's -DOCSTART- lines. */
  docstarts: number;
  /** CoNLL-U's multi-word token lines (1-2 …): their words are on the lines that follow. */
  multiwordTokens: number;
  /** CoNLL-U's empty nodes (5.1 …) of enhanced dependencies: not words of the sentence. */
  emptyNodes: number;
  comments: number;
}

/**
 * A tagged corpus in seq-tag's one internal form. Sentence i is positions starts[i] .. starts[i+1]
 * − 1 of `words` and `tags`, which index `forms` and `tagNames` (interned as read).
 */
export interface Corpus {
  path: string;
  /** Text, or an .npz of ids read as text's internal form (./id-data.ts). */
  format: CorpusFormat | 'npz';
  /** The column the tags were read from ("upos", "xpos", "4"; word/TAG: "tag"). */
  tagColumn: string;
  bytes: number;
  sha256: string;
  forms: string[];
  tagNames: string[];
  words: Int32Array;
  tags: Int32Array;
  starts: Int32Array;
  /** The line each sentence starts on (1-based), for messages. */
  lines: Int32Array;
  skipped: Skipped;
}

export const sentenceCount = (c: Corpus) => c.starts.length - 1;

/** The words and tags of sentences first .. first + count − 1 (as many as there are). */
export function sentencesOf(c: Corpus, first: number, count: number): { words: string[][]; tags: string[][] } {
  const words: string[][] = [];
  const tags: string[][] = [];
  for (let s = first; s < Math.min(first + count, sentenceCount(c)); s++) {
    words.push(Array.from(c.words.subarray(c.starts[s], c.starts[s + 1]), (w) => c.forms[w]));
    tags.push(Array.from(c.tags.subarray(c.starts[s], c.starts[s + 1]), (t) => c.tagNames[t]));
  }
  return { words, tags };
}
export const tokenCount = (c: Corpus) => c.starts[c.starts.length - 1];

/** The longest line read: a CoNLL line is a word and its columns; a word/TAG line, a whole sentence. */
const MAX_LINE = 2 ** 20;

/** A growable Int32Array: the corpus's flat arrays. */
class Ints {
  values = new Int32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.values.length) {
      const grown = new Int32Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = v;
  }
  done(): Int32Array {
    return this.values.slice(0, this.length);
  }
}

class Interner {
  readonly ids = new Map<string, number>();
  readonly names: string[] = [];
  id(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }
}

/** Raised inside the readers with the line at fault; readCorpus adds the file's name. */
class Bad extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/** The format by extension, else by the first line that holds a word. */
export function detectFormat(path: string, firstLine: string | undefined): CorpusFormat {
  if (extname(path).toLowerCase() === '.conllu') return 'conllu';
  if (firstLine === undefined) return 'conll';
  const fields = firstLine.split('\t');
  if (fields.length === 10 && /^\d+([-.]\d+)?$/.test(fields[0])) return 'conllu';
  const tokens = firstLine.trim().split(/\s+/);
  if (tokens.every((t) => t.lastIndexOf('/') > 0 && t.lastIndexOf('/') < t.length - 1) && !firstLine.includes('\t')) return 'word-tag';
  return 'conll';
}

const CONLLU_COLUMNS = 'ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC';

/** A reader takes the decoded lines of one format and adds sentences to the builder. */
interface Builder {
  word(form: string, tag: string, line: number): void;
  /** Ends the sentence under way (nothing if empty); `line` is where the next one may start. */
  end(): void;
  skipped: Skipped;
}

function conlluReader(b: Builder, tagColumn: TagColumn | 'last'): (text: string, n: number) => void {
  if (typeof tagColumn === 'number') throw new UserError(`--tag-column ${tagColumn}: a CoNLL-U file takes --tag-column upos or xpos`, ExitCode.Usage);
  const column = tagColumn === 'xpos' ? 4 : 3;
  const named = tagColumn === 'xpos' ? 'xpos' : 'upos';
  let wordsInSentence = 0;
  let hidden = false;
  return (text, n) => {
    if (text.trim() === '') {
      if (wordsInSentence === 0 && hidden) b.skipped.emptySentences++;
      b.end();
      wordsInSentence = 0;
      hidden = false;
      return;
    }
    if (text.startsWith('#')) {
      b.skipped.comments++;
      return;
    }
    const fields = text.split('\t');
    if (fields.length !== 10) throw new Bad(n, `expected 10 tab-separated columns (${CONLLU_COLUMNS}), found ${fields.length}`);
    const id = fields[0];
    if (/^\d+-\d+$/.test(id)) {
      b.skipped.multiwordTokens++;
      hidden = true;
      return;
    }
    if (/^\d+\.\d+$/.test(id)) {
      b.skipped.emptyNodes++;
      hidden = true;
      return;
    }
    if (!/^\d+$/.test(id)) throw new Bad(n, `ID ${JSON.stringify(id)} is not a word index (1, 2, …), a range (1-2) or an empty node (1.1)`);
    const tag = fields[column];
    if (tag === '_' || tag === '')
      throw new Bad(
        n,
        `the ${named} column is empty (${JSON.stringify(tag)}) for ${JSON.stringify(fields[1])}${named === 'xpos' ? '; use --tag-column upos' : '; use --tag-column xpos if the file has those'}`,
      );
    b.word(fields[1], tag, n);
    wordsInSentence++;
  };
}

function columnsReader(b: Builder, tagColumn: TagColumn | 'last'): (text: string, n: number) => void {
  if (typeof tagColumn === 'string' && tagColumn !== 'last')
    throw new UserError(`--tag-column ${tagColumn} names a CoNLL-U column; give a column number (1 = the word)`, ExitCode.Usage);
  let columns: number | undefined;
  return (text, n) => {
    const fields = text.trim().split(/\s+/);
    if (text.trim() === '') return b.end();
    if (fields[0] === '-DOCSTART-') {
      b.skipped.docstarts++;
      return b.end();
    }
    columns ??= fields.length;
    if (fields.length !== columns)
      throw new Bad(
        n,
        `expected ${columns} columns, found ${fields.length} (the first word line of the file has ${columns}; columns are separated by spaces or tabs)`,
      );
    const at = typeof tagColumn === 'number' ? tagColumn : columns;
    if (at > columns || at < 2) throw new Bad(n, `--tag-column ${at}: the file has ${columns} columns (1 is the word, so the tag is 2..${columns})`);
    b.word(fields[0], fields[at - 1], n);
  };
}

function wordTagReader(b: Builder, tagColumn: TagColumn | 'last'): (text: string, n: number) => void {
  if (tagColumn !== 'last') throw new UserError('--tag-column: a word/TAG file has no columns (the tag follows the last / of each token)', ExitCode.Usage);
  return (text, n) => {
    const tokens = text.trim().split(/\s+/);
    if (text.trim() === '') {
      b.skipped.emptySentences++;
      return;
    }
    tokens.forEach((token, k) => {
      // NLTK's str2tuple: the last / splits word from tag ("1/2/CD" is the word 1/2).
      const at = token.lastIndexOf('/');
      if (at <= 0 || at === token.length - 1)
        throw new Bad(n, `token ${k + 1}, ${JSON.stringify(token.slice(0, 40))}, is not word/TAG (a word, a /, then its tag; the last / splits)`);
      b.word(token.slice(0, at), token.slice(at + 1), n);
    });
    b.end();
  };
}

const READERS = { conllu: conlluReader, conll: columnsReader, 'word-tag': wordTagReader } as const;

/**
 * Reads a tagged corpus in one pass, streamed: memory holds the words and tags as int32 ids and
 * the distinct strings once. Refuses a file over the size limit before reading it, and any line
 * that does not fit its format with FILE:LINE and what was expected.
 */
export async function readCorpus(path: string, options: CorpusOptions = {}): Promise<Corpus> {
  const maxBytes = options.maxBytes ?? LIMITS.corpusBytes;
  const hash = createHash('sha256');
  let bytes = 0;
  const forms = new Interner();
  const tagNames = new Interner();
  const words = new Ints();
  const tags = new Ints();
  const starts = new Ints();
  const firstLines = new Ints();
  starts.push(0);
  let sentenceLine = 0;
  const skipped: Skipped = { emptySentences: 0, docstarts: 0, multiwordTokens: 0, emptyNodes: 0, comments: 0 };
  const builder: Builder = {
    skipped,
    word(form, tag, line) {
      if (words.length === starts.values[starts.length - 1]) sentenceLine = line;
      words.push(forms.id(form));
      tags.push(tagNames.id(tag));
    },
    end() {
      if (words.length === starts.values[starts.length - 1]) return;
      starts.push(words.length);
      firstLines.push(sentenceLine);
    },
  };
  let format = options.format;
  let tagColumn: TagColumn | 'last' = options.tagColumn ?? 'last';
  let read: ((text: string, n: number) => void) | undefined;
  const decoder = new TextDecoder('utf-8', { ignoreBOM: false });
  const shown = (n: number) => `${path}:${n}`;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of fileChunks(path)) {
      bytes += chunk.length;
      if (bytes > maxBytes)
        throw new UserError(`--data ${path} is more than the ${formatBytes(maxBytes)} seq-tag reads as a corpus; split it into smaller files`);
      hash.update(chunk);
      yield chunk;
    }
  }
  try {
    // Lines before the first that holds a word, kept until it tells the format.
    const pending: { text: string; number: number }[] = [];
    const start = (first: string | undefined) => {
      format ??= detectFormat(path, first);
      if (format === 'conllu' && tagColumn === 'last') tagColumn = 'upos';
      const reader = READERS[format](builder, tagColumn);
      for (const p of pending) reader(p.text, p.number);
      return reader;
    };
    for await (const line of lines(counted(), MAX_LINE)) {
      const bad = invalidUtf8At(line.bytes);
      if (bad !== -1)
        throw new UserError(
          `${shown(line.number)}: byte ${bad + 1} of the line (0x${line.bytes[bad].toString(16).toUpperCase().padStart(2, '0')}, offset ${thousands(line.offset + bad)} in the file) is not UTF-8; convert the file, e.g. iconv -f latin1 -t utf-8`,
        );
      let text = decoder.decode(line.bytes);
      if (line.number === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (read) {
        read(text, line.number);
        continue;
      }
      const trimmed = text.trim();
      if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('-DOCSTART-')) pending.push({ text, number: line.number });
      else {
        read = start(text);
        read(text, line.number);
      }
    }
    // A file with no word line: its format from the name alone, its lines read (and refused) as that format.
    if (!read) start(undefined);
    builder.end();
  } catch (err) {
    if (err instanceof Bad) throw new UserError(`${shown(err.line)}: ${err.message}`);
    if (err instanceof LongLine) throw new UserError(`${shown(err.number)}: the line is longer than ${formatBytes(err.limit)}; is this a tagged text file?`);
    if (err instanceof NotReadable)
      throw new UserError(`--data ${path} ${err.message}; give a text corpus (CoNLL-U, CoNLL columns or word/TAG lines) or an .npz`);
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot read --data ${path}: ${describeFsError(err)}`);
  }
  if (words.length === 0) throw new UserError(`--data ${path} holds no tagged word (${FORMAT_NAMES[format!]}); check the file and its format`);
  return {
    path,
    format: format!,
    tagColumn: String(tagColumn === 'last' ? (format === 'word-tag' ? 'tag' : 'last') : tagColumn),
    bytes,
    sha256: hash.digest('hex'),
    forms: forms.names,
    tagNames: tagNames.names,
    words: words.done(),
    tags: tags.done(),
    starts: starts.done(),
    lines: firstLines.done(),
    skipped,
  };
}
