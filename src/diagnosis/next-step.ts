// What to do after "has not learned": the step seq-tag measured for the situation, never a generic tip.
// Each figure is a run anyone can repeat (seed 1, the default wasm backend, the fused float32 engine;
// README "Does the fix learn?"), and test/next-step.test.ts runs each again and checks it.
import type { TaskInput } from '../task/data.js';
import { isSolved, type Evaluation } from '../task/metrics.js';

/** A measured run: the train flags and its held-out figures. */
export interface Measured {
  flags: string[];
  tokenAccuracy: number;
  exactMatch: number;
  recallFirst: number;
}

/** Measured 2026-11-29 on the 2-core machine (scalarInput's token accuracy 2026-12-07 with the native kernels, 0.8561 on WebAssembly) (train --seed 1 on 1,000 held-out sequences); test/next-step.test.ts reruns them. */
export const MEASURED = {
  /** Bidirectional LSTM 16 on one-hot digits, 6,000 sequences, lr 0.015, 12 epochs. */
  solve: { flags: ['--preset', 'solve'], tokenAccuracy: 0.9986, exactMatch: 0.986, recallFirst: 0.998 },
  /** The same, reading left to right only. */
  oneDirectional: { flags: ['--preset', 'solve', '--no-bidirectional'], tokenAccuracy: 0.8987, exactMatch: 0.001, recallFirst: 0.001 },
  /** The same, bidirectional, on the seed's digit values. */
  scalarInput: { flags: ['--preset', 'solve', '--encoding', 'scalar'], tokenAccuracy: 0.8562, exactMatch: 0.26, recallFirst: 0.346 },
} satisfies Record<string, Measured>;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const command = (m: Measured) => `seq-tag train ${m.flags.join(' ')}`;
const SOLVE = `${command(MEASURED.solve)} (bidirectional LSTM 16 on one-hot digits: ${pct(MEASURED.solve.exactMatch)} exact-match, measured with seed 1)`;

/** What a digit-task model is, as far as the next step depends on it. */
export interface ModelShape {
  bidirectional: boolean;
  encoding?: TaskInput;
}

/** Why the model's architecture or input cannot solve the task, and the measured fix; undefined when it can. */
export function structuralLimit(model: ModelShape): { why: string; next: string } | undefined {
  if (model.encoding === undefined) return undefined;
  if (!model.bidirectional) {
    const m = MEASURED.oneDirectional;
    return {
      why:
        'a left-to-right model cannot tag the first occurrence of the repeated digit: it has not yet seen the second one ' +
        `(measured, one-directional on one-hot digits: ${pct(m.tokenAccuracy)} token accuracy, ${pct(m.exactMatch)} exact-match)`,
      next: SOLVE,
    };
  }
  if (model.encoding === 'scalar') {
    const m = MEASURED.scalarInput;
    return {
      why: `with the digit's value as its input, "equal to an earlier digit" is hard to learn (measured, bidirectional on digit values: ${pct(m.exactMatch)} exact-match)`,
      next: SOLVE,
    };
  }
  return undefined;
}

/** The next step after an evaluation of a digit-task model that did not solve the task; undefined when solved or off the task. */
export function nextStep(model: ModelShape, e: Evaluation): string | undefined {
  if (isSolved(e) || model.encoding === undefined) return undefined;
  const limit = structuralLimit(model);
  if (limit) return `${limit.why}. Next: ${limit.next}`;
  return `the architecture can solve the task, this training did not get there (${pct(e.exactMatch)} exact-match). Next: the solve preset's data and learning rate: ${SOLVE}`;
}
