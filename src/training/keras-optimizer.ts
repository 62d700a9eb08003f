// The optimizer a Keras file was compiled with, as the doctor's burst runs it: its class, learning
// rate schedule, momentum, betas, weight decay and clipping, as far as TensorFlow.js runs them;
// whatever it cannot run is named (`dropped`), never silently replaced.
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import { isObject, type Json } from '../model/keras/topology.js';

const numberOr = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
const given = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v !== 0;

/** How a training step gets its optimizer, learning rate and weight decay (../training/train.ts's layersEngine). */
export interface OptimizerPlan {
  make(): tf.Optimizer;
  /** The learning rate at a step (0 = the first update), as Keras evaluates the schedule at `iterations`. */
  lrAt(step: number): number;
  /** Keras's decoupled weight decay: each weight loses weight × decay × lr before each update. */
  weightDecay: number;
  clipnorm: number | null;
  clipvalue: number | null;
}

/** The burst's optimizer in words (header) and fields (--json): what runs, and what does not. */
export interface KerasOptimizer extends OptimizerPlan {
  /** Keras's class name: "SGD", "AdamW". */
  name: string;
  /** "SGD (lr 0.05, momentum 0.9, nesterov)", "AdamW (ExponentialDecay from lr 0.01, weight decay 0.004, …)". */
  described: string;
  /** What the burst cannot run as Keras would, each in a few words ("use_ema (weights not averaged)"). */
  dropped: string[];
  /** Adam at a constant rate with Keras's betas, nothing dropped and no weight decay: what config's adam (the fused engine's) runs too. */
  plainAdam: boolean;
}

/** A Keras 3 learning-rate schedule as a function of the step, or undefined for a schedule seq-tag does not compute. */
function schedule(value: Json): { at: (step: number) => number; described: string } | undefined {
  const c = isObject(value.config) ? value.config : {};
  const initial = numberOr(c.initial_learning_rate, NaN);
  const steps = numberOr(c.decay_steps, NaN);
  const progress = (step: number) => (c.staircase === true ? Math.floor(step / steps) : step / steps);
  const from = `${String(value.class_name)} from lr ${initial}`;
  switch (value.class_name) {
    case 'ExponentialDecay':
      return { at: (s) => initial * numberOr(c.decay_rate, 1) ** progress(s), described: from };
    case 'InverseTimeDecay':
      return { at: (s) => initial / (1 + numberOr(c.decay_rate, 0) * progress(s)), described: from };
    case 'PolynomialDecay': {
      const end = numberOr(c.end_learning_rate, 1e-4);
      const power = numberOr(c.power, 1);
      if (c.cycle === true) return undefined;
      return { at: (s) => (initial - end) * (1 - Math.min(s, steps) / steps) ** power + end, described: from };
    }
    case 'CosineDecay': {
      const alpha = numberOr(c.alpha, 0);
      const warmupSteps = numberOr(c.warmup_steps, 0);
      const target = typeof c.warmup_target === 'number' ? c.warmup_target : undefined;
      const top = target ?? initial;
      const decayed = (s: number) => top * ((1 - alpha) * 0.5 * (1 + Math.cos((Math.PI * Math.min(s, steps)) / steps)) + alpha);
      return {
        at: (s) =>
          target !== undefined && s < warmupSteps ? initial + ((target - initial) * s) / warmupSteps : decayed(target !== undefined ? s - warmupSteps : s),
        described: from,
      };
    }
    case 'PiecewiseConstantDecay': {
      const bounds = Array.isArray(c.boundaries) ? c.boundaries.map(Number) : [];
      const values = Array.isArray(c.values) ? c.values.map(Number) : [];
      if (values.length !== bounds.length + 1) return undefined;
      // Keras: values[i] while step <= boundaries[i], the last value past the last boundary.
      const at = (s: number) => values[bounds.filter((b) => s > b).length];
      return { at, described: `PiecewiseConstantDecay from lr ${values[0]}` };
    }
    default:
      return undefined;
  }
}

/** Keras's defaults per optimizer class, where they differ from none. */
const KERAS_DEFAULT_LR: Record<string, number> = { SGD: 0.01, Adagrad: 0.001, Adadelta: 0.001 };

/**
 * The optimizer of a Keras compile config (Keras 3's form, `CompileInfo.keras.optimizer`), or Adam
 * with Keras's defaults when there is none. SGD (momentum, nesterov), Adam and AdamW (betas,
 * epsilon), RMSprop (rho, momentum, epsilon, centered), Adagrad, Adadelta and Adamax run as TensorFlow.js
 * runs them; schedules are evaluated at each step; weight decay is applied as Keras applies it.
 */
