import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ORIGINAL_EXPERIMENT } from '../src/config/config.js';
import { buildModel, orthogonal, summarize } from '../src/model/model.js';
import { useBackend } from './helpers.js';

describe('buildModel', () => {
  before(() => useBackend('cpu'));

  it('is the seed architecture: 1,186 parameters, output [batch, 10, 2]', () => {
    const model = buildModel(ORIGINAL_EXPERIMENT, 1);
    const summary = summarize(model);
    assert.equal(summary.totalParams, 1186);
    assert.equal(summary.trainableParams, 1186);
    assert.deepEqual(
      summary.layers.map((l) => [l.name, l.type, l.outputShape, l.params]),
      [
        ['lstm', 'LSTM', [null, 10, 16], 1152],
        ['time_distributed', 'TimeDistributed', [null, 10, 2], 34],
      ],
    );
    const out = model.predict(tf.randomUniform([3, 10, 1], 0, 10)) as tf.Tensor;
    assert.deepEqual(out.shape, [3, 10, 2]);
    const sums = tf.sum(out, -1).dataSync();
    for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5, `row sum ${s}`);
  });

  it('uses the Keras >= 2.3 LSTM (sigmoid gates, unit forget bias) unless asked for hardSigmoid', () => {
    const config = buildModel(ORIGINAL_EXPERIMENT, 1).layers[0].getConfig();
    assert.equal(config.recurrentActivation, 'sigmoid');
    assert.equal(config.unitForgetBias, true);
    const bias = buildModel(ORIGINAL_EXPERIMENT, 1).layers[0].getWeights()[2].dataSync();
    assert.deepEqual(Array.from(bias.slice(16, 32)), new Array(16).fill(1));
    const old = buildModel({ ...ORIGINAL_EXPERIMENT, recurrentActivation: 'hardSigmoid' }, 1).layers[0].getConfig();
    assert.equal(old.recurrentActivation, 'hardSigmoid');
  });

  it('seeds every initialiser: same seed, same weights; other seed, other weights', () => {
    const weights = (seed: number) =>
      buildModel(ORIGINAL_EXPERIMENT, seed)
        .getWeights()
        .map((w) => Array.from(w.dataSync()));
    const a = weights(5);
    assert.deepEqual(a, weights(5));
    const b = weights(6);
    // kernel, recurrent kernel and dense kernel all change with the seed.
    for (const k of [0, 1, 3]) assert.notDeepEqual(a[k], b[k], `weight ${k}`);
  });

  it('one-hot input widens the LSTM kernel', () => {
    const summary = summarize(buildModel({ ...ORIGINAL_EXPERIMENT, encoding: 'onehot' }, 1));
    assert.equal(summary.layers[0].params, 4 * 16 * (10 + 16 + 1));
  });
});

describe('orthogonal initialiser', () => {
  it("gives tfjs's seeded orthogonal matrix, fast at large sizes", async () => {
    await useBackend('cpu');
    const warn = console.warn;
    console.warn = () => {};
    for (const shape of [
      [16, 64],
      [64, 256],
      [10, 64],
    ]) {
      const stock = tfl.initializers.orthogonal({ seed: 7 }).apply(shape).dataSync();
      const ours = orthogonal(shape, 7).dataSync();
      assert.ok(
        stock.every((v, i) => Math.abs(v - ours[i]) < 2e-6),
        `${shape}`,
      );
    }
    console.warn = warn;
    const started = performance.now();
    const q = orthogonal([256, 1024], 1);
    assert.ok(performance.now() - started < 3000, 'seconds, not minutes');
    // Rows orthonormal: Q Qᵀ = I.
    const gram = tf.max(tf.abs(tf.sub(tf.matMul(q, q, false, true), tf.eye(256)))).dataSync()[0];
    assert.ok(gram < 1e-5, `Q Qᵀ = I within ${gram}`);
  });

  it('a built model keeps saying Orthogonal(seed) in its config', () => {
    const model = buildModel({ ...ORIGINAL_EXPERIMENT, units: 80 }, 3);
    const config = JSON.stringify(model.getConfig());
    assert.match(config, /"recurrentInitializer":\{"className":"Orthogonal","config":\{"gain":1,"seed":\d+\}\}/);
  });
});

describe('tensor hygiene', () => {
  it('building and disposing a model leaves no tensor behind, in every architecture', async () => {
    await useBackend('cpu');
    buildModel(ORIGINAL_EXPERIMENT, 1).dispose();
    for (const extra of [{}, { bidirectional: true }, { batchNorm: true, layerNorm: true }, { units: 80, encoding: 'onehot' as const }]) {
      const before = tf.memory().numTensors;
      buildModel({ ...ORIGINAL_EXPERIMENT, ...extra }, 1).dispose();
      assert.equal(tf.memory().numTensors, before, JSON.stringify(extra));
    }
  });
});
