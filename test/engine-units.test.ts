/**
 * Exact checks of the fused engine's pieces and of the verdicts, written to kill the mutants that
 * the parity tests could not see (StrykerJS, `npm run mutate`): clipping below the norm, each
 * optimizer's formula to the last bit, a network reused across batches, the verdict's thresholds.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/config/config.js';
import { buildModel } from '../src/model/model.js';
import { generateDataset } from '../src/task/data.js';
import { labelEntropy, SOLVED, verdict, type Evaluation } from '../src/task/metrics.js';
import { rngFor } from '../src/shared/random.js';
import { ADAGRAD, ADAM, RMSPROP } from '../src/config/constants.js';
import { FusedNetwork } from '../src/training/fused/network.js';
import { clipInPlace, TypedOptimizer } from '../src/training/fused/optimizers.js';
import { readParameters } from '../src/training/fused/parameters.js';
import { useBackend } from './helpers.js';

describe('clipping', () => {
  it('clipnorm leaves a gradient under the norm exactly as it is and rescales one over it', () => {
    const small = [new Float64Array([0.3, -0.4])];
    clipInPlace(small, 1, null);
    assert.deepEqual(Array.from(small[0]), [0.3, -0.4]);
    const big = [new Float64Array([3, -4])];
    clipInPlace(big, 1, null);
    assert.ok(Math.abs(big[0][0] - 0.6) < 1e-15 && Math.abs(big[0][1] + 0.8) < 1e-15, `${big[0]}`);
  });

  it('clipvalue clips each element to [-x, x], both sides', () => {
    const g = [new Float64Array([-3, -0.5, 0.5, 3])];
    clipInPlace(g, null, 1);
    assert.deepEqual(Array.from(g[0]), [-1, -0.5, 0.5, 1]);
  });
});

describe('optimizers: two steps against the formulas', () => {
  const grads = [new Float64Array([0.5, -2]), new Float64Array([1e-3, -1e-3])];
  const steps = [grads, grads.map((g) => g.map((v) => -0.5 * v))];
  const run = (config: Pick<Config, 'optimizer' | 'lr' | 'adamEpsilon'>) => {
    const params = [new Float64Array([1, 2]), new Float64Array([-1, 0.5])];
    const optimizer = new TypedOptimizer(config, params);
    for (const g of steps) optimizer.apply(params, g);
    return params.map((p) => Array.from(p));
  };
  /** The same two steps written out, one parameter at a time. */
  const expected = (update: (p: number, gs: number[]) => number) =>
    [
      [1, 2],
      [-1, 0.5],
    ].map((ps, k) =>
      ps.map((p, i) =>
        update(
          p,
          steps.map((s) => s[k][i]),
        ),
      ),
    );

  it('adam, with its epsilon', () => {
    const lr = 0.1;
    const eps = 0.3;
    const want = expected((p, gs) => {
      let [m, v] = [0, 0];
      gs.forEach((g, t) => {
        m = ADAM.beta1 * m + (1 - ADAM.beta1) * g;
        v = ADAM.beta2 * v + (1 - ADAM.beta2) * g * g;
        p -= (lr * (m / (1 - ADAM.beta1 ** (t + 1)))) / (Math.sqrt(v / (1 - ADAM.beta2 ** (t + 1))) + eps);
      });
      return p;
    });
    assert.deepEqual(run({ optimizer: 'adam', lr, adamEpsilon: eps }), want);
  });

  it('sgd, rmsprop (epsilon inside the root), adagrad (initial accumulator, epsilon inside the root)', () => {
    const lr = 0.1;
    assert.deepEqual(
      run({ optimizer: 'sgd', lr, adamEpsilon: 1e-7 }),
      expected((p, gs) => gs.reduce((q, g) => q - lr * g, p)),
    );
    assert.deepEqual(
      run({ optimizer: 'rmsprop', lr, adamEpsilon: 1e-7 }),
      expected((p, gs) => {
        let ms = 0;
        for (const g of gs) {
          ms = RMSPROP.rho * ms + (1 - RMSPROP.rho) * g * g;
          p -= (lr * g) / Math.sqrt(ms + RMSPROP.epsilon);
        }
        return p;
      }),
    );
    assert.deepEqual(
      run({ optimizer: 'adagrad', lr, adamEpsilon: 1e-7 }),
      expected((p, gs) => {
        let acc = ADAGRAD.initialAccumulator;
        for (const g of gs) {
          acc += g * g;
          p -= (lr * g) / Math.sqrt(acc + ADAGRAD.epsilon);
        }
        return p;
      }),
    );
  });
});

