// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');
import { validationCount, type Config } from '../config/config.js';
import { featureTensor, labelTensor, SEQUENCE_LENGTH, sliceDataset, type Dataset } from '../task/data.js';
import type { OptimizerPlan } from './keras-optimizer.js';
import { ADAGRAD, ADAM, CROSSENTROPY_EPSILON, RMSPROP } from '../config/constants.js';
import { arithmeticFor } from './fused/arithmetic.js';
import { FusedNetwork } from './fused/network.js';
import { dropsOut, FusedTagger, taggerShapeOf } from './fused/tagger.js';
import { clipInPlace, TypedOptimizer } from './fused/optimizers.js';
import { copyParameters, readParameters, writeParameters } from './fused/parameters.js';
import { permutation, rngFor } from '../shared/random.js';
import { inputTensor, isPacked, padded, rowLengths, targetTensor, taskData, trueTags, type Rows, type TagData } from '../task/tag-data.js';
import { evaluateTags } from '../task/metrics.js';
import { batchLoss, modelLoss } from './losses.js';
import { PADDING_MASK } from '../task/vocabulary.js';
import { evaluateData, type Scoring } from './scoring.js';
import type { Divergence, DivergenceSymptom, EpochRecord, TrainingResult, TrainingState, ValidationScore } from '../config/records.js';
export type { Divergence, DivergenceSymptom, EpochRecord, TrainingResult, TrainingState, ValidationScore };
import { namedCopies, stateArray, StateMismatch, type StateArrays } from './state.js';

export { StateMismatch, type StateArrays } from './state.js';

export interface BatchRecord {
  /** 1-based epoch and batch within it. */
  epoch: number;
  batch: number;
  batches: number;
  /** Sequences in this batch (the last one may be smaller). */
  size: number;
  loss: number;
}

export interface TrainingCallbacks {
  onBatchEnd?: (record: BatchRecord) => void | Promise<void>;
  onEpochEnd?: (record: EpochRecord) => void | Promise<void>;
  /** Aborting stops training after the current batch; the model is left as it was after the last completed epoch. */
  signal?: AbortSignal;
  /** Threads for the fused float32 engine (default: as many as pay at this size, see arithmeticFor). */
  threads?: number;
  /** Called after each completed epoch with what a resumed run needs; training waits for it (a failure stops training). */
  onCheckpoint?: (state: TrainingState) => void | Promise<void>;
  /** Continue from a checkpoint's state instead of from the model's initial weights. */
  resume?: TrainingState;
}

/** Keras's ReduceLROnPlateau, its fixed settings: an improvement is a fall of more than 1e-4, no cooldown. */
export const PLATEAU = { minDelta: 1e-4 } as const;

/**
 * Keras's ReduceLROnPlateau on the validation loss: after `patience` epochs without a fall of more
 * than 1e-4 below the best, the learning rate is multiplied by `factor` (never below `minLr`) and
 * the count starts again.
 */
export class Plateau {
  best = Infinity;
  wait = 0;

  constructor(
    public lr: number,
    private readonly factor: number,
    private readonly patience: number,
    private readonly minLr: number,
  ) {}

  /** Records an epoch's validation loss; returns the new learning rate when it changes. */
  update(loss: number): number | undefined {
    if (loss < this.best - PLATEAU.minDelta) {
      this.best = loss;
      this.wait = 0;
      return undefined;
    }
    if (++this.wait < this.patience || this.lr <= this.minLr) return undefined;
    this.wait = 0;
    this.lr = Math.max(this.lr * this.factor, this.minLr);
    return this.lr;
  }
}

/**
 * Keras's EarlyStopping on the validation loss with restore_best_weights: an epoch is better when its
 * loss is below the best so far by more than `minDelta`; after `patience` epochs that are not, training
 * stops; the best epoch's weights are kept either way.
 */
export class EarlyStopping {
  best = Infinity;
  bestEpoch = 0;
  wait = 0;

