import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/config/config.js';
import { featureTensor, generateDataset, labelTensor } from '../src/task/data.js';
import { gemmNT } from '../src/training/fused/kernels.js';
import { FLOAT64, FusedNetwork, type Arithmetic } from '../src/training/fused/network.js';
import { readParameters } from '../src/training/fused/parameters.js';
import { buildModel } from '../src/model/model.js';
import { rngFor } from '../src/shared/random.js';
import { tagLoss } from '../src/training/train.js';
import { assertClose, useBackend } from './helpers.js';
import { fusedPredictor } from '../src/training/fused/inference.js';
import { taskData } from '../src/task/tag-data.js';
import { LAYER_NORM } from '../src/config/constants.js';
import type { TaskInput } from '../src/config/config.js';

/**
 * Random weights of a wider spread than the initialisers, so that no gate sits in its linear region
 * only. Heads that are not softmax get a positive Dense bias: otherwise most output rows have a zero
 * or negative entry, the clip is active everywhere and every gradient is zero (a vacuous check).
 */
function randomizeWeights(model: tfl.LayersModel, seed: number, activation: Config['activation']): void {
  const weights = model.getWeights();
  model.setWeights(
    weights.map((w, k) =>
      k === weights.length - 1 && activation !== 'softmax' ? tf.fill(w.shape, 2) : tf.randomUniform(w.shape, -0.8, 0.8, 'float32', seed + k),
    ),
  );
}

type Case = Pick<Config, 'encoding' | 'bidirectional' | 'recurrentActivation' | 'activation'> & {
  batch: number;
  batchNorm?: boolean;
  layerNorm?: boolean;
  units?: number;
};

const CASES: Case[] = [
  { encoding: 'scalar', bidirectional: false, recurrentActivation: 'sigmoid', activation: 'softmax', batch: 32 },
  { encoding: 'scalar', bidirectional: false, recurrentActivation: 'sigmoid', activation: 'softmax', batch: 7 },
  { encoding: 'onehot', bidirectional: false, recurrentActivation: 'sigmoid', activation: 'softmax', batch: 1 },
  { encoding: 'scalar', bidirectional: true, recurrentActivation: 'sigmoid', activation: 'softmax', batch: 5 },
  { encoding: 'onehot', bidirectional: true, recurrentActivation: 'sigmoid', activation: 'softmax', batch: 32 },
  { encoding: 'onehot', bidirectional: true, recurrentActivation: 'hardSigmoid', activation: 'softmax', batch: 9 },
  { encoding: 'scalar', bidirectional: false, recurrentActivation: 'hardSigmoid', activation: 'sigmoid', batch: 8 },
  { encoding: 'onehot', bidirectional: false, recurrentActivation: 'sigmoid', activation: 'relu', batch: 6 },
  { encoding: 'scalar', bidirectional: true, recurrentActivation: 'sigmoid', activation: 'linear', batch: 4 },
  { encoding: 'scalar', bidirectional: false, recurrentActivation: 'sigmoid', activation: 'softmax', batch: 7, batchNorm: true },
  { encoding: 'onehot', bidirectional: true, recurrentActivation: 'sigmoid', activation: 'softmax', batch: 5, layerNorm: true },
  { encoding: 'onehot', bidirectional: false, recurrentActivation: 'sigmoid', activation: 'sigmoid', batch: 9, batchNorm: true, layerNorm: true },
];

/**
 * Wider models, where the float32 kernels' blocked loops (4 rows × 8 columns) do most of the work
 * (tf.layers takes over a minute for a 128-unit case: test/wasm.test.ts checks 128 units against the float64 engine).
 */
const WIDE: Case[] = [
  { encoding: 'onehot', bidirectional: false, recurrentActivation: 'hardSigmoid', activation: 'softmax', batch: 13, units: 64 },
  { encoding: 'scalar', bidirectional: true, recurrentActivation: 'sigmoid', activation: 'softmax', batch: 6, units: 37, layerNorm: true },
];

const ARITHMETICS: Arithmetic[] = [FLOAT64, { precision: 'float32', threads: 1 }, { precision: 'float32', threads: 2 }];

describe('fused engine parity with tfl.layers', () => {
  before(() => useBackend('cpu'));

  for (const arithmetic of ARITHMETICS)
    for (const c of [...CASES, ...WIDE]) {
      parityCase(c, arithmetic);
    }
});

