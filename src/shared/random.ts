import { randomInt } from 'node:crypto';
import seedrandom from 'seedrandom';

/** A uniform generator on [0, 1). */
export type Rng = () => number;

/**
 * One independent, reproducible stream per purpose (data, weights, shuffling...), all derived from
 * the single user seed, so that changing e.g. the number of epochs does not change the data.
 */
export function rngFor(seed: number, stream: string): Rng {
  return seedrandom(`seq-tag:${seed}:${stream}`);
}

/** A fresh seed for runs without `--seed`; it is printed and stored so the run can be repeated. */
export function freshSeed(): number {
  return randomInt(0, 2 ** 31 - 1);
}

/** Uniform integer in [0, n). */
export function randomIndex(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
export function permutation(n: number, rng: Rng): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = randomIndex(rng, i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