  constructor(
    private readonly patience: number,
    private readonly minDelta: number,
  ) {}

  /** Records an epoch's validation loss: whether it is the best so far, and whether to stop now. */
  update(epoch: number, loss: number): { better: boolean; stop: boolean } {
    this.wait++;
    if (loss + this.minDelta < this.best) {
      this.best = loss;
      this.bestEpoch = epoch;
      this.wait = 0;
      return { better: true, stop: false };
    }
    return { better: false, stop: this.wait >= this.patience };
  }
}

/** How often a long training loop lets the event loop run (signals, lock refresh, output). */
const YIELD_EVERY_MS = 50;

/**
 * Categorical crossentropy exactly as Keras and tfjs-layers define it, with the epsilon both
 * engines share: each output row is divided by its sum and clipped to [ε, 1 − ε] before the log,
 * so a head that is not a probability distribution (the seed's linear Dense) produces NaN or a
 * loss pinned at −ln(ε). yTrue, yPred: [batch, 10, 2] → scalar mean over batch and time.
 */
export function tagLoss(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const p = tf.clipByValue(tf.div(yPred, tf.sum(yPred, -1, true)), CROSSENTROPY_EPSILON, 1 - CROSSENTROPY_EPSILON);
    return tf.mean(tf.neg(tf.sum(tf.mul(yTrue, tf.log(p)), -1))) as tf.Scalar;
  });
}

export type OptimizerConfig = Pick<Config, 'optimizer' | 'lr' | 'adamEpsilon'>;

/** The optimizers, with the constants the fused engine uses too (../constants.ts) passed explicitly. */
export function makeOptimizer(config: OptimizerConfig): tf.Optimizer {
  switch (config.optimizer) {
    case 'adam':
      return tf.train.adam(config.lr, ADAM.beta1, ADAM.beta2, config.adamEpsilon);
    case 'sgd':
      return tf.train.sgd(config.lr);
    case 'rmsprop':
      return tf.train.rmsprop(config.lr, RMSPROP.rho, RMSPROP.momentum, RMSPROP.epsilon);
    case 'adagrad':
      return tf.train.adagrad(config.lr, ADAGRAD.initialAccumulator);
  }
}

/**
 * Gradient clipping as Keras's optimizer arguments define it: `clipnorm` rescales each gradient
 * tensor whose L2 norm exceeds it, `clipvalue` clips each element. Called inside a tidy.
 */
export function clipGradients(grads: tf.NamedTensorMap, config: Pick<Config, 'clipnorm' | 'clipvalue'>): tf.NamedTensorMap {
  const clipped: tf.NamedTensorMap = {};
  for (const [name, grad] of Object.entries(grads)) {
    let g = grad;
    if (config.clipnorm !== null) {
      const norm = tf.norm(g);
      g = tf.mul(g, tf.div(config.clipnorm, tf.maximum(norm, config.clipnorm)));
    }
    if (config.clipvalue !== null) g = tf.clipByValue(g, -config.clipvalue, config.clipvalue);
    clipped[name] = g;
  }
  return clipped;
}

/** Global L2 norm over all gradient tensors (as tf.clip_by_global_norm measures it). */
export function globalNorm(grads: tf.NamedTensorMap): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/** −ln(ε): the largest per-position loss once crossentropy has clipped its input to [ε, 1 − ε]. */
export const CLIP_BOUND_LOSS = -Math.log(CROSSENTROPY_EPSILON);

/**
 * A batch loss that means training has diverged: NaN or infinite (cpu and tensorflow backends), or
 * pinned at the clip bound, which is how the wasm backend shows the same bug (its clip maps NaN
 * to the bound).
 */
export function divergenceSymptom(loss: number): DivergenceSymptom | undefined {
  if (Number.isNaN(loss)) return 'nan';
  if (!Number.isFinite(loss)) return 'infinite';
  if (loss >= CLIP_BOUND_LOSS - 1e-3) return 'clip-bound';
  return undefined;
}

