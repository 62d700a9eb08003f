import type { Config } from '../../config/config.js';
import { ADAGRAD, ADAM, RMSPROP } from '../../config/constants.js';
import { namedCopies, stateArray, type StateArrays } from '../state.js';
import { nativeBookkeeping } from './wasm/instance.js';

/** Keras's clipnorm (per tensor) and clipvalue (per element), in place. */
export function clipInPlace(grads: Float64Array[], clipnorm: number | null, clipvalue: number | null): void {
  for (const g of grads) {
    if (clipnorm !== null) {
      let sq = 0;
      for (let k = 0; k < g.length; k++) sq += g[k] * g[k];
      const norm = Math.sqrt(sq);
      if (norm > clipnorm) {
        const f = clipnorm / norm;
        for (let k = 0; k < g.length; k++) g[k] *= f;
      }
    }
    if (clipvalue !== null) {
      for (let k = 0; k < g.length; k++) g[k] = g[k] < -clipvalue ? -clipvalue : g[k] > clipvalue ? clipvalue : g[k];
    }
  }
}

/** The four optimizers with tfjs's update formulas and Keras's defaults, on typed arrays. */
export class TypedOptimizer {
  private readonly slots1: Float64Array[];
  private readonly slots2: Float64Array[];
  private step = 0;
  /** Adam's loop compiled (the same bits, about 4× faster at 128 units) when the native kernels run. */
  private readonly native = nativeBookkeeping();
  /** The learning rate of the next steps: the config's, until a schedule lowers it. */
  lr: number;

  constructor(
    private readonly config: Pick<Config, 'optimizer' | 'lr' | 'adamEpsilon'>,
    params: Float64Array[],
  ) {
    this.lr = config.lr;
    const init = config.optimizer === 'adagrad' ? ADAGRAD.initialAccumulator : 0;
    this.slots1 = params.map((p) => new Float64Array(p.length).fill(init));
    this.slots2 = params.map((p) => new Float64Array(p.length));
  }

  /** The step count and both slots of every weight, as copies. */
  snapshot(): StateArrays {
    return [
      { name: 'optimizer/step', values: Float64Array.of(this.step) },
      ...namedCopies('optimizer/slot1', this.slots1),
      ...namedCopies('optimizer/slot2', this.slots2),
    ];
  }

  restore(arrays: StateArrays): void {
    this.step = stateArray(arrays, 'optimizer/step', 1)[0];
    this.slots1.forEach((s, i) => s.set(stateArray(arrays, `optimizer/slot1/${i}`, s.length)));
    this.slots2.forEach((s, i) => s.set(stateArray(arrays, `optimizer/slot2/${i}`, s.length)));
  }

  apply(params: Float64Array[], grads: Float64Array[]): void {
    this.step++;
    const lr = this.lr;
    // One plain function a tensor rather than a closure in forEach: the same arithmetic in the same
    // order (the same bits), in a loop V8 compiles once (alone: 4.0 ns a weight against 6.4).
    switch (this.config.optimizer) {
      case 'adam': {
        // lr·m̂ / (√v̂ + ε) with the bias corrections folded into two constants: one division and
        // one square root per weight (this loop runs over every weight at every step).
        const step = lr / (1 - ADAM.beta1 ** this.step);
        const scale = 1 / Math.sqrt(1 - ADAM.beta2 ** this.step);
        const eps = this.config.adamEpsilon;
        if (this.native) {
          for (let k = 0; k < params.length; k++)
            this.native.adam(params[k], grads[k], this.slots1[k], this.slots2[k], step, scale, eps, ADAM.beta1, ADAM.beta2);
        } else {
          for (let k = 0; k < params.length; k++) adamStep(params[k], grads[k], this.slots1[k], this.slots2[k], step, scale, eps);
        }
        return;
      }
      case 'sgd':
        for (let k = 0; k < params.length; k++) sgdStep(params[k], grads[k], lr);
        return;
      case 'rmsprop':
        for (let k = 0; k < params.length; k++) rmspropStep(params[k], grads[k], this.slots1[k], lr);
        return;
      case 'adagrad':
        for (let k = 0; k < params.length; k++) adagradStep(params[k], grads[k], this.slots1[k], lr);
        return;
    }
  }
}

function adamStep(p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, step: number, scale: number, eps: number): void {
  const { beta1: b1, beta2: b2 } = ADAM;
  const [c1, c2] = [1 - b1, 1 - b2];
  for (let i = 0; i < p.length; i++) {
    const gi = g[i];
    const mi = b1 * m[i] + c1 * gi;
    const vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= (step * mi) / (Math.sqrt(vi) * scale + eps);
  }
}

function sgdStep(p: Float64Array, g: Float64Array, lr: number): void {
  for (let i = 0; i < p.length; i++) p[i] -= lr * g[i];
}

function rmspropStep(p: Float64Array, g: Float64Array, ms: Float64Array, lr: number): void {
  const { rho, epsilon } = RMSPROP;
  const c = 1 - rho;
  for (let i = 0; i < p.length; i++) {
    ms[i] = rho * ms[i] + c * g[i] * g[i];
    p[i] -= (lr * g[i]) / Math.sqrt(ms[i] + epsilon);
  }
}

function adagradStep(p: Float64Array, g: Float64Array, acc: Float64Array, lr: number): void {
  const epsilon = ADAGRAD.epsilon;
  for (let i = 0; i < p.length; i++) {
    acc[i] += g[i] * g[i];
    p[i] -= (lr * g[i]) / Math.sqrt(acc[i] + epsilon);
  }
}