describe('the fused forward pass at inference (predict, evaluate) matches model.predict', () => {
  before(() => useBackend('cpu'));

  it('every digit-task architecture it computes, in chunks of 1,024 sequences, within 1e-5; BatchNormalization left to tf.layers', () => {
    const data = generateDataset(1100, rngFor(7, 'inference'));
    for (const c of CASES) {
      const config: Config = { ...ORIGINAL_EXPERIMENT, ...c, batchNorm: !!c.batchNorm, layerNorm: !!c.layerNorm, units: c.units ?? 6, seed: 3 };
      const model = buildModel(config, 3);
      randomizeWeights(model, 41, c.activation);
      const fused = fusedPredictor(model, 'digits');
      if (c.batchNorm) {
        assert.equal(fused, undefined, "the forward pass uses a batch's statistics, as in training: tf.layers runs it");
        model.dispose();
        continue;
      }
      assert.ok(fused, `${JSON.stringify(c)}: computed by the fused engine`);
      const out = fused(taskData(data, config.encoding as TaskInput, 'parity'), data.n);
      fused.dispose();
      const expected = tf.tidy(() => (model.predict(featureTensor(data.digits, config.encoding)) as tf.Tensor).dataSync());
      assertClose(out, expected, `${c.encoding} ${c.bidirectional ? 'bi' : 'uni'} ${c.activation}${c.layerNorm ? ' LN' : ''}`, 1e-5, true);
      model.dispose();
    }
  });
});