/**
 * Trains `model` in place for `config.epochs` epochs of mini-batch gradient descent.
 *
 * Batches are drawn from a permutation made by the seeded `shuffle` stream, not tfjs's
 * `fit({shuffle: true})`, which uses the unseeded Math.random: with the same seed and backend the
 * loss history is identical run to run.
 *
 * Like Keras's TerminateOnNaN, but also catching the wasm backend's pinned loss, the NaN guard stops
 * at the first diverged batch; without it training goes on and the divergence is still reported.
 */
export async function trainModel(model: tfl.LayersModel, all: Dataset, config: Config, callbacks: TrainingCallbacks = {}): Promise<TrainingResult> {
  const { data, validation } = splitForValidation(all, config.validationSplit);
  const engine =
    config.lstm === 'fused'
      ? fusedEngine(model, data, config, callbacks.threads)
      : layersEngineOwning(model, featureTensor(data.digits, config.encoding), labelTensor(data.labels), config);
  const held = validation && taskData(validation, config.encoding, 'validation split');
  return trainLoop(model, engine, data.n, held && validator(model, engine, held), config, callbacks);
}

/** How a model read from a file trains: its own loss (masked as it masks), its optimizer unless flags chose one, and how it is scored. */
export interface OwnTraining {
  loss: BatchLoss;
  /** The loss, optimizer and model are the fused tagger's (diagnosis/retrain.ts checks): it may train there, as --lstm says. */
  fusedTagger?: boolean;
  /** The file's optimizer (schedule, weight decay, clipping); undefined: the config's. */
  plan?: OptimizerPlan;
  scoring: Scoring;
}

/** Text seq-tag reads: Keras's masked crossentropy on a softmax head, id 0 padding. */
const TEXT_TRAINING: OwnTraining = { loss: batchLoss(modelLoss(undefined)!, PADDING_MASK), scoring: { mask: PADDING_MASK } };

/**
 * Trains `model` on tagged data (a user's text as ids [n, steps], 0 = padding, or a file's model on
 * its .npz) with the layers engine, Keras's masked crossentropy by default (padding weighs nothing);
 * `validation`, if given, is scored after every epoch. Batches of ids padded with 0 are cut after
 * their longest row. Otherwise as trainModel.
 */
export async function trainTagged(
  model: tfl.LayersModel,
  train: Rows,
  validation: TagData | undefined,
  config: Config,
  callbacks: TrainingCallbacks = {},
  own: OwnTraining = TEXT_TRAINING,
): Promise<TrainingResult> {
  const { mask } = own.scoring;
  const lengths = train.features === null && mask?.of === 'ids' && mask.value === 0 ? rowLengths(train) : undefined;
  // seq-tag's own text tagger, or a file's that is the same network trained the same way, on the fused engine; other files' models on tf.layers.
  if (config.lstm === 'fused' && (own === TEXT_TRAINING || own.fusedTagger)) {
    const fused = fusedTaggerEngine(model, train, config, lengths ?? rowLengths(train));
    // Published first, as validator() does: early stopping keeps the model's weights as they were scored.
    const validate = () => {
      fused.publish();
      return fused.score(validation!);
    };
    return trainLoop(model, fused, train.n, validation && validate, config, callbacks);
  }
  // tf.layers takes the whole data padded (refused in one line past the memory limit).
  const whole = padded(train);
  const engine = layersEngineOwning(model, inputTensor(whole), targetTensor(whole), config, own.loss, lengths, own.plan);
  return trainLoop(model, engine, train.n, validation && validator(model, engine, validation, own.scoring), config, callbacks);
}

/** The longest of the rows at `indices` (at least 1 step). */
function batchSteps(lengths: Int32Array, indices: Int32Array): number {
  let steps = 1;
  for (const i of indices) steps = Math.max(steps, lengths[i]);
  return steps;
}

