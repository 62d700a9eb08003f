import type { CompileInfo } from '../model/keras/archive.js';
import type { Check } from './diagnosis.js';

/** Losses that read the two outputs as a distribution over the classes. */
const CROSSENTROPY = new Set(['categorical_crossentropy', 'sparse_categorical_crossentropy']);

const TITLE = 'loss fits the output head';

/** Whether the loss reads the outputs as a distribution (each row divided by its sum): then the output check applies. */
export function readsDistribution(compile: CompileInfo | undefined): boolean {
  return CROSSENTROPY.has(compile?.loss ?? 'categorical_crossentropy') && !compile?.fromLogits;
}

/** Keras's class of a loss name ("sparse_categorical_crossentropy" → "SparseCategoricalCrossentropy"). */
const lossClass = (loss: string) => loss.replace(/(^|_)([a-z])/g, (_m, _s: string, c: string) => c.toUpperCase());

/**
 * The seed's fix for a Keras file, in Keras's words and with the file's own loss, and the seq-tag
 * command that applies it to the file (`retrain`: train --from FILE --fix …), when known.
 */
export const kerasHeadFix = (tags: number, loss = 'categorical_crossentropy', retrain?: string) =>
  `Keras: Dense(${tags}, activation="softmax") as the output layer, or loss=${lossClass(loss)}(from_logits=True)` +
  (retrain ? `; or retrain the file with the softmax head here: ${retrain}` : '');

/**
 * What a crossentropy without from_logits does to a head that is not softmax, as Keras 3's
 * TensorFlow backend computes it: the categorical loss divides each row by its sum, clips it and
 * takes the log; the sparse loss clips each output to [1e-7, 1 − 1e-7], takes its log and applies a
 * softmax cross-entropy to that, so it stays finite, but outputs pinned at the clip get no gradient.
 */
export function crossentropyOnRawOutputs(loss: string): string {
  return loss === 'sparse_categorical_crossentropy'
    ? 'sparse_categorical_crossentropy clips each output to [1e-7, 1 − 1e-7], takes the log and softmaxes that: the loss stays finite (negative outputs pinned at 1e-7), but the clipped outputs get no gradient, so the model cannot learn from them'
    : 'categorical_crossentropy divides each row by its sum and takes the log; a negative output or a row summing to ~0 makes it NaN (or pins it at the clip bound)';
}

/** What `train --from FILE --fix` changes so that the setup check passes. */
export interface SetupFix {
  /** The output layer's new activation. */
  head?: 'softmax';
  /** The loss's from_logits, changed. */
  fromLogits?: boolean;
  /** What changed, in a few words and in Keras's. */
  what: string;
}

/**
 * The doctor's fix for a model's loss and head, as seq-tag applies it (checkSetup's fail and warn
 * verdicts): a head that is not softmax under a crossentropy that reads probabilities becomes softmax,
 * as the seed's accepted answer does; a softmax head under from_logits=True keeps its softmax and
 * drops from_logits. Undefined when there is nothing to fix.
 */
export function setupFix(head: string, compile: CompileInfo | undefined, tags: number): SetupFix | undefined {
  const loss = compile?.loss ?? 'categorical_crossentropy';
  if (!CROSSENTROPY.has(loss)) return undefined;
  if (compile?.fromLogits)
    return head === 'softmax' ? { fromLogits: false, what: `${loss} without from_logits on the softmax head (Keras: from_logits=False)` } : undefined;
  if (head === 'softmax') return undefined;
  return { head: 'softmax', what: `output activation ${head} → softmax (Keras: Dense(${tags}, activation="softmax"))` };
}

/**
 * The seed's bug read statically from a model's compile config: a crossentropy loss without
 * `from_logits` treats the head's outputs as probabilities (each row divided by its sum, then the
 * log), so a head that is not softmax gives NaN as soon as an output is negative. `head` is the
 * output activation; `compile` what the file says it was compiled with (undefined: not saved).
 */
export function checkSetup(head: string, compile: CompileInfo | undefined, tags = 2, retrain?: string): Check {
  const loss = compile?.loss ?? 'categorical_crossentropy';
  const assumed = compile ? '' : ' (assumed: the file holds no loss; the task is trained with it)';
  const numbers = { softmaxHead: head === 'softmax' ? 1 : 0, fromLogits: compile?.fromLogits ? 1 : 0, lossSaved: compile ? 1 : 0 };
  const base = { id: 'setup' as const, title: TITLE, numbers };
  if (!CROSSENTROPY.has(loss)) {
    // MSE, MAE, binary crossentropy…: nothing divides the outputs by their sum, so no head is the seed's bug.
    return {
      ...base,
      verdict: 'info',
      evidence: `loss ${loss} on a ${head} head: not a categorical crossentropy, so the outputs need not be probabilities; the burst below trains with this loss`,
    };
  }
  if (compile?.fromLogits) {
    return head === 'softmax'
      ? {
          ...base,
          verdict: 'warn',
          evidence: `${loss} with from_logits=True on a softmax head: softmax is applied twice, so the loss sees squashed probabilities; it trains, slowly, and its outputs are miscalibrated`,
          fix: `Keras: drop one of them: Dense(${tags}) (linear) with from_logits=True, or a softmax head with from_logits=False${retrain ? `; or retrain the file without from_logits here: ${retrain}` : ''}`,
        }
      : { ...base, verdict: 'pass', evidence: `${loss} with from_logits=True on a ${head} head: the loss applies softmax to the logits itself` };
  }
  if (head === 'sigmoid') {
    return {
      ...base,
      verdict: 'warn',
      evidence: `${loss} without from_logits${assumed} on a sigmoid head: each output is in (0, 1), so no NaN, but the rows do not sum to 1; the loss renormalises them, so it trains, with uncalibrated outputs`,
      fix: kerasHeadFix(tags, loss, retrain),
    };
  }
  if (head !== 'softmax') {
    return {
      ...base,
      verdict: 'fail',
      evidence:
        `${loss} without from_logits${assumed} on a ${head} head: the seed's bug. The loss reads the raw outputs as probabilities: ` +
        crossentropyOnRawOutputs(loss),
      fix: kerasHeadFix(tags, loss, retrain),
    };
  }
  return { ...base, verdict: 'pass', evidence: `${loss}${assumed} on a softmax head: the outputs are probabilities, as the loss expects` };
}