describe('LayerNormalization at inference: computed fused only in the form the engine trains', () => {
  before(() => useBackend('cpu'));

  /** LSTM(6) on one-hot digits → LayerNormalization(options) → Dense(2, softmax), weights spread. */
  function withNorm(options: Record<string, unknown>, steps: number | null = 10): tfl.LayersModel {
    const model = tfl.sequential();
    model.add(tfl.layers.lstm({ units: 6, returnSequences: true, inputShape: [steps, 10] }));
    model.add(tfl.layers.layerNormalization(options));
    model.add(tfl.layers.timeDistributed({ layer: tfl.layers.dense({ units: 2, activation: 'softmax' }) }));
    randomizeWeights(model, 11, 'softmax');
    return model;
  }
  const data = generateDataset(40, rngFor(8, 'norm-forms'));

  it('each spelling of the last axis (-1, [-1], 2, [2]) with epsilon 1e-3, centred and scaled: fused, within 1e-5 of model.predict', () => {
    for (const axis of [-1, [-1], 2, [2]]) {
      const model = withNorm({ axis, epsilon: LAYER_NORM.epsilon });
      const fused = fusedPredictor(model, 'digits');
      assert.ok(fused, `axis ${JSON.stringify(axis)}: computed by the fused engine`);
      const out = fused(taskData(data, 'onehot', 'norm'), data.n);
      fused.dispose();
      const expected = tf.tidy(() => (model.predict(featureTensor(data.digits, 'onehot')) as tf.Tensor).dataSync());
      assertClose(out, expected, `axis ${JSON.stringify(axis)}`, 1e-5, true);
      model.dispose();
    }
  });

  it('another axis, epsilon, or no centre or scale: left to tf.layers', () => {
    for (const options of [{ axis: 1 }, { epsilon: 1e-5 }, { center: false }, { scale: false }]) {
      const model = withNorm({ epsilon: LAYER_NORM.epsilon, ...options });
      assert.equal(fusedPredictor(model, 'digits'), undefined, JSON.stringify(options));
      model.dispose();
    }
  });

  it('a predictor that ran a full chunk on two threads ends its helper thread when disposed', async () => {
    const threads = () => readdirSync('/proc/self/task').length;
    const many = generateDataset(1024, rngFor(9, 'threads'));
    const models = [0, 1, 2].map(() => withNorm({ epsilon: LAYER_NORM.epsilon }));
    const predictors = models.map((m) => fusedPredictor(m, 'digits')!);
    // 1,024 rows: the second half of each chunk on a helper thread, one per predictor.
    for (const p of predictors) p(taskData(many, 'onehot', 'threads'), many.n);
    const running = threads();
    predictors.forEach((p) => p.dispose());
    for (let i = 0; i < 100 && running - threads() < 3; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(running - threads() >= 3, `${running} threads with the predictors, ${threads()} after disposing them`);
    models.forEach((m) => m.dispose());
  });

  it("an input of any length (Keras's None) is the digit network too; one of 12 steps is not", () => {
    const open = withNorm({ epsilon: LAYER_NORM.epsilon }, null);
    const fused = fusedPredictor(open, 'digits');
    assert.ok(fused, 'steps None: computed by the fused engine');
    const expected = tf.tidy(() => (open.predict(featureTensor(data.digits, 'onehot')) as tf.Tensor).dataSync());
    assertClose(fused(taskData(data, 'onehot', 'norm'), data.n), expected, 'steps None', 1e-5, true);
    fused.dispose();
    open.dispose();
    const twelve = withNorm({ epsilon: LAYER_NORM.epsilon }, 12);
    assert.equal(fusedPredictor(twelve, 'digits'), undefined);
    twelve.dispose();
  });
});

function parityCase(c: Case, arithmetic: Arithmetic): void {
  const norms = [c.batchNorm && 'BatchNorm', c.layerNorm && 'LayerNorm'].filter(Boolean).join(' + ');
  const name = `${c.bidirectional ? 'bidirectional' : 'unidirectional'} ${c.units ?? 6}, ${c.encoding}, ${c.recurrentActivation} gates, ${norms ? `${norms}, ` : ''}${c.activation} head, batch ${c.batch}`;
  it(`${arithmetic.precision}${arithmetic.threads > 1 ? ' on 2 threads' : ''}: outputs and every gradient match: ${name}`, () => {
    const config: Config = { ...ORIGINAL_EXPERIMENT, ...c, batchNorm: !!c.batchNorm, layerNorm: !!c.layerNorm, units: c.units ?? 6, seed: 3 };
    const model = buildModel(config, 3);
    randomizeWeights(model, 40, c.activation);
    const data = generateDataset(c.batch, rngFor(c.batch, 'parity'));
    const x = featureTensor(data.digits, config.encoding);
    const y = labelTensor(data.labels);

    const net = new FusedNetwork(config, readParameters(model), arithmetic);
    const initialState = readParameters(model).state;
    // Training mode: normalisation layers use the batch's statistics.
    const fusedOut = net.forward(data.digits, c.batch).slice();
    assertClose(
      fusedOut,
      tf.tidy(() => (model.apply(x, { training: true }) as tf.Tensor).dataSync()),
      'outputs',
    );

    const fusedLoss = net.lossAndGradients(data.digits, data.labels, c.batch);
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => tagLoss(y, model.apply(x, { training: true }) as tf.Tensor), variables);
    assertClose([fusedLoss], value.dataSync(), 'loss');
    const names = model.trainableWeights.map((w) => w.name);
    variables.forEach((v, k) => {
      assert.ok(
        net.grads[k].some((g) => g !== 0),
        `gradient of ${names[k]} is not all zero`,
      );
      assertClose(net.grads[k], grads[v.name].dataSync(), `gradient of ${names[k]}`);
    });

    if (c.batchNorm) {
      // From the averages m0 before training, one fused step gives m1 = b + (m0 − b)·0.99 for the
      // batch statistic b; tfjs has run two training-mode passes on the same batch by now
      // (outputs, gradients), so it must hold b + (m0 − b)·0.99².
      net.params.state.forEach((m1, which) => {
        const expected = m1.map((v, k) => {
          const m0 = initialState[which][k];
          const b = (v - 0.99 * m0) / 0.01;
          return b + (m0 - b) * 0.99 * 0.99;
        });
        assertClose(expected, model.nonTrainableWeights[which].read().dataSync(), which ? 'moving variance' : 'moving mean', 1e-4);
      });
    }

    const dx = tf.grad((input: tf.Tensor) => tagLoss(y, model.apply(input, { training: true }) as tf.Tensor))(x);
    assertClose(net.inputGradient(c.batch), dx.dataSync(), 'gradient of the inputs');
    net.dispose();
  });
}

describe('gemmNT', () => {
  it('multiplies with odd sizes, offsets and accumulation', () => {
    const m = 3,
      n = 5,
      p = 7;
    const a = Float64Array.from({ length: 2 + m * p }, (_, i) => Math.sin(i));
    const bt = Float64Array.from({ length: n * p }, (_, i) => Math.cos(i));
    const c = new Float64Array(1 + m * n).fill(1);
    gemmNT(c, 1, a, 2, bt, 0, m, n, p, true);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 1;
        for (let q = 0; q < p; q++) s += a[2 + i * p + q] * bt[j * p + q];
        assert.ok(Math.abs(c[1 + i * n + j] - s) < 1e-12);
      }
    }
    assert.equal(c[0], 1, 'before the offset: untouched');
  });
});
