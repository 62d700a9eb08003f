// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');
import type { Config } from '../config/config.js';
import { thousands } from '../shared/format.js';
import { generateDataset, type TaskInput } from '../task/data.js';
import { learnedNothing, tagEntropy, verdict as evaluationVerdict, type Evaluation } from '../task/metrics.js';
import { inputTensor, oneHotLabels, positionMask, taskData, trueTags, type TagData } from '../task/tag-data.js';
import type { ModelDescription } from '../model/describe.js';
import { structuralLimit, type ModelShape } from './next-step.js';
import { buildModel, summarize, type ModelSummary } from '../model/model.js';
import { crossentropyOnRawOutputs, kerasHeadFix } from './setup.js';
import { permutation, rngFor } from '../shared/random.js';
import { CLIP_BOUND_LOSS, divergenceSymptom, globalNorm, layersEngine, type BatchLoss, type Divergence } from '../training/train.js';
import { evaluateData, outputsOf, type Scoring } from '../training/scoring.js';
import type { OptimizerPlan } from '../training/keras-optimizer.js';

export type Verdict = 'pass' | 'warn' | 'fail' | 'info';

/** One check of the diagnosis: what was measured, what it means, and what to do. */
export interface Check {
  id: 'setup' | 'saved' | 'data' | 'output' | 'gradients' | 'weights' | 'loss' | 'floor';
  title: string;
  verdict: Verdict;
  evidence: string;
  /** The numbers behind `evidence`, for --json. */
  numbers: Record<string, number | null>;
  fix?: string;
}

export interface Diagnosis {
  checks: Check[];
  /** The failing check that most likely explains the problem, or undefined when all is well. */
  cause?: Check;
  healthy: boolean;
  /** The divergence that triggered this diagnosis (NaN guard), if any. */
  trigger?: Divergence;
  /** The layers of the model that was checked. */
  summary: ModelSummary;
  /** A Keras file's own optimizer as the burst ran it, and what of it the burst could not run. */
  burstOptimizer?: { name: string; described: string; dropped: string[] };
}

/** Rows of the output that must be a probability distribution. */
const OUTPUT_SAMPLE = 256;
/** Batches of the short training burst. */
export const DEFAULT_BURST = 8;
/** A gradient norm this large on the first batches of this small model means it is blowing up. */
const EXPLODING_NORM = 100;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const num = (x: number) => (Number.isFinite(x) ? (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(3)) : String(x));

function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/**
 * Inputs finite, labels one-hot rows of `tags` (padding a mask hides is not judged), every tag
 * present. `read`: 1 where the model reads a position (undefined: everywhere).
 */
export function checkData(x: Float32Array, y: Float32Array, tags = 2, read?: ArrayLike<number>): Check {
  const finite = allFinite(x) && allFinite(y);
  const rows = y.length / tags;
  let badRows = 0;
  let zeroRows = 0;
  const counts = new Float64Array(tags);
  for (let r = 0; r < rows; r++) {
    if (read && !read[r]) continue;
    let sum = 0;
    let oneHot = true;
    for (let c = 0; c < tags; c++) {
      const v = y[r * tags + c];
      sum += v;
      if (v !== 0 && v !== 1) oneHot = false;
      if (v === 1) counts[c]++;
    }
    if (!oneHot || sum !== 1) badRows++;
    if (sum === 0) zeroRows++;
  }
  const missing = Array.from(counts, (c, tag) => (c === 0 ? tag : -1)).filter((t) => t >= 0);
  const ok = finite && badRows === 0;
  const numbers = { inputValues: x.length, labelRows: rows, invalidLabelRows: badRows, finite: finite ? 1 : 0, tagsNeverSeen: missing.length };
  const title = 'inputs and labels';
  if (!ok) {
    return {
      id: 'data',
      title,
      verdict: 'fail',
      numbers,
      evidence: `${finite ? 'values finite' : 'non-finite values in inputs or labels'}; ${thousands(badRows)} label rows are not one-hot`,
      fix:
        'clean the data: crossentropy needs finite inputs and one-hot targets' +
        (zeroRows && !read ? `; ${thousands(zeroRows)} all-zero rows look like padding, which needs a Masking layer or an Embedding with mask_zero=True` : ''),
    };
  }
  if (missing.length) {
    return {
      id: 'data',
      title,
      verdict: 'warn',
      numbers,
      evidence: `tag ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''} never ${missing.length > 1 ? 'occur' : 'occurs'} in this data: the burst cannot learn ${missing.length > 1 ? 'them' : 'it'} from it, nor can ${missing.length > 1 ? 'their' : 'its'} scores be measured on it`,
      fix: 'if this data is one split, check the model on data that holds every tag; if no data does, check the tag numbering (ids 0 to tags − 1)',
    };
  }
  return {
    id: 'data',
    title,
    verdict: 'pass',
    numbers,
    evidence: `${thousands(x.length)} input values, all finite; labels are valid one-hot rows of ${tags} tags, each tag present`,
  };
}

