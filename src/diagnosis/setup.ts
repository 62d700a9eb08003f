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
 * The seed's fix for a Keras file, in Keras's words and with the file's own loss: only Keras
 * changes, since seq-tag's flags mean nothing to a file seq-tag did not write.
 */
export const kerasHeadFix = (tags: number, loss = 'categorical_crossentropy') =>
  `Keras: Dense(${tags}, activation="softmax") as the output layer, or loss=${lossClass(loss)}(from_logits=True)`;

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

/**
 * The seed's bug read statically from a model's compile config: a crossentropy loss without
 * `from_logits` treats the head's outputs as probabilities (each row divided by its sum, then the
 * log), so a head that is not softmax gives NaN as soon as an output is negative. `head` is the
 * output activation; `compile` what the file says it was compiled with (undefined: not saved).
 */
export function checkSetup(head: string, compile: CompileInfo | undefined, tags = 2): Check {
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
          fix: 'Keras: drop one of them: Dense(2) (linear) with from_logits=True, or a softmax head with from_logits=False',
        }
      : { ...base, verdict: 'pass', evidence: `${loss} with from_logits=True on a ${head} head: the loss applies softmax to the logits itself` };
  }
  if (head === 'sigmoid') {
    return {
      ...base,
      verdict: 'warn',
      evidence: `${loss} without from_logits${assumed} on a sigmoid head: each output is in (0, 1), so no NaN, but the rows do not sum to 1; the loss renormalises them, so it trains, with uncalibrated outputs`,
      fix: kerasHeadFix(tags, loss),
    };
  }
  if (head !== 'softmax') {
    return {
      ...base,
      verdict: 'fail',
      evidence:
        `${loss} without from_logits${assumed} on a ${head} head: the seed's bug. The loss reads the raw outputs as probabilities: ` +
        crossentropyOnRawOutputs(loss),
      fix: kerasHeadFix(tags, loss),
    };
  }
  return { ...base, verdict: 'pass', evidence: `${loss}${assumed} on a softmax head: the outputs are probabilities, as the loss expects` };
}