export function kerasOptimizer(optimizer: unknown): KerasOptimizer {
  const name = isObject(optimizer) ? String(optimizer.class_name) : 'Adam';
  const c = isObject(optimizer) && isObject(optimizer.config) ? optimizer.config : {};
  const dropped: string[] = [];
  const settings: string[] = [];
  // The learning rate: a number, or a schedule evaluated at each step.
  let lrAt: (step: number) => number;
  if (isObject(c.learning_rate)) {
    const s = schedule(c.learning_rate);
    const held = numberOr((c.learning_rate.config as Json | undefined)?.initial_learning_rate, 0.001);
    if (s) settings.push(s.described);
    else dropped.push(`its ${String(c.learning_rate.class_name)} schedule (held at lr ${held})`);
    lrAt = s?.at ?? (() => held);
  } else {
    const lr = Number(numberOr(c.learning_rate, KERAS_DEFAULT_LR[name] ?? 0.001).toPrecision(7));
    settings.push(`lr ${lr}`);
    lrAt = () => lr;
  }
  const beta1 = numberOr(c.beta_1, 0.9);
  const beta2 = numberOr(c.beta_2, 0.999);
  const epsilon = numberOr(c.epsilon, 1e-7);
  const lr0 = lrAt(0);
  let make: () => tf.Optimizer;
  switch (name) {
    case 'SGD': {
      const momentum = numberOr(c.momentum, 0);
      if (momentum) settings.push(`momentum ${momentum}${c.nesterov === true ? ', nesterov' : ''}`);
      make = () => (momentum ? tf.train.momentum(lr0, momentum, c.nesterov === true) : tf.train.sgd(lr0));
      break;
    }
    case 'RMSprop': {
      const rho = numberOr(c.rho, 0.9);
      const momentum = numberOr(c.momentum, 0);
      settings.push(`rho ${rho}`, ...(momentum ? [`momentum ${momentum}`] : []), `epsilon ${epsilon}`);
      // tfjs 4.22's centered RMSprop takes sqrt(ms − mg² − ε): NaN wherever a gradient is 0.
      if (c.centered === true) dropped.push('centered (TensorFlow.js computes it with −ε, NaN on zero gradients: run uncentered)');
      make = () => tf.train.rmsprop(lr0, rho, momentum, epsilon, false);
      break;
    }
    case 'Adagrad':
      settings.push(`epsilon ${epsilon}`);
      make = () => tf.train.adagrad(lr0, numberOr(c.initial_accumulator_value, 0.1));
      break;
    case 'Adadelta':
      settings.push(`rho ${numberOr(c.rho, 0.95)}`);
      make = () => tf.train.adadelta(lr0, numberOr(c.rho, 0.95), epsilon);
      break;
    case 'Adamax':
      make = () => tf.train.adamax(lr0, beta1, beta2, epsilon);
      break;
    default:
      if (name !== 'Adam' && name !== 'AdamW') dropped.push(`${name} itself (not in TensorFlow.js: the burst runs Adam with its learning rate)`);
      if (c.amsgrad === true) dropped.push('amsgrad');
      settings.push(...(beta1 !== 0.9 || beta2 !== 0.999 ? [`beta_1 ${beta1}`, `beta_2 ${beta2}`] : []), `epsilon ${epsilon}`);
      make = () => tf.train.adam(lr0, beta1, beta2, epsilon);
  }
  const weightDecay = numberOr(c.weight_decay, 0);
  if (weightDecay) settings.push(`weight decay ${weightDecay}`);
  const clipnorm = given(c.clipnorm) ? (c.clipnorm as number) : null;
  const clipvalue = given(c.clipvalue) ? (c.clipvalue as number) : null;
  if (clipnorm !== null) settings.push(`clipnorm ${clipnorm}`);
  if (clipvalue !== null) settings.push(`clipvalue ${clipvalue}`);
  if (given(c.global_clipnorm)) dropped.push(`global_clipnorm ${String(c.global_clipnorm)}`);
  if (c.use_ema === true) dropped.push('use_ema (its weights are not averaged)');
  if (given(c.gradient_accumulation_steps)) dropped.push(`gradient_accumulation_steps ${String(c.gradient_accumulation_steps)}`);
  const plainAdam = name === 'Adam' && !isObject(c.learning_rate) && beta1 === 0.9 && beta2 === 0.999 && !weightDecay && !dropped.length;
  return { name, described: `${name} (${settings.join(', ')})`, dropped, plainAdam, make, lrAt, weightDecay, clipnorm, clipvalue };
}