/**
 * The decisive check for the seed's bug: categorical crossentropy divides each output row by its
 * sum before the log. Rows with negative entries or sums near zero (a linear or relu head) make
 * that division meaningless and the log NaN.
 * out: [rows, 2] flattened.
 */
export function checkOutput(out: Float32Array, activation: string, weights: WeightsSource, tags = 2, keras?: KerasLoss): Check {
  const rows = out.length / tags;
  let negative = 0;
  let nearZeroSum = 0;
  let offSum = 0;
  let minSum = Infinity;
  let maxSum = -Infinity;
  let nonFinite = 0;
  for (let r = 0; r < rows; r++) {
    const row = out.subarray(r * tags, (r + 1) * tags);
    const sum = row.reduce((acc, v) => acc + v, 0);
    if (!Number.isFinite(sum)) {
      nonFinite++;
      continue;
    }
    if (row.some((v) => v < 0)) negative++;
    if (Math.abs(sum) < 1e-3) nearZeroSum++;
    if (Math.abs(sum - 1) > 1e-3) offSum++;
    minSum = Math.min(minSum, sum);
    maxSum = Math.max(maxSum, sum);
  }
  const numbers = {
    rows,
    negativeShare: negative / rows,
    nearZeroSumShare: nearZeroSum / rows,
    offSumShare: offSum / rows,
    minRowSum: Number.isFinite(minSum) ? minSum : null,
    maxRowSum: Number.isFinite(maxSum) ? maxSum : null,
    nonFiniteRows: nonFinite,
  };
  const sums = `row sums ${num(minSum)} to ${num(maxSum)}`;
  if (nonFinite > 0) {
    return {
      id: 'output',
      title: 'output is a probability distribution',
      verdict: 'fail',
      numbers,
      evidence: `${thousands(nonFinite)} of ${thousands(rows)} output rows are not finite ${weights === 'initial' ? 'before any training' : 'with the saved weights'}`,
      fix:
        weights === 'initial'
          ? 'check the initialisers (--kernel-initializer) and the input scale'
          : 'the saved weights are not finite: see the first failing check',
    };
  }
  if (negative > 0 || nearZeroSum > 0) {
    return {
      id: 'output',
      title: 'output is a probability distribution',
      verdict: 'fail',
      numbers,
      evidence:
        `${activation} head: ${pct(negative / rows)} of ${thousands(rows)} output rows have a negative entry, ${pct(nearZeroSum / rows)} sum to ~0, ${sums}; ` +
        (keras ? crossentropyOnRawOutputs(keras.loss) : 'crossentropy divides each row by its sum and takes the log, which gives NaN (or the clip bound)'),
      fix: keras ? kerasHeadFix(tags, keras.loss, keras.retrain) : '--activation softmax (or compute the loss from logits)',
    };
  }
  if (offSum > 0) {
    return {
      id: 'output',
      title: 'output is a probability distribution',
      verdict: 'warn',
      numbers,
      evidence: `${activation} head: entries are non-negative but ${pct(offSum / rows)} of rows do not sum to 1 (${sums}); the loss renormalises them, so it trains, but the outputs are not calibrated probabilities`,
      fix: keras ? kerasHeadFix(tags, keras.loss, keras.retrain) : '--activation softmax',
    };
  }
  return {
    id: 'output',
    title: 'output is a probability distribution',
    verdict: 'pass',
    numbers,
    evidence: `${activation} head: ${thousands(rows)} rows non-negative, each summing to 1`,
  };
}

export interface Burst {
  losses: number[];
  gradNorms: number[];
  weightsFinite: boolean;
}

/**
 * A few real training steps of `model` through the layers engine, on the first batches of epoch 1's
 * order, recording each batch's loss and the gradients' global norm before clipping.
 */