/** Scores the engine's current weights on `data` (the validation split or file). */
function validator(model: tfl.LayersModel, engine: Engine, data: TagData, scoring: Scoring = {}) {
  return (): ValidationScore => {
    engine.publish();
    const e = evaluateData(model, data, scoring);
    return { loss: e.loss ?? NaN, tokenAccuracy: e.tokenAccuracy, exactMatch: e.exactMatch };
  };
}

/** The epochs of mini-batch descent over `n` sequences, whatever the engine and data. */
async function trainLoop(
  model: tfl.LayersModel,
  engine: Engine,
  n: number,
  validate: (() => ValidationScore) | undefined,
  config: Config,
  callbacks: TrainingCallbacks,
): Promise<TrainingResult> {
  const stopper = validate && config.earlyStopping !== null ? new EarlyStopping(config.earlyStopping, config.minDelta) : undefined;
  const plateau = validate && config.lrSchedule === 'plateau' ? new Plateau(config.lr, config.lrFactor, config.lrPatience, config.minLr) : undefined;
  const from = callbacks.resume;
  let best: tf.Tensor[] | undefined;
  let stoppedAfter = from?.earlyStopping?.stoppedAfter;
  const shuffleRng = rngFor(config.seed, 'shuffle');
  const epochs: EpochRecord[] = from ? from.epochs.map((e) => ({ ...e })) : [];
  const started = performance.now();
  const elapsed = () => (from?.seconds ?? 0) + (performance.now() - started) / 1000;
  let divergence: Divergence | undefined = from?.divergence;
  let lastYield = started;
  let completed = true;

  try {
    if (from) best = await resumeFrom(from, { engine, model, shuffleRng, n, stopper, plateau });
    for (let epoch = epochs.length + 1; epoch <= config.epochs && stoppedAfter === undefined; epoch++) {
      const epochStart = performance.now();
      const order = permutation(n, shuffleRng);
      let weightedLoss = 0;
      const batches = Math.ceil(n / config.batchSize);
      for (let batch = 1, start = 0; start < n; batch++, start += config.batchSize) {
        const indices = order.subarray(start, Math.min(start + config.batchSize, n));
        const batchLoss = engine.step(indices);
        weightedLoss += batchLoss * indices.length;
        await callbacks.onBatchEnd?.({ epoch, batch, batches, size: indices.length, loss: batchLoss });
        const symptom = divergenceSymptom(batchLoss);
        if (symptom && !divergence) divergence = { epoch, batch, loss: batchLoss, symptom };
        if (divergence && config.nanGuard) return { epochs, seconds: elapsed(), divergence, stopped: true };
        // The steps are synchronous: without a turn of the event loop, Ctrl-C would never be seen.
        if (performance.now() - lastYield > YIELD_EVERY_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        }
        if (callbacks.signal?.aborted) {
          completed = false;
          return { epochs, seconds: elapsed(), divergence, stopped: false, interrupted: { atEpoch: epoch } };
        }
      }
      const record: EpochRecord = { epoch, loss: weightedLoss / n, seconds: (performance.now() - epochStart) / 1000 };
      if (validate) record.validation = validate();
      if (plateau) record.lr = plateau.lr;
      const lowered = plateau?.update(record.validation!.loss);
      if (lowered !== undefined) engine.setLearningRate(lowered);
      epochs.push(record);
      engine.checkpoint();
      await callbacks.onEpochEnd?.(record);
      const decision = stopper?.update(epoch, record.validation!.loss);
      // validate() has just put this epoch's weights into the model.
      if (decision?.better) {
        tf.dispose(best);
        best = model.getWeights().map((w) => w.clone());
      }
      if (decision?.stop && epoch < config.epochs) stoppedAfter = epoch;
      if (callbacks.onCheckpoint) {
        const arrays = [...(await engine.snapshot()), ...weightArrays('best', best ?? [])];
        const stopping = stopper && { best: stopper.best, bestEpoch: stopper.bestEpoch, wait: stopper.wait, stoppedAfter };
        const scheduled = plateau && { best: plateau.best, wait: plateau.wait, lr: plateau.lr };
        await callbacks.onCheckpoint({ epochs, seconds: elapsed(), divergence, arrays, earlyStopping: stopping, plateau: scheduled });
      }
    }
  } finally {
    engine.finish(completed);
    if (best && completed) model.setWeights(best);
    tf.dispose(best);
  }
  const earlyStopping = stopper && { bestEpoch: stopper.bestEpoch, ...(stoppedAfter === undefined ? {} : { stoppedAfter }) };
  return { epochs, seconds: elapsed(), divergence, stopped: false, ...(earlyStopping ? { earlyStopping } : {}) };
}

