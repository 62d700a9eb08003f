/**
 * One training step per remedy, fused engine against tf.layers, at 1e-6 (relative to the largest weight), on settings where the
 * remedy moves the weights by far more than that: so a remedy that silently stops working in
 * either engine (clipping made a no-op, Adam ignoring its epsilon, a wrong momentum…) fails here.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/config/config.js';
import { buildModel } from '../src/model/model.js';
import { featureTensor, generateDataset, labelTensor, SEQUENCE_LENGTH } from '../src/task/data.js';
import { rngFor } from '../src/shared/random.js';
import { FusedNetwork } from '../src/training/fused/network.js';
import { clipInPlace, TypedOptimizer } from '../src/training/fused/optimizers.js';
import { readParameters } from '../src/training/fused/parameters.js';
import { layersEngine } from '../src/training/train.js';
import { useBackend } from './helpers.js';

const BATCH = 16;
const TOLERANCE = 1e-6;

/** Every weight (trainable and moving statistics) after `steps` steps of one engine from the same start. */
function afterSteps(config: Config, engine: 'fused' | 'layers', steps = 1): Float64Array {
  const model = buildModel(config, 11);
  const data = generateDataset(BATCH, rngFor(4, 'remedy'));
  const indices = Int32Array.from({ length: BATCH }, (_, i) => i);
  if (engine === 'layers') {
    const x = featureTensor(data.digits, config.encoding);
    const y = labelTensor(data.labels);
    const step = layersEngine(model, x, y, config);
    for (let s = 0; s < steps; s++) step.step(indices);
    step.finish(true);
    tf.dispose([x, y]);
    return Float64Array.from(model.weights.flatMap((w) => Array.from(w.read().dataSync())));
  }
  const params = readParameters(model);
  const net = new FusedNetwork(config, params);
  const optimizer = new TypedOptimizer(config, params.tensors);
  for (let s = 0; s < steps; s++) {
    net.lossAndGradients(data.digits, data.labels, BATCH);
    if (config.clipnorm !== null || config.clipvalue !== null) clipInPlace(net.grads, config.clipnorm, config.clipvalue);
    optimizer.apply(params.tensors, net.grads);
  }
  // model.weights order: trainable and non-trainable interleaved per layer, as tfjs lists them.
  const byName = new Map<string, Float64Array>();
  model.trainableWeights.forEach((w, k) => byName.set(w.name, params.tensors[k]));
  model.nonTrainableWeights.forEach((w, k) => byName.set(w.name, params.state[k]));
  return Float64Array.from(model.weights.flatMap((w) => Array.from(byName.get(w.name)!)));
}

/** ‖a − b‖∞ / ‖b‖∞: float32 tfjs against float64 fused rounds relative to the weights' size. */
function maxDiff(a: Float64Array, b: Float64Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return d / scale;
}

const BASE: Config = { ...ORIGINAL_EXPERIMENT, samples: BATCH, batchSize: BATCH, units: 5, lr: 0.05, seed: 11 };

/** Each remedy with a setting where it matters, and the same step without it (or with its default). */
const REMEDIES: { name: string; config: Partial<Config>; without: Partial<Config> }[] = [
  // Adam's first step is lr·sign(g) whatever the gradient's scale, so clipping is checked under SGD.
  { name: 'clipnorm 0.01 (SGD)', config: { optimizer: 'sgd', lr: 0.5, clipnorm: 0.01 }, without: { optimizer: 'sgd', lr: 0.5 } },
  { name: 'clipvalue 0.001 (SGD)', config: { optimizer: 'sgd', lr: 0.5, clipvalue: 0.001 }, without: { optimizer: 'sgd', lr: 0.5 } },
  { name: 'Adam epsilon 0.5', config: { adamEpsilon: 0.5 }, without: {} },
  { name: 'SGD', config: { optimizer: 'sgd', lr: 0.5 }, without: { optimizer: 'sgd', lr: 0.05 } },
  { name: 'RMSprop', config: { optimizer: 'rmsprop', lr: 0.01 }, without: { lr: 0.01 } },
  { name: 'Adagrad', config: { optimizer: 'adagrad', lr: 0.1 }, without: { lr: 0.1 } },
  { name: 'BatchNormalization', config: { batchNorm: true }, without: {} },
  { name: 'LayerNormalization', config: { layerNorm: true }, without: {} },
  { name: 'BatchNormalization on the linear head', config: { batchNorm: true, activation: 'linear' }, without: { activation: 'linear' } },
  {
    name: 'bidirectional one-hot, clipnorm 0.01 (SGD)',
    config: { bidirectional: true, encoding: 'onehot', optimizer: 'sgd', lr: 0.5, clipnorm: 0.01 },
    without: { bidirectional: true, encoding: 'onehot', optimizer: 'sgd', lr: 0.5 },
  },
];

describe('one step per remedy: fused engine = tf.layers within 1e-6', () => {
  before(() => useBackend('cpu'));

  for (const r of REMEDIES) {
    it(r.name, () => {
      const config = { ...BASE, ...r.config };
      const fused = afterSteps(config, 'fused');
      const layers = afterSteps(config, 'layers');
      const gap = maxDiff(fused, layers);
      assert.ok(gap <= TOLERANCE, `fused vs layers: ${gap.toExponential(2)}`);
      // The check is not vacuous: the remedy moves the weights by far more than the tolerance.
      if (!r.config.batchNorm && !r.config.layerNorm) {
        const effect = maxDiff(afterSteps({ ...BASE, ...r.without }, 'layers'), layers);
        assert.ok(effect > 100 * TOLERANCE, `${r.name} changes the step by only ${effect.toExponential(2)}`);
      }
    });
  }

  it("the normalisation layers' constants are the ones both engines share", () => {
    const model = buildModel({ ...BASE, batchNorm: true, layerNorm: true }, 1);
    const config = (name: string) => model.layers.find((l) => l.name === name)!.getConfig() as { momentum?: number; epsilon?: number };
    assert.deepEqual([config('batch_normalization').momentum, config('batch_normalization').epsilon], [0.99, 1e-3]);
    assert.equal(config('layer_normalization').epsilon, 1e-3);
    assert.equal(SEQUENCE_LENGTH, 10);
    assert.ok(tfl);
  });
});
