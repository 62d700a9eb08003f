/**
 * The no-skill floor of the loss: the entropy (nats) of the label prior. A model that ignores its
 * input and predicts the base rate p = share of "repeated" positions scores exactly this crossentropy.
 * For this task p = 2/10, so the floor is −(0.2 ln 0.2 + 0.8 ln 0.8) = 0.5004.
 */
export function labelEntropy(labels: ArrayLike<number>): number {
  let ones = 0;
  for (let i = 0; i < labels.length; i++) ones += labels[i];
  const p = ones / labels.length;
  if (p === 0 || p === 1) return 0;
  return -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
}

/** Everything `evaluate` reports about a set of tagged sequences. Rates are in [0, 1]. */
export interface Evaluation {
  sequences: number;
  /** Mean categorical crossentropy on this set (nats), if the model's outputs were scored. */
  loss: number | null;
  /** Entropy of this set's labels: the loss of predicting the base rate. */
  floor: number;
  tokenAccuracy: number;
  /** Token accuracy of tagging every position "unique" (0.8 for this task). */
  baselineAccuracy: number;
  exactMatch: number;
  precision: number;
  recall: number;
  f1: number;
  /** Recall on the earlier / later position of each repeated pair. */
  recallFirst: number;
  recallSecond: number;
}

/**
 * Scores predictions against truth. `truth` and `predicted` hold 0/1 per position, sequence after
 * sequence (`length` positions each). A rate whose denominator is zero is reported as 0, except
 * precision with no positive predictions, which is 0 too (the model found nothing).
 */
export function evaluateTags(truth: ArrayLike<number>, predicted: ArrayLike<number>, length: number, loss: number | null = null): Evaluation {
  const n = truth.length / length;
  let correct = 0;
  let exact = 0;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let truthZeros = 0;
  let firstHit = 0;
  let firstTotal = 0;
  let secondHit = 0;
  let secondTotal = 0;
  for (let s = 0; s < n; s++) {
    let allRight = true;
    let seenRepeat = 0;
    for (let t = 0; t < length; t++) {
      const k = s * length + t;
      const y = truth[k];
      const p = predicted[k];
      if (y === p) correct++;
      else allRight = false;
      if (y === 0) truthZeros++;
      if (y === 1 && p === 1) tp++;
      if (y === 0 && p === 1) fp++;
      if (y === 1 && p === 0) fn++;
      if (y === 1) {
        seenRepeat++;
        if (seenRepeat === 1) {
          firstTotal++;
          firstHit += p;
        } else {
          secondTotal++;
          secondHit += p;
        }
      }
    }
    if (allRight) exact++;
  }
  const rate = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const precision = rate(tp, tp + fp);
  const recall = rate(tp, tp + fn);
  return {
    sequences: n,
    loss,
    floor: labelEntropy(truth),
    tokenAccuracy: rate(correct, truth.length),
    baselineAccuracy: rate(truthZeros, truth.length),
    exactMatch: rate(exact, n),
    precision,
    recall,
    f1: rate(2 * precision * recall, precision + recall),
    recallFirst: rate(firstHit, firstTotal),
    recallSecond: rate(secondHit, secondTotal),
  };
}

/** Token accuracy and exact-match thresholds at which the task counts as solved. */
export const SOLVED = { tokenAccuracy: 0.995, exactMatch: 0.98 };

/** The verdict in words: has the model learned the task, part of it, or nothing? */
export function verdict(e: Evaluation): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  if (e.loss !== null && !Number.isFinite(e.loss)) return `loss ${e.loss}: the model has diverged`;
  if (e.tokenAccuracy >= SOLVED.tokenAccuracy && e.exactMatch >= SOLVED.exactMatch) {
    return `solved: ${pct(e.exactMatch)} exact-match, ${pct(e.tokenAccuracy)} token accuracy`;
  }
  const nearFloor = e.loss !== null && Math.abs(e.loss - e.floor) < 0.01;
  if (e.recall < 0.02 || nearFloor) {
    const lossText = e.loss !== null ? `loss ${e.loss.toFixed(4)} vs floor ${e.floor.toFixed(4)}: ` : '';
    return `${lossText}the model predicts the base rate and has not learned the task (recall ${pct(e.recall)})`;
  }
  if (e.recallSecond - e.recallFirst > 0.3) {
    return `partly learned: finds the second occurrence (${pct(e.recallSecond)}) but not the first (${pct(e.recallFirst)}), as a left-to-right model must; try --bidirectional`;
  }
  return `partly learned: ${pct(e.exactMatch)} exact-match, F1 ${e.f1.toFixed(3)}`;
}
