import type { CompileInfo } from '../model/keras/archive.js';
import type { Check } from './diagnosis.js';

/** Losses that read the two outputs as a distribution over the classes. */
const CROSSENTROPY = new Set(['categorical_crossentropy', 'sparse_categorical_crossentropy']);

const TITLE = 'loss fits the output head';

/** Whether the loss reads the outputs as a distribution (each row divided by its sum): then the output check applies. */
export function readsDistribution(compile: CompileInfo | undefined): boolean {
  return CROSSENTROPY.has(compile?.loss ?? 'categorical_crossentropy') && !compile?.fromLogits;
}

/** The seed's fix in Keras's words (and seq-tag's, for the task's two tags). */
const fixHead = (tags: number) =>
  `Keras: Dense(${tags}, activation="softmax") in the TimeDistributed head, or loss=CategoricalCrossentropy(from_logits=True)` +
  (tags === 2 ? '; seq-tag: --activation softmax' : '');

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
      fix: fixHead(tags),
    };
  }
  if (head !== 'softmax') {
    return {
      ...base,
      verdict: 'fail',
      evidence:
        `${loss} without from_logits${assumed} on a ${head} head: the seed's bug. The loss reads the raw outputs as probabilities, ` +
        'dividing each row by its sum and taking the log; a negative output or a row summing to ~0 makes it NaN (or pins it at the clip bound)',
      fix: fixHead(tags),
    };
  }
  return { ...base, verdict: 'pass', evidence: `${loss}${assumed} on a softmax head: the outputs are probabilities, as the loss expects` };
}
