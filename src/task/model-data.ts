/** Which data a loaded model runs on: the task's generated digits (in its encoding) or the user's own file. */
import { UserError } from '../errors.js';
import { describeShapes, type ModelDescription } from '../model/describe.js';
import type { CompileInfo } from '../model/keras/archive.js';
import type { TaskInput } from './data.js';
import { checkFits, padded, readDataFile, type Rows, type TagData } from './tag-data.js';
import type { DataSpec, TextVocabulary } from '../config/config.js';
import { readCorpus } from './corpus.js';
import { tagColumnOf } from './text-data.js';
import { encodeCorpus } from './vocabulary.js';

/** Seed of the generated data for a model seq-tag did not train, unless a seed is given. */
export const FOREIGN_MODEL_SEED = 1;

/** The task's encoding of a model run on generated digits, or one line saying to give it its own data. */
export function taskEncoding(path: string, d: ModelDescription): TaskInput {
  if (d.encoding) return d.encoding;
  throw new UserError(
    `${path} is not a model of the digit task (${describeShapes(d)}); give it its own data with --data FILE.npz (np.savez(FILE, x=inputs, y=labels))`,
  );
}

/** What a model seq-tag trained on text saved about its data: the words and tags it reads, and where its tags came from. */
export interface TextModel {
  text?: TextVocabulary;
  config?: { data?: DataSpec };
}

/**
 * A user's data for a loaded model: read, and checked to fit it. A model trained on text reads a
 * tagged text file through its own vocabulary (tags from the column it was trained on), as packed
 * rows (scoring pads a chunk at a time, so a large file is scored in bounded memory); any model
 * reads an .npz of ids or features.
 */
export async function userRows(file: string, d: ModelDescription, trained: TextModel = {}): Promise<Rows> {
  if (trained.text && !/\.npz$/i.test(file)) {
    const tagColumn = tagColumnOf(trained.config?.data?.tagColumn);
    const data = encodeCorpus(await readCorpus(file, { tagColumn }), trained.text, '--data').data;
    checkFits(data, d, file);
    return data;
  }
  const data = await readDataFile(file, { tags: d.tags, vocabulary: d.vocabulary });
  checkFits(data, d, file);
  return data;
}

/** userRows, padded: for what reads every row at once (tagging, the doctor). */
export async function userData(file: string, d: ModelDescription, trained: TextModel = {}): Promise<TagData> {
  return padded(await userRows(file, d, trained));
}

/** Whether a model's outputs are probabilities as it is run (softmax head, or logits seq-tag softmaxes). */
export function probabilityHead(d: ModelDescription, compile?: CompileInfo): boolean {
  return d.head === 'softmax' || compile?.fromLogits === true;
}
