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