describe('fused network reused across batches', () => {
  before(() => useBackend('cpu'));

  it('gives the same gradients for a batch whatever batches it saw before, smaller or larger', () => {
    for (const bidirectional of [false, true]) {
      const config: Config = { ...ORIGINAL_EXPERIMENT, bidirectional, encoding: 'onehot', units: 4, seed: 1 };
      const model = buildModel(config, 5);
      const data = (n: number, stream: string) => generateDataset(n, rngFor(3, stream));
      const target = data(6, 'target');
      const fresh = new FusedNetwork(config, readParameters(model));
      const lossFresh = fresh.lossAndGradients(target.digits, target.labels, 6);
      const used = new FusedNetwork(config, readParameters(model));
      const big = data(9, 'big');
      used.lossAndGradients(big.digits, big.labels, 9);
      const lossUsed = used.lossAndGradients(target.digits, target.labels, 6);
      assert.equal(lossUsed, lossFresh);
      used.grads.forEach((g, k) => assert.deepEqual(Array.from(g), Array.from(fresh.grads[k]), `gradient ${k}`));
    }
  });

  it('refuses weights that do not match its config', () => {
    const model = buildModel(ORIGINAL_EXPERIMENT, 1);
    assert.throws(() => new FusedNetwork({ ...ORIGINAL_EXPERIMENT, batchNorm: true }, readParameters(model)), /do not match the config/);
    const params = readParameters(model);
    assert.throws(() => new FusedNetwork(ORIGINAL_EXPERIMENT, { ...params, state: [new Float64Array(1)] }), /expected 0 moving statistics, found 1/);
  });
});

describe('verdict thresholds and the entropy at its edges', () => {
  const base: Evaluation = {
    sequences: 100,
    loss: 0.3,
    floor: 0.5004,
    tokenAccuracy: 0.9,
    baselineAccuracy: 0.8,
    exactMatch: 0.4,
    precision: 0.6,
    recall: 0.5,
    f1: 0.55,
    recallFirst: 0.45,
    recallSecond: 0.55,
  };

  it('solved needs both thresholds, each inclusive', () => {
    const at = { ...base, tokenAccuracy: SOLVED.tokenAccuracy, exactMatch: SOLVED.exactMatch };
    assert.match(verdict(at), /^solved: 98\.0% exact-match, 99\.5% token accuracy$/);
    assert.doesNotMatch(verdict({ ...at, tokenAccuracy: 0.99 }), /^solved/);
    assert.doesNotMatch(verdict({ ...at, exactMatch: 0.97 }), /^solved/);
  });

  it('base rate: recall under 2% or a loss within 0.01 of the floor; the text says which loss', () => {
    assert.match(verdict({ ...base, recall: 0.019 }), /^loss 0\.3000 vs floor 0\.5004: the model predicts the base rate .*\(recall 1\.9%\)$/);
    assert.match(verdict({ ...base, recall: 0.02 }), /^partly learned/);
    assert.match(verdict({ ...base, loss: 0.5095 }), /predicts the base rate/);
    assert.match(verdict({ ...base, loss: 0.4905 }), /predicts the base rate/);
    assert.match(verdict({ ...base, loss: 0.5105 }), /^partly learned/);
    // Exactly 0.01 away is not "within": |0.01 − 0| is exactly 0.01 in floating point.
    assert.match(verdict({ ...base, loss: 0.01, floor: 0 }), /^partly learned/);
    assert.match(verdict({ ...base, loss: null, recall: 0 }), /^the model predicts the base rate/);
  });

  it('a gap over 0.3 between second and first occurrence is the one-directional signature', () => {
    assert.match(verdict({ ...base, recallFirst: 0.2, recallSecond: 0.51 }), /finds the second occurrence \(51\.0%\) but not the first \(20\.0%\)/);
    assert.equal(verdict({ ...base, recallFirst: 0.2, recallSecond: 0.5 }), 'partly learned: 40.0% exact-match, F1 0.550');
    assert.equal(verdict({ ...base, recallFirst: 0.4, recallSecond: 0.45 }), 'partly learned: 40.0% exact-match, F1 0.550');
  });

  it('no model is called learned at or below the majority-tag baseline (an untrained linear head: 24.8% accuracy, F1 0.324)', () => {
    const untrained = { ...base, loss: null, tokenAccuracy: 0.248, recall: 0.9, precision: 0.2, f1: 0.324, exactMatch: 0 };
    assert.equal(verdict(untrained), 'not learned: token accuracy 24.8% is no better than tagging every position with the most frequent tag (80.0%)');
    assert.match(verdict({ ...untrained, tokenAccuracy: 0.8 }), /^not learned/);
    assert.match(verdict({ ...untrained, tokenAccuracy: 0.81 }), /^partly learned/);
  });

  it('a non-finite loss is said first, and the tags still judged; labels all one class have no entropy', () => {
    assert.equal(verdict({ ...base, loss: Infinity }), 'loss Infinity, not finite (seq-tag doctor says why); partly learned: 40.0% exact-match, F1 0.550');
    assert.equal(labelEntropy(new Int32Array(20)), 0);
    assert.equal(labelEntropy(new Int32Array(20).fill(1)), 0);
    assert.ok(Math.abs(labelEntropy(Int32Array.from([0, 1])) - Math.log(2)) < 1e-15);
  });
});