/**
 * Puts a run back where `state` left it: the engine's parameters and optimizer slots, the shuffle
 * stream replayed past the completed epochs, the early-stopping and schedule counters. Returns the
 * best epoch's weights (early stopping). StateMismatch if the state is not of this config's run.
 */
async function resumeFrom(
  state: TrainingState,
  run: { engine: Engine; model: tfl.LayersModel; shuffleRng: () => number; n: number; stopper?: EarlyStopping; plateau?: Plateau },
): Promise<tf.Tensor[] | undefined> {
  if (!run.stopper !== !state.earlyStopping || !run.plateau !== !state.plateau)
    throw new StateMismatch('its early stopping or schedule differs from the config');
  await run.engine.restore(state.arrays);
  for (let e = 0; e < state.epochs.length; e++) permutation(run.n, run.shuffleRng);
  if (run.stopper && state.earlyStopping) {
    const { best, bestEpoch, wait } = state.earlyStopping;
    Object.assign(run.stopper, { best, bestEpoch, wait });
  }
  if (run.plateau && state.plateau) {
    Object.assign(run.plateau, state.plateau);
    run.engine.setLearningRate(state.plateau.lr);
  }
  if (!state.arrays.some((a) => a.name.startsWith('best/'))) return undefined;
  return weightTensors(run.model, state.arrays, 'best');
}

/** A model's weights as float32 copies named `<prefix>/<i>`. */
function weightArrays(prefix: string, weights: tf.Tensor[]): StateArrays {
  return namedCopies(
    prefix,
    weights.map((w) => w.dataSync() as Float32Array),
  );
}

const size = (shape: readonly (number | null)[]) => shape.reduce<number>((a, b) => a * (b ?? 1), 1);

/** One tensor per weight of `model`, shaped like it, from the arrays `<prefix>/<i>`; StateMismatch if one is missing or of another size. */
function weightTensors(model: tfl.LayersModel, arrays: StateArrays, prefix: string): tf.Tensor[] {
  return model.weights.map((w, i) => tf.tensor(stateArray(arrays, `${prefix}/${i}`, size(w.shape)), w.shape as number[]));
}

/**
 * The training sequences and, with a split, the validation ones: the last ⌈split × n⌉ of the
 * generated set, before any shuffling, as Keras's validation_split takes them.
 */
export function splitForValidation(data: Dataset, split: number): { data: Dataset; validation?: Dataset } {
  const kept = data.n - validationCount(data.n, split);
  if (kept === data.n) return { data };
  return { data: sliceDataset(data, 0, kept), validation: sliceDataset(data, kept, data.n) };
}

/** One way of running a training step; both engines train the same tfjs model in place. */
export interface Engine {
  /** Trains on the sequences at `indices` and returns the batch's mean loss. */
  step(indices: Int32Array): number;
  /** Remembers the weights as they are now (the end of an epoch). */
  checkpoint(): void;
  /** Puts the weights as they are now into the tfjs model, to be scored (the layers engine trains it in place). */
  publish(): void;
  /** The learning rate of the steps that follow (a schedule's change). */
  setLearningRate(lr: number): void;
  /** Leaves the trained weights in the model (or, if not `completed`, the last checkpoint's) and frees what the engine held. */
  finish(completed: boolean): void;
  /** Copies of the parameters and the optimizer's state (moments, step count) as they are now. */
  snapshot(): Promise<StateArrays>;
  /** Puts a snapshot back (and remembers it as the last checkpoint); StateMismatch if it is of another model or optimizer. */
  restore(arrays: StateArrays): Promise<void>;
}

