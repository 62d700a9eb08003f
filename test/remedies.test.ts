import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/config/config.js';
import { buildModel, summarize } from '../src/model/model.js';
import { clipGradients, makeOptimizer } from '../src/training/train.js';
import { useBackend } from './helpers.js';

const config: Config = { ...ORIGINAL_EXPERIMENT, seed: 2 };

/** A tensor's values to 5 decimals, to compare with written-out numbers. */
const rounded = (t: tf.Tensor) => Array.from(t.dataSync()).map((v) => +v.toFixed(5));

describe('remedy flags change the model and optimizer as named', () => {
  before(() => useBackend('cpu'));

  it('--batch-norm adds BatchNormalization after the LSTM: 64 params, 1,250 total', () => {
    const s = summarize(buildModel({ ...config, batchNorm: true }, 2));
    assert.deepEqual(
      s.layers.map((l) => l.type),
      ['LSTM', 'BatchNormalization', 'TimeDistributed'],
    );
    assert.equal(s.layers[1].params, 64);
    assert.equal(s.totalParams, 1250);
    assert.equal(s.trainableParams, 1218);
  });

  it('--layer-norm adds LayerNormalization: 32 params, 1,218 total', () => {
    const s = summarize(buildModel({ ...config, layerNorm: true }, 2));
    assert.deepEqual(
      s.layers.map((l) => l.type),
      ['LSTM', 'LayerNormalization', 'TimeDistributed'],
    );
    assert.equal(s.totalParams, 1218);
  });

  it('--activation sets the head', () => {
    const model = buildModel({ ...config, activation: 'linear' }, 2);
    const dense = (model.layers[1].getConfig().layer as { config: { activation: string } }).config;
    assert.equal(dense.activation, 'linear');
  });

  it('--kernel-initializer and --recurrent-initializer pick the initialisers', () => {
    const zeros = buildModel({ ...config, kernelInitializer: 'zeros', recurrentInitializer: 'zeros' }, 2).getWeights();
    assert.ok(
      zeros[0].dataSync().every((v) => v === 0),
      'LSTM kernel',
    );
    assert.ok(
      zeros[1].dataSync().every((v) => v === 0),
      'recurrent kernel',
    );
    assert.ok(
      zeros[3].dataSync().every((v) => v === 0),
      'dense kernel',
    );
    const narrow = buildModel({ ...config, kernelInitializer: 'randomNormal' }, 2).getWeights()[0];
    const wide = buildModel(config, 2).getWeights()[0];
    const std = (t: tf.Tensor) => tf.sqrt(tf.moments(t).variance).dataSync()[0];
    assert.ok(std(narrow) < 0.08 && std(wide) > 0.12, `randomNormal std ${std(narrow)} vs glorotUniform ${std(wide)}`);
  });

  it('--optimizer and --adam-epsilon build the named optimizer with its settings', () => {
    const names = (['adam', 'sgd', 'rmsprop', 'adagrad'] as const).map((o) => makeOptimizer({ optimizer: o, lr: 0.01, adamEpsilon: 1e-7 }).getClassName());
    assert.deepEqual(names, ['Adam', 'SGD', 'RMSProp', 'Adagrad']);
    const adam = makeOptimizer({ optimizer: 'adam', lr: 0.002, adamEpsilon: 0.1 }).getConfig();
    assert.equal(adam.epsilon, 0.1);
    assert.equal(adam.learningRate, 0.002);
  });

  it('--clipnorm rescales each gradient tensor to that norm; --clipvalue clips elements', () => {
    const grads = { a: tf.tensor1d([3, 4]), b: tf.tensor1d([0.3, 0.4]) };
    const byNorm = clipGradients(grads, { clipnorm: 1, clipvalue: null });
    assert.deepEqual(rounded(byNorm.a), [0.6, 0.8]);
    assert.deepEqual(rounded(byNorm.b), [0.3, 0.4], 'under the norm: unchanged');
    const byValue = clipGradients(grads, { clipnorm: null, clipvalue: 0.35 });
    assert.deepEqual(rounded(byValue.a), [0.35, 0.35]);
    assert.deepEqual(rounded(byValue.b), [0.3, 0.35]);
  });
});