function trainBurst(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, config: Config, batches: number, loss?: BatchLoss, optimizer?: OptimizerPlan): Burst {
  const gradNorms: number[] = [];
  const engine = layersEngine(model, x, y, config, (grads) => void gradNorms.push(globalNorm(grads).dataSync()[0]), loss, optimizer);
  const order = permutation(x.shape[0], rngFor(config.seed, 'shuffle'));
  const losses: number[] = [];
  for (let b = 0; b < batches; b++) {
    const indices = order.subarray(b * config.batchSize, (b + 1) * config.batchSize);
    if (indices.length === 0) break;
    losses.push(engine.step(indices));
  }
  engine.finish(true);
  const weightsFinite = model.getWeights().every((w) => allFinite(w.dataSync()));
  return { losses, gradNorms, weightsFinite };
}

export function checkGradients(burst: Burst): Check {
  const firstBad = burst.gradNorms.findIndex((g) => !Number.isFinite(g));
  const finiteNorms = burst.gradNorms.filter(Number.isFinite);
  const max = finiteNorms.length ? Math.max(...finiteNorms) : NaN;
  const min = finiteNorms.length ? Math.min(...finiteNorms) : NaN;
  const numbers = {
    batches: burst.gradNorms.length,
    minGlobalNorm: finiteNorms.length ? min : null,
    maxGlobalNorm: finiteNorms.length ? max : null,
    firstNonFiniteBatch: firstBad < 0 ? null : firstBad + 1,
  };
  const title = 'gradient global norm';
  if (firstBad >= 0) {
    return {
      id: 'gradients',
      title,
      verdict: 'fail',
      numbers,
      evidence: `not finite from batch ${firstBad + 1} of ${burst.gradNorms.length}${finiteNorms.length ? ` (finite norms ${num(min)} to ${num(max)} before)` : ''}`,
      fix: 'fix the output first if it fails; otherwise --clipnorm 1 or a lower --lr',
    };
  }
  if (max > EXPLODING_NORM) {
    return {
      id: 'gradients',
      title,
      verdict: 'warn',
      numbers,
      evidence: `${num(min)} to ${num(max)} over ${burst.gradNorms.length} batches: large for a ${'model this size'}`,
      fix: '--clipnorm 1 or a lower --lr',
    };
  }
  return { id: 'gradients', title, verdict: 'pass', numbers, evidence: `${num(min)} to ${num(max)} over ${burst.gradNorms.length} batches` };
}

export function checkWeights(burst: Burst): Check {
  return {
    id: 'weights',
    title: 'weights after the burst',
    verdict: burst.weightsFinite ? 'pass' : 'fail',
    numbers: { finite: burst.weightsFinite ? 1 : 0 },
    evidence: burst.weightsFinite ? 'all finite' : 'some weights are NaN or infinite: one bad update poisons every later prediction',
    fix: burst.weightsFinite ? undefined : 'find the first failing check above; --clipnorm only helps when gradients are large but finite',
  };
}

export function checkLoss(burst: Burst, trigger?: Divergence): Check {
  const first = burst.losses.findIndex((l) => divergenceSymptom(l) !== undefined);
  const numbers = {
    batches: burst.losses.length,
    firstLoss: burst.losses[0] ?? null,
    lastLoss: burst.losses.at(-1) ?? null,
    firstDivergedBatch: first < 0 ? null : first + 1,
    clipBound: CLIP_BOUND_LOSS,
  };
  const seen = trigger
    ? `; in training: ${trigger.symptom === 'clip-bound' ? `loss pinned at ${trigger.loss.toFixed(4)}` : `loss ${trigger.loss}`} at epoch ${trigger.epoch}, batch ${trigger.batch}`
    : '';
  if (first >= 0 || trigger) {
    const symptom = first >= 0 ? divergenceSymptom(burst.losses[first]) : trigger!.symptom;
    const where = first >= 0 ? `batch ${first + 1} of the burst` : 'training';
    const what =
      symptom === 'clip-bound'
        ? `pinned at ${num(CLIP_BOUND_LOSS)} = −ln(1e-7), the clip bound, from ${where}: every output is being clipped (the wasm backend's form of NaN)`
        : `${symptom === 'nan' ? 'NaN' : 'infinite'} from ${where}`;
    return {
      id: 'loss',
      title: 'loss stays finite',
      verdict: 'fail',
      numbers,
      evidence: what + seen,
      fix: 'a symptom: the cause is the first failing check above',
    };
  }
  return {
    id: 'loss',
    title: 'loss stays finite',
    verdict: 'pass',
    numbers,
    evidence: `${num(burst.losses[0])} → ${num(burst.losses.at(-1)!)} over ${burst.losses.length} batches`,
  };
}

