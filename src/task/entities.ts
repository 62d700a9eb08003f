// Entity-level scores of IOB/BIO/IOBES tags, as seqeval's default mode and conlleval compute them:
// a chunk counts only if its type and both ends match exactly. The chunk rules are seqeval's
// (end_of_chunk / start_of_chunk), so "I-PER" after "O" starts a chunk (IOB1, as conlleval reads
// it) and a change of type ends one.

/** A chunk: its type and first and last positions (inclusive) in the flattened sequence. */
export type Chunk = [type: string, start: number, end: number];

/** Whether a tag list is an IOB scheme: every tag O, or B-/I-/E-/S- and a type. */
export function isChunkScheme(tags: readonly string[]): boolean {
  return tags.length > 1 && tags.every((t) => t === 'O' || /^[BIES]-.+/.test(t)) && tags.some((t) => t !== 'O');
}

function split(tag: string): [string, string] {
  // seqeval: the first character is the prefix, the rest after its first "-" the type ("_" if none).
  const rest = tag.slice(1);
  const at = rest.indexOf('-');
  return [tag.charAt(0), (at === -1 ? rest : rest.slice(at + 1)) || '_'];
}

function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (prevTag === 'E' || prevTag === 'S') return true;
  if ((prevTag === 'B' || prevTag === 'I') && (tag === 'B' || tag === 'S' || tag === 'O')) return true;
  return prevTag !== 'O' && prevTag !== '.' && prevType !== type;
}

function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (tag === 'B' || tag === 'S') return true;
  if ((prevTag === 'E' || prevTag === 'S' || prevTag === 'O') && (tag === 'E' || tag === 'I')) return true;
  return tag !== 'O' && tag !== '.' && prevType !== type;
}

/** seqeval's get_entities over one sequence of tags. */
export function chunks(sequence: readonly string[], offset = 0): Chunk[] {
  const out: Chunk[] = [];
  let prevTag = 'O';
  let prevType = '';
  let begin = 0;
  for (let i = 0; i <= sequence.length; i++) {
    const [tag, type] = i === sequence.length ? ['O', '_'] : split(sequence[i]);
    if (endOfChunk(prevTag, tag, prevType, type)) out.push([prevType, offset + begin, offset + i - 1]);
    if (startOfChunk(prevTag, tag, prevType, type)) begin = i;
    prevTag = tag;
    prevType = type;
  }
  return out;
}

export interface EntityTypeScore {
  type: string;
  precision: number;
  recall: number;
  f1: number;
  /** True chunks of this type. */
  support: number;
  /** Predicted chunks of this type. */
  predicted: number;
}

export interface EntityScores {
  /** Micro average over all chunks (seqeval's f1_score, conlleval's overall FB1). */
  precision: number;
  recall: number;
  f1: number;
  support: number;
  predicted: number;
  /** Per type, in code-point order of the type. */
  types: EntityTypeScore[];
  /** Macro average over the types (true or predicted), as seqeval's. */
  macroF1: number;
}

const f1Of = (p: number, r: number) => (p + r === 0 ? 0 : (2 * p * r) / (p + r));
const rate = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** Entity scores of predicted tag sequences against the true ones (sentence by sentence: a chunk never crosses sentences). */
export function entityScores(truth: readonly (readonly string[])[], predicted: readonly (readonly string[])[]): EntityScores {
  const key = (c: Chunk) => `${c[0]}\u0000${c[1]}\u0000${c[2]}`;
  const trueChunks: Chunk[] = [];
  const predChunks: Chunk[] = [];
  let offset = 0;
  truth.forEach((sentence, s) => {
    trueChunks.push(...chunks(sentence, offset));
    predChunks.push(...chunks(predicted[s], offset));
    offset += sentence.length + 1;
  });
  const trueKeys = new Set(trueChunks.map(key));
  const byType = new Map<string, { support: number; predicted: number; correct: number }>();
  const entry = (type: string) => byType.get(type) ?? byType.set(type, { support: 0, predicted: 0, correct: 0 }).get(type)!;
  for (const c of trueChunks) entry(c[0]).support++;
  for (const c of predChunks) {
    const e = entry(c[0]);
    e.predicted++;
    if (trueKeys.has(key(c))) e.correct++;
  }
  const types = [...byType]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([type, e]) => {
      const precision = rate(e.correct, e.predicted);
      const recall = rate(e.correct, e.support);
      return { type, precision, recall, f1: f1Of(precision, recall), support: e.support, predicted: e.predicted };
    });
  const correct = [...byType.values()].reduce((n, e) => n + e.correct, 0);
  const precision = rate(correct, predChunks.length);
  const recall = rate(correct, trueChunks.length);
  // seqeval's macro average runs over every type that is true or predicted somewhere.
  const reported = types;
  return {
    precision,
    recall,
    f1: f1Of(precision, recall),
    support: trueChunks.length,
    predicted: predChunks.length,
    types,
    macroF1: reported.length ? reported.reduce((n, t) => n + t.f1, 0) / reported.length : 0,
  };
}
