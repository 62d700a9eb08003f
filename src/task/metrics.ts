import type { EntityScores } from './entities.js';
/**
 * The no-skill floor of the loss: the entropy (nats) of the label prior. A model that ignores its
 * input and predicts the base rate p = share of "repeated" positions scores exactly this crossentropy.
 * For this task p = 2/10, so the floor is −(0.2 ln 0.2 + 0.8 ln 0.8) = 0.5004.
 */
export function labelEntropy(labels: ArrayLike<number>): number {
  let ones = 0;
  for (let i = 0; i < labels.length; i++) ones += labels[i];
  return tagEntropy([labels.length - ones, ones]);
}

/** The no-skill floor for any number of tags: the entropy (nats) of how often each tag occurs. */
export function tagEntropy(counts: ArrayLike<number>): number {
  let total = 0;
  for (let c = 0; c < counts.length; c++) total += counts[c];
  let h = 0;
  for (let c = 0; c < counts.length; c++) if (counts[c] > 0) h -= (counts[c] / total) * Math.log(counts[c] / total);
  return h;
}

/** Precision and recall of one tag, over the scored positions. */
export interface TagScore {
  tag: number;
  /** Scored positions whose true tag is this one. */
  support: number;
  precision: number;
  recall: number;
  /** Harmonic mean of precision and recall (absent in records of seq-tag before 0.3). */
  f1?: number;
  /** Scored positions the model gave this tag (absent in records of seq-tag before 0.3). */
  predicted?: number;
}

/** A true tag the model mistook for another, and how many times. */
export interface Confusion {
  truth: number;
  predicted: number;
  count: number;
}

/** Everything `evaluate` reports about a set of tagged sequences. Rates are in [0, 1]. */
export interface Evaluation {
  sequences: number;
  /** Positions scored (masked padding excluded); absent in records of seq-tag 0.1. */
  tokens?: number;
  /** Mean loss per scored position (nats for crossentropies) with the model's own loss, if computed. */
  loss: number | null;
  /**
   * Why the loss is not finite, as Keras's would not be either: the scored positions whose loss is
   * not finite and how many of their output rows sum to 0 (0/0 in a crossentropy that divides each
   * row by its sum); the same for padded positions, which Keras scores too before its mask gives
   * them weight 0 (nan × 0 is nan); and the loss without them: over the other scored positions, or,
   * when only padding is at fault, over the real positions as Keras would report it (null: none).
   */
  lossWhy?: { positions: number; zeroSumRows: number; padded: number; paddedZeroSumRows: number; otherLoss: number | null };
  /** Entropy of this set's labels: the crossentropy of predicting how often each tag occurs. */
  floor: number;
  tokenAccuracy: number;
  /** Token accuracy of tagging every position with the most frequent tag (0.8 for this task). */
  baselineAccuracy: number;
  exactMatch: number;
  /** Two tags: of tag 1 ("repeated"); more: averaged over the tags (macro). */
  precision: number;
  recall: number;
  f1: number;
  perTag?: TagScore[];
  /** Mean F1 over the tags that are true or predicted somewhere (sklearn's and seqeval's macro average). */
  macroF1?: number;
  /** The most frequent mistakes, most frequent first (at most 5). */
  confusions?: Confusion[];
  /** Tag names by id, for data read from text. */
  tagNames?: string[];
  /** Entity-level scores (seqeval, conlleval) when the tags are IOB/BIO/IOBES. */
  entities?: EntityScores;
  /** Recall on the earlier / later position of each tag-1 pair (the digit task's diagnostic). */
  recallFirst: number;
  recallSecond: number;
}

const rate = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** A tag the macro average counts: true or predicted somewhere. */
export const isPresent = (t: TagScore) => t.support > 0 || (t.predicted ?? 0) > 0;

/** Where sequence `s` lies in per-position arrays: `length` positions each, or packed rows' offsets (from the first). */
export function sequenceSpan(length: number | Int32Array, s: number): [number, number] {
  return typeof length === 'number' ? [s * length, (s + 1) * length] : [length[s] - length[0], length[s + 1] - length[0]];
}

/**
 * Scores predictions against truth. `truth` and `predicted` hold a tag per position, sequence after
 * sequence: `length` positions each, or (packed rows) sequence s from length[s] − length[0] up to
 * length[s + 1] − length[0]; positions where `mask` is 0 are padding and not scored. A
 * rate whose denominator is zero is reported as 0 (precision with no positive predictions too).
 */