/**
 * Learns? The burst's last loss against the no-skill floor, and, for a model of the digit task, whether
 * its architecture and input can learn the task at all (what seq-tag measured: ./next-step.ts).
 */
export function checkFloor(burst: Burst, floor: number, model?: ModelShape, saved?: Evaluation): Check {
  const last = burst.losses.at(-1) ?? NaN;
  const limit = model && structuralLimit(model);
  const base = {
    id: 'floor' as const,
    title: 'loss vs the no-skill floor',
    numbers: { floor, lastLoss: Number.isFinite(last) ? last : null, structuralLimit: limit ? 1 : 0 },
    evidence:
      `floor ${floor.toFixed(4)} nats (entropy of the labels); burst ended at ${num(last)}. ` +
      'A loss that settles at the floor means the model predicts the base rate and has learned nothing',
  };
  // A saved model is judged as `evaluate` judges it: one that has learned nothing is never healthy.
  if (saved && learnedNothing(saved)) {
    return {
      ...base,
      verdict: 'fail',
      numbers: { ...base.numbers, tokenAccuracy: saved.tokenAccuracy, baselineAccuracy: saved.baselineAccuracy },
      evidence: `as saved: ${evaluationVerdict({ ...saved, loss: saved.loss !== null && Number.isFinite(saved.loss) ? saved.loss : null })}; the burst from it ended at ${num(last)}${limit ? `; and this one cannot learn the task: ${limit.why}` : ''}`,
      fix:
        limit?.next ??
        'train it further, or with another learning rate, until its loss leaves the floor; if it never does, its inputs do not tell the tags apart as it reads them',
    };
  }
  if (!limit) return { ...base, verdict: 'info' };
  return { ...base, verdict: 'warn', evidence: `${base.evidence}; and this one cannot learn the task: ${limit.why}`, fix: limit.next };
}

/** How often each tag occurs at the positions the model reads. */
function tagCounts(data: TagData, read?: Uint8Array): Float64Array {
  const counts = new Float64Array(data.tags);
  trueTags(data).forEach((tag, k) => {
    if (!read || read[k]) counts[tag]++;
  });
  return counts;
}

/** Causes in the order they are blamed: a failing earlier check explains the later ones. */
const CAUSE_ORDER: Check['id'][] = ['setup', 'saved', 'data', 'output', 'gradients', 'weights', 'loss', 'floor'];

/** A saved model to examine besides its configuration: where it is and which of its weights are not finite. */
export interface SavedWeights {
  dir: string;
  nonFinite: string[];
  tensors: number;
  /** How to get a usable model again (default: retrain with seq-tag). */
  retrain?: string;
  /** Why it diverged, when another check already shows it. */
  why?: string;
}

/** Whether a saved model's weights are usable: one NaN poisons every prediction that reads it. */
export function checkSavedWeights(saved: SavedWeights): Check {
  const bad = saved.nonFinite.length;
  const names = saved.nonFinite.slice(0, 3).join(', ') + (bad > 3 ? ', …' : '');
  return {
    id: 'saved',
    title: 'saved weights are finite',
    verdict: bad ? 'fail' : 'pass',
    numbers: { tensors: saved.tensors, nonFiniteTensors: bad },
    evidence: bad
      ? `${bad} of ${saved.tensors} weight tensors in ${saved.dir} hold NaN/Infinity (${names}): its training diverged before it was saved, so every prediction is meaningless${saved.why ? `; ${saved.why}` : ''}`
      : `all ${saved.tensors} weight tensors in ${saved.dir} are finite`,
    fix: bad
      ? (saved.retrain ?? `retrain it (seq-tag never saves a diverged run): seq-tag train --model-dir ${saved.dir}, with the fix the checks below name`)
      : undefined,
  };
}

/** Whether the checked model has freshly initialised weights (built from a config) or the weights a file holds. */
export type WeightsSource = 'initial' | 'saved';

