// A run on the user's tagged text: its training, validation and test files read into the one
// internal form, the vocabulary built from the training file, each file as ids, and the files'
// identities (path, format, size, SHA-256) for the config, so a checkpoint refuses a changed file.
import { ExitCode, UserError } from '../errors.js';
import { NPZ_TAGS, ORIGINAL_EXPERIMENT, type Config, type DataRef, type DataSpec } from '../config/config.js';
import { readCorpus, type Corpus, type CorpusFormat, type CorpusOptions, type TagColumn } from './corpus.js';
import { buildVocabulary, encodeCorpus, type Encoded, type TextVocabulary, type VocabularyOptions } from './vocabulary.js';
import { padded, rowsOf, type Rows, type TagData } from './tag-data.js';
import { isNpz, readIdRun } from './id-data.js';

export interface TextFiles {
  train: string;
  validation?: string;
  test?: string;
}

export interface TextRun {
  vocabulary: TextVocabulary;
  corpora: { train: Corpus; validation?: Corpus; test?: Corpus };
  /** Packed rows for a text file (only the fused engine reads them whole), padded for an .npz. */
  train: Encoded;
  /** Padded: scored whole after every epoch or once. */
  validation?: Encoded<TagData>;
  test?: Encoded<TagData>;
  spec: DataSpec;
}

/**
 * "--tag-column upos|xpos|N" as typed (or as a config's data records it), checked; undefined, "last"
 * and "tag" (a word/TAG file's) leave the format's own default.
 */
export function tagColumnOf(value: string | undefined): TagColumn | undefined {
  if (value === undefined || value === 'last' || value === 'tag' || value === NPZ_TAGS) return undefined;
  if (value === 'upos' || value === 'xpos') return value;
  if (/^\d+$/.test(value) && Number(value) >= 2) return Number(value);
  throw new UserError(`--tag-column ${value}: give upos or xpos (CoNLL-U), or a column number from 2 (CoNLL columns; 1 is the word)`, ExitCode.Usage);
}

const refOf = (c: Corpus): DataRef => ({ path: c.path, format: c.format, bytes: c.bytes, sha256: c.sha256 });

/**
 * Reads the files and encodes them with the training file's vocabulary. `expected`, when given (a
 * resumed run), holds the identities the files had: a file that changed since is refused.
 */
export async function readTextRun(
  files: TextFiles,
  options: VocabularyOptions & Pick<CorpusOptions, 'tagColumn' | 'format'>,
  expected?: DataSpec,
): Promise<TextRun> {
  const npz = [files.train, files.validation, files.test].filter((f): f is string => f !== undefined);
  if (npz.some(isNpz)) {
    const other = npz.find((f) => !isNpz(f));
    if (other)
      throw new UserError(
        `${other} is text and ${npz.find(isNpz)} an .npz: give the run's files in one kind, all .npz of ids or all tagged text`,
        ExitCode.Usage,
      );
    return readIdRun(files, options.maxLength, expected);
  }
  const read = async (path: string, role: keyof TextFiles): Promise<Corpus> => {
    const corpus = await readCorpus(path, { tagColumn: options.tagColumn, format: options.format as CorpusFormat | undefined });
    const was = expected?.[role];
    if (was && was.sha256 !== corpus.sha256)
      throw new UserError(
        `${path} has changed since the run started (SHA-256 ${corpus.sha256.slice(0, 12)}…, was ${was.sha256.slice(0, 12)}…; ${corpus.bytes} bytes, were ${was.bytes}); the run cannot continue on other data: start a new one with --restart`,
      );
    return corpus;
  };
  const train = await read(files.train, 'train');
  const validation = files.validation === undefined ? undefined : await read(files.validation, 'validation');
  const test = files.test === undefined ? undefined : await read(files.test, 'test');
  const vocabulary = buildVocabulary(train, options);
  const spec: DataSpec = {
    train: refOf(train),
    ...(validation ? { validation: refOf(validation) } : {}),
    ...(test ? { test: refOf(test) } : {}),
    tagColumn: train.tagColumn,
  };
  return {
    vocabulary,
    corpora: { train, validation, test },
    train: encodeCorpus(train, vocabulary, '--data'),
    validation: validation && paddedEncoding(encodeCorpus(validation, vocabulary, '--validation-data', train.path), '--validation-data'),
    test: test && paddedEncoding(encodeCorpus(test, vocabulary, '--test-data', train.path), '--test-data'),
    spec,
  };
}

const paddedEncoding = (e: Encoded, role: string): Encoded<TagData> => ({ ...e, data: padded(e.data, role) });

/** Rows from..to of `data`, copied and padded to the longest of all (a validation split's held-out sentences). */
export function sliceTagData(data: Rows, from: number, to: number, source = data.source): TagData {
  return { ...rowsOf(data, from, to, true, data.steps), source, shown: undefined };
}

/**
 * The text run a config names (config.data): its files read again with the vocabulary options of
 * the config, each checked against the SHA-256 the config holds (a resumed run, a sweep's worker, a
 * queue worker on another machine): a file that changed is refused, so no run is scored on other data.
 */
export async function readTextFor(config: Pick<Config, 'minCount' | 'lowercase' | 'maxLength'> & { data: DataSpec }): Promise<TextRun> {
  const spec = config.data;
  return readTextRun(
    { train: spec.train.path, validation: spec.validation?.path, test: spec.test?.path },
    { ...vocabularyOptions(config), tagColumn: tagColumnOf(spec.tagColumn), format: spec.train.format as CorpusFormat },
    spec,
  );
}

/** The vocabulary options of a run, those not given at their defaults. */
function vocabularyOptions(given: Partial<VocabularyOptions>): VocabularyOptions {
  const { minCount, lowercase, maxLength } = { ...ORIGINAL_EXPERIMENT, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) };
  return { minCount, lowercase, maxLength };
}

/**
 * A new run's text files as the user names them (the command line's --data, --validation-data,
 * --test-data, --tag-column, --data-format, or the API's options), with its vocabulary options.
 */
export function readTextFiles(files: TextFiles & { tagColumn?: string; format?: CorpusFormat }, options: Partial<VocabularyOptions>): Promise<TextRun> {
  if (isNpz(files.train)) {
    // An .npz's ids are its vocabulary: the options that build one from words do not apply.
    const stray =
      files.tagColumn !== undefined && files.tagColumn !== NPZ_TAGS
        ? '--tag-column'
        : files.format !== undefined
          ? '--data-format'
          : options.minCount !== undefined && options.minCount !== 1
            ? '--min-count'
            : options.lowercase
              ? '--lowercase'
              : undefined;
    if (stray)
      throw new UserError(
        `${stray} applies to tagged text; ${files.train} holds ids (x) and tags (y), which are the vocabulary and the tag list as they are`,
        ExitCode.Usage,
      );
  }
  const { train, validation, test } = files;
  return readTextRun({ train, validation, test }, { ...vocabularyOptions(options), tagColumn: tagColumnOf(files.tagColumn), format: files.format });
}