/**
 * One training step through tf.layers on the tfjs backend, on batches gathered from features x
 * [n, 10, width] and targets y [n, 10, 2], which the caller owns. `onGradients` sees each step's
 * gradients before clipping (the diagnosis measures their norm); it runs inside the step's tidy.
 */
/** A batch's loss: targets, outputs and the inputs (a masked loss reads its mask from them). */
export type BatchLoss = (yTrue: tf.Tensor, yPred: tf.Tensor, x: tf.Tensor) => tf.Scalar;

export function layersEngine(
  model: tfl.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  config: Config,
  onGradients?: (grads: tf.NamedTensorMap) => void,
  loss: BatchLoss = tagLoss,
  plan?: OptimizerPlan,
  lengths?: Int32Array,
): Engine {
  const optimizer = plan ? plan.make() : makeOptimizer(config);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const clip = plan ?? config;
  const clipping = clip.clipnorm !== null || clip.clipvalue !== null;
  let updates = 0;
  let saved = model.getWeights().map((w) => w.clone());
  const state = optimizerState(optimizer, variables);
  return {
    async snapshot() {
      return [...weightArrays('weight', model.getWeights()), ...(await state.snapshot())];
    },
    async restore(arrays) {
      const values = weightTensors(model, arrays, 'weight');
      model.setWeights(values);
      tf.dispose(values);
      await state.restore(arrays);
      this.checkpoint();
    },
    step(indices) {
      // A Keras file's schedule sets each step's rate; its weight decay comes off before the update, as in Keras.
      const lr = plan?.lrAt(updates++);
      if (lr !== undefined) this.setLearningRate(lr);
      return tf.tidy(() => {
        const idx = tf.tensor1d(indices, 'int32');
        // Padded text: the batch is cut after its longest sentence (masked steps change nothing but the time).
        const steps = lengths && batchSteps(lengths, indices);
        const xb = steps ? tf.slice(tf.gather(x, idx), [0, 0], [-1, steps]) : tf.gather(x, idx);
        const yb = steps ? tf.slice(tf.gather(y, idx), [0, 0, 0], [-1, steps, -1]) : tf.gather(y, idx);
        const { value, grads } = tf.variableGrads(() => loss(yb, model.apply(xb, { training: true }) as tf.Tensor, xb), variables);
        onGradients?.(grads);
        const update = clipping ? clipGradients(grads, clip) : grads;
        if (plan?.weightDecay) for (const v of variables) v.assign(tf.sub(v, tf.mul(v, plan.weightDecay * lr!)));
        optimizer.applyGradients(update);
        return value.dataSync()[0];
      });
    },
    checkpoint() {
      tf.dispose(saved);
      saved = model.getWeights().map((w) => w.clone());
    },
    publish() {},
    setLearningRate(lr) {
      // tfjs's SGD caches −lr as a tensor (and its optimizers answer instanceof by duck typing: Adam is
      // "an SGDOptimizer"); the others read their learningRate field at every step.
      const target = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
      if (target.setLearningRate) target.setLearningRate(lr);
      else target.learningRate = lr;
    },
    finish(completed) {
      if (!completed) model.setWeights(saved);
      tf.dispose(saved);
      optimizer.dispose();
    },
  };
}

/**
 * A tfjs optimizer's state as arrays: its step count and slot variables (Adam's moments, RMSprop's
 * mean squares, Adagrad's accumulators), and Adam's running β powers. tfjs's own setWeights
 * recomputes those powers as β^(t+1), which differs in the last bits from the product it
 * accumulates step by step: a resumed run would drift from an uninterrupted one.
 */
