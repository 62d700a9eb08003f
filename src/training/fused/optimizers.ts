import type { Config } from '../../config/config.js';
import { ADAGRAD, ADAM, RMSPROP } from '../../config/constants.js';
import { namedCopies, stateArray, type StateArrays } from '../state.js';

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
    switch (this.config.optimizer) {
      case 'adam': {
        const { beta1: b1, beta2: b2 } = ADAM;
        const eps = this.config.adamEpsilon;
        // lr·m̂ / (√v̂ + ε) with the bias corrections folded into two constants: one division and
        // one square root per weight (this loop runs over every weight at every step).
        const step = lr / (1 - b1 ** this.step);
        const scale = 1 / Math.sqrt(1 - b2 ** this.step);
        params.forEach((p, k) => {
          const g = grads[k];
          const m = this.slots1[k];
          const v = this.slots2[k];
          for (let i = 0; i < p.length; i++) {
            const gi = g[i];
            const mi = b1 * m[i] + (1 - b1) * gi;
            const vi = b2 * v[i] + (1 - b2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] -= (step * mi) / (Math.sqrt(vi) * scale + eps);
          }
        });
        return;
      }
      case 'sgd':
        params.forEach((p, k) => {
          const g = grads[k];
          for (let i = 0; i < p.length; i++) p[i] -= lr * g[i];
        });
        return;
      case 'rmsprop': {
        const { rho, epsilon } = RMSPROP;
        params.forEach((p, k) => {
          const g = grads[k];
          const ms = this.slots1[k];
          for (let i = 0; i < p.length; i++) {
            ms[i] = rho * ms[i] + (1 - rho) * g[i] * g[i];
            p[i] -= (lr * g[i]) / Math.sqrt(ms[i] + epsilon);
          }
        });
        return;
      }
      case 'adagrad':
        params.forEach((p, k) => {
          const g = grads[k];
          const acc = this.slots1[k];
          for (let i = 0; i < p.length; i++) {
            acc[i] += g[i] * g[i];
            p[i] -= (lr * g[i]) / Math.sqrt(acc[i] + ADAGRAD.epsilon);
          }
        });
        return;
    }
  }
}
