/**
 * The fused engine on text taggers (issue #34): Embedding(mask_zero) → LSTM or BiLSTM → Dense(C,
 * softmax) against tf.layers, on padded batches of sentences of different lengths: the loss and
 * every gradient of one batch within 1e-5, and whole training runs on the same loss curve.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/config/config.js';
import { buildModel } from '../src/model/model.js';
import { FusedTagger, taggerOf, taggerProbabilities, taggerShapeOf } from '../src/training/fused/tagger.js';
import { readParameters } from '../src/training/fused/parameters.js';
import { batchLoss, modelLoss } from '../src/training/losses.js';
import { trainTagged } from '../src/training/train.js';
import { PADDING_MASK } from '../src/task/vocabulary.js';
import type { TagData } from '../src/task/tag-data.js';
import { rngFor } from '../src/shared/random.js';
import { assertClose as close, useBackend } from './helpers.js';

const V = 13;
const C = 5;

/** Within 1e-5, and not all zero (a gradient that is zero everywhere would pass vacuously). */
const assertClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => close(actual, expected, what, 1e-5, true);

/** `n` right-padded sentences of 1 … T words (ids 1 … V−1) with tags, as text-data encodes them. */
function sentences(n: number, T: number, seed: number): TagData {
  const rng = rngFor(seed, 'sentences');
  const x = new Float32Array(n * T);
  const y = new Float32Array(n * T * C);
  for (let s = 0; s < n; s++) {
    const length = 1 + Math.floor(rng() * T);
    for (let t = 0; t < length; t++) {
      const id = 1 + Math.floor(rng() * (V - 1));
      x[s * T + t] = id;
      // A learnable rule: the tag follows the word.
      y[(s * T + t) * C + (id % C)] = 1;
    }
  }
  return { n, steps: T, features: null, x, y, tags: C, source: 'generated sentences' };
}

function configOf(bidirectional: boolean, recurrentActivation: Config['recurrentActivation'] = 'sigmoid'): Config {
  return { ...ORIGINAL_EXPERIMENT, encoding: 'embedding', embeddingDim: 4, units: 3, bidirectional, recurrentActivation, seed: 1 };
}

/** Spread the weights wider than their initialisers, so that no gate sits in its linear region only. */
function randomize(model: tfl.LayersModel, seed: number): void {
  const weights = model.getWeights();
  const spread = weights.map((w, k) => tf.randomUniform(w.shape, -0.8, 0.8, 'float32', seed + k));
  model.setWeights(spread);
  tf.dispose(spread);
}