function optimizerState(optimizer: tf.Optimizer, variables: tf.Variable[]) {
  const adam = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  const betas = (['accBeta1', 'accBeta2'] as const).filter((k) => adam[k]);
  return {
    async snapshot(): Promise<StateArrays> {
      const [iterations, ...slots] = await optimizer.getWeights();
      const step = { name: 'optimizer/iterations', values: Float64Array.of(iterations.tensor.dataSync()[0]) };
      iterations.tensor.dispose();
      const powers = betas.map((k) => ({ name: `optimizer/${k}`, values: adam[k]!.dataSync().slice() as Float32Array }));
      return [
        step,
        ...powers,
        ...namedCopies(
          'optimizer/slot',
          slots.map((s) => s.tensor.dataSync() as Float32Array),
        ),
      ];
    },
    async restore(arrays: StateArrays): Promise<void> {
      const slots = arrays.filter((a) => a.name.startsWith('optimizer/slot/'));
      if (slots.length % Math.max(variables.length, 1) !== 0)
        throw new StateMismatch(`its optimizer has ${slots.length} slots for ${variables.length} weights`);
      const iterations = stateArray(arrays, 'optimizer/iterations', 1)[0];
      // Slot i belongs to variable i mod count (tfjs keeps them in that order, per kind).
      const named = slots.map((_, i) => {
        const v = variables[i % variables.length];
        return { name: `${v.name}/slot${i}`, tensor: tf.tensor(stateArray(arrays, `optimizer/slot/${i}`, v.size), v.shape) };
      });
      await optimizer.setWeights([{ name: 'iter', tensor: tf.scalar(iterations, 'int32') }, ...named]);
      for (const k of betas) adam[k]!.assign(tf.scalar(stateArray(arrays, `optimizer/${k}`, 1)[0]));
    },
  };
}

/** The layers engine on inputs and targets it owns, freed when training finishes. */
function layersEngineOwning(
  model: tfl.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  config: Config,
  loss?: BatchLoss,
  lengths?: Int32Array,
  plan?: OptimizerPlan,
): Engine {
  const engine = layersEngine(model, x, y, config, undefined, loss, plan, lengths);
  return {
    ...engine,
    finish(completed) {
      engine.finish(completed);
      x.dispose();
      y.dispose();
    },
  };
}

/** The fused typed-array engine (./fused/): no tfjs kernels per step. */
function fusedEngine(model: tfl.LayersModel, data: Dataset, config: Config, threads?: number): Engine {
  const network = new FusedNetwork(config, readParameters(model), arithmeticFor(config, threads));
  const optimizer = new TypedOptimizer(config, network.params.tensors);
  const digits = new Int32Array(config.batchSize * SEQUENCE_LENGTH);
  const labels = new Int32Array(config.batchSize * SEQUENCE_LENGTH);
  const clipping = config.clipnorm !== null || config.clipvalue !== null;
  let saved = copyParameters(network.params);
  const { tensors, state } = network.params;
  return {
    async snapshot() {
      return [...namedCopies('param', tensors), ...namedCopies('state', state), ...optimizer.snapshot()];
    },
    async restore(arrays) {
      // In place: the network's layout holds these very arrays.
      tensors.forEach((t, i) => t.set(stateArray(arrays, `param/${i}`, t.length)));
      state.forEach((t, i) => t.set(stateArray(arrays, `state/${i}`, t.length)));
      optimizer.restore(arrays);
      this.checkpoint();
    },
    step(indices) {
      // Element by element: a subarray per sequence would allocate 2 views per sequence and step.
      for (let b = 0; b < indices.length; b++) {
        const from = indices[b] * SEQUENCE_LENGTH;
        for (let t = 0; t < SEQUENCE_LENGTH; t++) {
          digits[b * SEQUENCE_LENGTH + t] = data.digits[from + t];
          labels[b * SEQUENCE_LENGTH + t] = data.labels[from + t];
        }
      }
      const loss = network.lossAndGradients(digits, labels, indices.length);
      if (clipping) clipInPlace(network.grads, config.clipnorm, config.clipvalue);
      optimizer.apply(network.params.tensors, network.grads);
      return loss;
    },
    checkpoint() {
      saved = copyParameters(network.params);
    },
    publish() {
      writeParameters(model, network.params);
    },
    setLearningRate(lr) {
      optimizer.lr = lr;
    },
    finish(completed) {
      writeParameters(model, completed ? network.params : saved);
      network.dispose();
    },
  };
}