export interface DiagnoseOptions {
  burstBatches?: number;
  /** The divergence that triggered this diagnosis (NaN guard), if any. */
  trigger?: Divergence;
  /** The saved model's weights, checked first. */
  saved?: SavedWeights;
  /** A static check of the model's loss and head (models from Keras), checked first. */
  setup?: Check;
  /** The user's own data instead of the task's generated sequences. */
  data?: TagData;
  /** How the model reads the generated sequences (a user's Embedding reads ids); default: the config's encoding. */
  input?: TaskInput;
  /** The model's own loss for the burst (default: categorical crossentropy, unmasked). */
  loss?: BatchLoss;
  /** Positions the model reads (its mask); padding is not judged. */
  mask?: ModelDescription['mask'];
  /** Whether the loss reads the outputs as a distribution, so the output check applies (default true). */
  readsDistribution?: boolean;
  /** A model from a file seq-tag did not write: its loss, which the output check's reasoning and fix name. */
  keras?: KerasLoss;
  /** How a saved model is scored before the burst (its compiled loss and mask), as `evaluate` scores it. */
  scoring?: Scoring;
  /** The burst's optimizer when it is not the config's: a Keras file's own (../training/keras-optimizer.ts). */
  optimizer?: OptimizerPlan;
}

/** The loss a user's file was compiled with (categorical crossentropy when it names none). */
export interface KerasLoss {
  loss: string;
  /** The seq-tag command that retrains the file with the fix applied (`train --from FILE --fix …`). */
  retrain?: string;
}

/**
 * Diagnoses why training with `config` diverges (or shows that it does not): builds the model
 * fresh from the config's seed, then runs the checks of `diagnoseModel` on it.
 */
export function diagnose(config: Config, options: DiagnoseOptions = {}): Diagnosis {
  const model = buildModel(config, config.seed);
  try {
    return diagnoseModel(model, config, options, 'initial');
  } finally {
    model.dispose();
  }
}

/**
 * Checks `model` on the config's generated data: the data, the model's outputs on real inputs,
 * then a short training burst (on the model itself, which it changes) recording the loss, the
 * gradient norm and the weights. `config` gives the data, batch size, optimizer and clipping.
 */
export function diagnoseModel(model: tfl.LayersModel, config: Config, options: DiagnoseOptions = {}, weights: WeightsSource = 'saved'): Diagnosis {
  const data =
    options.data ??
    taskData(generateDataset(config.samples, rngFor(config.seed, 'train-data')), options.input ?? config.encoding, `generated, seed ${config.seed}`);
  const x = inputTensor(data);
  // One-hot once: the data check reads the rows, the burst their tensor.
  const labelRows = oneHotLabels(data);
  const y = tf.tensor3d(labelRows, [data.n, data.steps, data.tags]);
  try {
    const rows = Math.min(OUTPUT_SAMPLE, data.n);
    const out = tf.tidy(() => outputsOf(model, data, rows, options.scoring).dataSync() as Float32Array);
    const read = positionMask(data, options.mask);
    const checks: Check[] = [
      ...(options.setup ? [options.setup] : []),
      ...(options.saved ? [checkSavedWeights(options.saved)] : []),
      checkData(data.x, labelRows, data.tags, read),
      ...(options.readsDistribution === false ? [] : [checkOutput(out, config.activation, weights, data.tags, options.keras)]),
    ];
    // What the saved model has learned, measured before the burst changes it.
    const skill = weights === 'saved' ? evaluateData(model, data, options.scoring) : undefined;
    const burst = trainBurst(model, x, y, config, options.burstBatches ?? DEFAULT_BURST, options.loss, options.optimizer);
    checks.push(
      checkGradients(burst),
      checkWeights(burst),
      checkLoss(burst, options.trigger),
      checkFloor(burst, tagEntropy(tagCounts(data, read)), options.data ? undefined : config, skill),
    );
    // A model that learned nothing because an earlier check fails: the fix is that check's.
    const floor = checks.at(-1)!;
    if (floor.verdict === 'fail' && checks.some((c) => c !== floor && c.verdict === 'fail'))
      floor.fix = 'a symptom: the cause is the first failing check above';
    const failing = (verdict: Verdict) => CAUSE_ORDER.map((id) => checks.find((c) => c.id === id && c.verdict === verdict)).find(Boolean);
    const cause = failing('fail') ?? failing('warn');
    const healthy = !checks.some((c) => c.verdict === 'fail') && !options.trigger;
    return { checks, cause, healthy, trigger: options.trigger, summary: summarize(model) };
  } finally {
    x.dispose();
    y.dispose();
  }
}