describe('the fused engine on text taggers matches tf.layers', () => {
  before(() => useBackend('cpu'));

  for (const [bidirectional, activation, precision] of [
    [false, 'sigmoid', 'float32'],
    [true, 'sigmoid', 'float32'],
    [true, 'hardSigmoid', 'float32'],
    [false, 'sigmoid', 'float64'],
    [true, 'hardSigmoid', 'float64'],
  ] as const) {
    it(`${bidirectional ? 'BiLSTM' : 'LSTM'} (${activation} gates, ${precision}): one batch's loss, outputs at the words, and every gradient within 1e-5`, () => {
      const config = configOf(bidirectional, activation);
      const model = buildModel(config, 1, { vocabulary: V, tags: C });
      randomize(model, 3);
      const data = sentences(6, 7, 2);
      const ids = Int32Array.from(data.x);
      const expected = tf.tidy(() => {
        const x = tf.tensor2d(ids, [data.n, data.steps], 'int32');
        const y = tf.tensor3d(data.y, [data.n, data.steps, C]);
        const loss = batchLoss(modelLoss(undefined)!, PADDING_MASK);
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const { value, grads } = tf.variableGrads(() => loss(y, model.apply(x) as tf.Tensor, x), vars);
        const out = (model.apply(x) as tf.Tensor).dataSync();
        return { loss: value.dataSync()[0], grads: vars.map((v) => grads[v.name].dataSync()), out };
      });
      const tags = new Int32Array(data.n * data.steps).fill(-1);
      for (let k = 0; k < data.y.length; k++) if (data.y[k] === 1) tags[Math.floor(k / C)] = k % C;
      const fused = new FusedTagger(taggerShapeOf(model)!, readParameters(model).tensors, precision);
      assert.equal(fused.precision, precision);
      const loss = fused.lossAndGradients(ids, tags, data.n, data.steps);
      assert.ok(Math.abs(loss - expected.loss) <= 1e-5 * expected.loss, `loss ${loss} vs ${expected.loss}`);
      const out = fused.forward(ids, data.n, data.steps);
      const words = (values: ArrayLike<number>) => Array.from(values).filter((_, k) => ids[Math.floor(k / C)] !== 0);
      assertClose(words(out), words(expected.out), 'outputs at the words');
      const names = model.trainableWeights.map((w) => w.originalName);
      fused.grads.forEach((g, k) => assertClose(g, expected.grads[k], `gradient of ${names[k]}`));
      model.dispose();
    });
  }

  it('inference: probabilities at every word within 1e-5 of model.predict, for the taggers it computes, and no others', () => {
    const data = sentences(70, 8, 9);
    for (const bidirectional of [false, true]) {
      const model = buildModel(configOf(bidirectional), 1, { vocabulary: V, tags: C });
      randomize(model, 5);
      const tagger = taggerOf(model);
      assert.ok(tagger, 'seq-tag text tagger: computed by the fused engine');
      // 70 sentences in chunks of 64: two chunks, the second cut shorter than the first.
      const fused = taggerProbabilities(tagger, data.x, data.n, data.steps);
      const expected = tf.tidy(() => (model.predict(tf.tensor2d(Int32Array.from(data.x), [data.n, data.steps], 'int32')) as tf.Tensor).dataSync());
      const words = (values: ArrayLike<number>) => Array.from(values).filter((_, k) => data.x[Math.floor(k / C)] !== 0);
      assertClose(words(fused), words(expected), `${bidirectional ? 'BiLSTM' : 'LSTM'} probabilities`);
      if (bidirectional) assertClose(fused, expected, 'BiLSTM probabilities at padding too (Keras zeroes its outputs there)');
      model.dispose();
    }
    const linear = buildModel({ ...configOf(true), activation: 'linear' }, 1, { vocabulary: V, tags: C });
    const digits = buildModel({ ...ORIGINAL_EXPERIMENT, units: 3 }, 1);
    assert.equal(taggerOf(linear), undefined, 'a linear head');
    assert.equal(taggerOf(digits), undefined, 'a model of the digit task');
    linear.dispose();
    digits.dispose();
  });

  it('training runs follow the same loss curve as tf.layers, in float32 and float64 (3 epochs, Adam, validation scored each epoch)', async () => {
    const data = sentences(40, 9, 5);
    const validation = sentences(12, 9, 6);
    const run = async (lstm: Config['lstm'], dtype: Config['dtype'] = 'float32') => {
      const config = { ...configOf(true), lstm, dtype, epochs: 3, batchSize: 8, lr: 0.05 };
      const model = buildModel(config, 1, { vocabulary: V, tags: C });
      const result = await trainTagged(model, data, validation, config);
      model.dispose();
      return result.epochs;
    };
    const layers = await run('layers');
    for (const dtype of ['float32', 'float64'] as const) {
      const fused = await run('fused', dtype);
      for (const [k, e] of layers.entries()) {
        assert.ok(Math.abs(fused[k].loss - e.loss) < 1e-4, `${dtype}, epoch ${e.epoch}: fused ${fused[k].loss}, layers ${e.loss}`);
        assert.ok(Math.abs(fused[k].validation!.loss - e.validation!.loss) < 1e-4, `${dtype}, epoch ${e.epoch}: validation`);
      }
    }
    assert.ok(layers.at(-1)!.loss < 0.8 * layers[0].loss, 'it learns (the comparison is not of two flat lines)');
  });
});