export function evaluateTags(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  length: number | Int32Array,
  loss: number | null = null,
  options: { tags?: number; mask?: ArrayLike<number> } = {},
): Evaluation {
  const tags = options.tags ?? 2;
  const n = typeof length === 'number' ? truth.length / length : length.length - 1;
  const hits = new Float64Array(tags);
  const support = new Float64Array(tags);
  const claimed = new Float64Array(tags);
  const firstSecond = [0, 0, 0, 0]; // first hit, first total, second hit, second total
  const mistakes = new Map<number, number>();
  let correct = 0;
  let exact = 0;
  let tokens = 0;
  for (let s = 0; s < n; s++) {
    let allRight = true;
    let seen = 0;
    const [start, end] = sequenceSpan(length, s);
    for (let k = start; k < end; k++) {
      if (options.mask && !options.mask[k]) continue;
      const y = truth[k];
      const p = predicted[k];
      tokens++;
      support[y]++;
      claimed[p]++;
      if (y === p) {
        correct++;
        hits[y]++;
      } else {
        allRight = false;
        mistakes.set(y * tags + p, (mistakes.get(y * tags + p) ?? 0) + 1);
      }
      if (y === 1) {
        const slot = seen++ === 0 ? 0 : 2;
        firstSecond[slot] += p === 1 ? 1 : 0;
        firstSecond[slot + 1]++;
      }
    }
    if (allRight) exact++;
  }
  const perTag = Array.from({ length: tags }, (_, tag) => {
    const precision = rate(hits[tag], claimed[tag]);
    const recall = rate(hits[tag], support[tag]);
    return { tag, support: support[tag], predicted: claimed[tag], precision, recall, f1: rate(2 * precision * recall, precision + recall) };
  });
  const present = perTag.filter(isPresent);
  const confusions = [...mistakes]
    .map(([k, count]) => ({ truth: Math.floor(k / tags), predicted: k % tags, count }))
    .sort((a, b) => b.count - a.count || a.truth - b.truth || a.predicted - b.predicted)
    .slice(0, 5);
  const pick = (key: 'precision' | 'recall') => (tags === 2 ? perTag[1][key] : perTag.reduce((sum, t) => sum + t[key], 0) / tags);
  const precision = pick('precision');
  const recall = pick('recall');
  return {
    sequences: n,
    tokens,
    loss,
    floor: tagEntropy(support),
    tokenAccuracy: rate(correct, tokens),
    baselineAccuracy: rate(Math.max(...support), tokens),
    exactMatch: rate(exact, n),
    precision,
    recall,
    f1: rate(2 * precision * recall, precision + recall),
    perTag,
    macroF1: present.length ? present.reduce((sum, t) => sum + t.f1, 0) / present.length : 0,
    confusions,
    recallFirst: rate(firstSecond[0], firstSecond[1]),
    recallSecond: rate(firstSecond[2], firstSecond[3]),
  };
}

/** Token accuracy and exact-match thresholds at which the task counts as solved. */
export const SOLVED = { tokenAccuracy: 0.995, exactMatch: 0.98 };

export const isSolved = (e: Pick<Evaluation, 'tokenAccuracy' | 'exactMatch'>) => e.tokenAccuracy >= SOLVED.tokenAccuracy && e.exactMatch >= SOLVED.exactMatch;

/** Predicts the base rate: (almost) nothing of the rarer tags found, or a loss at the floor. */
const atBaseRate = (e: Evaluation) => e.recall < 0.02 || (e.loss !== null && Number.isFinite(e.loss) && Math.abs(e.loss - e.floor) < 0.01);

/** Whether `verdict` says the model has learned nothing: the base rate, or no better than the majority tag. */
export const learnedNothing = (e: Evaluation) => !isSolved(e) && (atBaseRate(e) || e.tokenAccuracy <= e.baselineAccuracy);

/** The verdict in words: has the model learned the task, part of it, or nothing? */
export function verdict(e: Evaluation): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  // A loss that is not finite says the loss and the outputs disagree (or the weights diverged); the tags still say what was learned.
  if (e.loss !== null && !Number.isFinite(e.loss)) return `loss ${e.loss}, not finite (seq-tag doctor says why); ${verdict({ ...e, loss: null })}`;
  if (isSolved(e)) {
    return `solved: ${pct(e.exactMatch)} exact-match, ${pct(e.tokenAccuracy)} token accuracy`;
  }
  const lossText = e.loss !== null ? `loss ${e.loss.toFixed(4)} vs floor ${e.floor.toFixed(4)}: ` : '';
  if (atBaseRate(e)) {
    return `${lossText}the model predicts the base rate and has not learned the task (recall ${pct(e.recall)})`;
  }
  if (e.tokenAccuracy <= e.baselineAccuracy) {
    return `${lossText}not learned: token accuracy ${pct(e.tokenAccuracy)} is no better than tagging every position with the most frequent tag (${pct(e.baselineAccuracy)})`;
  }
  if ((e.perTag?.length ?? 2) === 2 && e.recallSecond - e.recallFirst > 0.3) {
    return `partly learned: finds the second occurrence (${pct(e.recallSecond)}) but not the first (${pct(e.recallFirst)}), as a left-to-right model must; try --bidirectional`;
  }
  return `partly learned: ${pct(e.exactMatch)} exact-match, F1 ${e.f1.toFixed(3)}`;
}