/**
 * The fused engine on seq-tag's text tagger (./fused/tagger.ts): batches cut after their longest
 * sentence, in --dtype's arithmetic; `score` rates its current weights on validation data as evaluateData does
 * (Keras's masked loss, token accuracy, exact match), without tf.layers.
 */
function fusedTaggerEngine(model: tfl.LayersModel, data: Rows, config: Config, lengths: Int32Array): Engine & { score(data: TagData): ValidationScore } {
  const params = readParameters(model);
  const shape = taggerShapeOf(model);
  if (!shape) throw new Error('the fused engine was given a model that is not its tagger');
  const network = new FusedTagger(shape, params.tensors, config.dtype);
  const optimizer = new TypedOptimizer(config, params.tensors);
  // Where each row's words start in the data's arrays (padded rows: every `steps`).
  const starts = isPacked(data) ? data.starts : undefined;
  const words = isPacked(data) ? data.ids : data.x;
  const tags = data.labels;
  const ids = new Int32Array(config.batchSize * data.steps);
  const labels = new Int32Array(config.batchSize * data.steps);
  const clipping = config.clipnorm !== null || config.clipvalue !== null;
  // Dropout masks come from (seed, batch number): a resumed run draws the ones it would have.
  const dropout = dropsOut(shape);
  let batches = 0;
  let saved = copyParameters(params);
  return {
    async snapshot() {
      return [
        ...namedCopies('param', params.tensors),
        ...optimizer.snapshot(),
        ...(dropout ? [{ name: 'dropout/batches', values: Float64Array.of(batches) }] : []),
      ];
    },
    async restore(arrays) {
      params.tensors.forEach((t, i) => t.set(stateArray(arrays, `param/${i}`, t.length)));
      optimizer.restore(arrays);
      if (dropout) batches = stateArray(arrays, 'dropout/batches', 1)[0];
      this.checkpoint();
    },
    step(indices) {
      const T = batchSteps(lengths, indices);
      for (let b = 0; b < indices.length; b++) {
        const from = starts ? starts[indices[b]] : indices[b] * data.steps;
        const length = lengths[indices[b]];
        // Packed rows end at their last word; padded rows hold their padding.
        const end = starts ? length : T;
        for (let t = 0; t < T; t++) {
          ids[b * T + t] = t < end ? words[from + t] : 0;
          labels[b * T + t] = t < end ? tags[from + t] : -1;
        }
      }
      const loss = network.lossAndGradients(ids, labels, indices.length, T, dropout ? rngFor(config.seed, `dropout:${batches++}`) : undefined);
      if (clipping) clipInPlace(network.grads, config.clipnorm, config.clipvalue);
      optimizer.apply(params.tensors, network.grads);
      return loss;
    },
    checkpoint() {
      saved = copyParameters(params);
    },
    publish() {
      writeParameters(model, params);
    },
    setLearningRate(lr) {
      optimizer.lr = lr;
    },
    finish(completed) {
      writeParameters(model, completed ? params : saved);
    },
    score(held) {
      const truth = held.labels;
      const predicted = new Int32Array(held.n * held.steps);
      const loss = network.score(held.x, truth, held.n, held.steps, predicted);
      const mask = Uint8Array.from(held.x, (id) => (id === 0 ? 0 : 1));
      const e = evaluateTags(trueTags(held), predicted, held.steps, loss, { tags: held.tags, mask });
      return { loss, tokenAccuracy: e.tokenAccuracy, exactMatch: e.exactMatch };
    },
  };
}
