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
import { packedRows, rowLengths, rowsOf, targetTensor, type PackedRows, type Rows, type TagData } from '../src/task/tag-data.js';
import { evaluateData, fusedPredictor, splitTagData } from '../src/training/experiment.js';
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
  const labels = new Int32Array(n * T).fill(-1);
  for (let s = 0; s < n; s++) {
    const length = 1 + Math.floor(rng() * T);
    for (let t = 0; t < length; t++) {
      const id = 1 + Math.floor(rng() * (V - 1));
      x[s * T + t] = id;
      // A learnable rule: the tag follows the word.
      labels[s * T + t] = id % C;
    }
  }
  return { n, steps: T, features: null, x, labels, tags: C, source: 'generated sentences' };
}

/** `data`'s rows without their padding, as a text file's training data is held. */
function packedOf(data: TagData): PackedRows {
  const lengths = rowLengths(data);
  const starts = new Int32Array(data.n + 1);
  lengths.forEach((l, r) => (starts[r + 1] = starts[r] + l));
  const ids = new Int32Array(starts[data.n]);
  const labels = new Int32Array(starts[data.n]);
  for (let r = 0; r < data.n; r++)
    for (let t = 0; t < lengths[r]; t++) {
      ids[starts[r] + t] = data.x[r * data.steps + t];
      labels[starts[r] + t] = data.labels[r * data.steps + t];
    }
  const { x: _x, labels: _l, shown: _s, ...rest } = data;
  return { ...rest, features: null, starts, ids, labels };
}

function configOf(bidirectional: boolean, recurrentActivation: Config['recurrentActivation'] = 'sigmoid', layers = 1, cell: Config['cell'] = 'lstm'): Config {
  return { ...ORIGINAL_EXPERIMENT, encoding: 'embedding', embeddingDim: 4, units: 3, bidirectional, recurrentActivation, layers, cell, seed: 1 };
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

  for (const [bidirectional, activation, precision, layers, cell] of [
    [false, 'sigmoid', 'float32', 1, 'lstm'],
    [true, 'sigmoid', 'float32', 1, 'lstm'],
    [true, 'hardSigmoid', 'float32', 1, 'lstm'],
    [false, 'sigmoid', 'float64', 1, 'lstm'],
    [true, 'hardSigmoid', 'float64', 1, 'lstm'],
    [false, 'sigmoid', 'float64', 2, 'lstm'],
    [true, 'sigmoid', 'float64', 3, 'lstm'],
    [true, 'sigmoid', 'float32', 2, 'lstm'],
    [false, 'sigmoid', 'float64', 1, 'gru'],
    [true, 'hardSigmoid', 'float64', 1, 'gru'],
    [true, 'sigmoid', 'float32', 2, 'gru'],
  ] as const) {
    const name = `${bidirectional ? 'Bi' : ''}${cell.toUpperCase()}`;
    it(`${layers > 1 ? `${layers} stacked ` : ''}${name} (${activation} gates, ${precision}): one batch's loss, outputs at the words, and every gradient within 1e-5`, () => {
      const config = configOf(bidirectional, activation, layers, cell);
      const model = buildModel(config, 1, { vocabulary: V, tags: C });
      randomize(model, 3);
      const data = sentences(6, 7, 2);
      const ids = Int32Array.from(data.x);
      const expected = tf.tidy(() => {
        const x = tf.tensor2d(ids, [data.n, data.steps], 'int32');
        const y = targetTensor(data);
        const loss = batchLoss(modelLoss(undefined)!, PADDING_MASK);
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const { value, grads } = tf.variableGrads(() => loss(y, model.apply(x) as tf.Tensor, x), vars);
        const out = (model.apply(x) as tf.Tensor).dataSync();
        return { loss: value.dataSync()[0], grads: vars.map((v) => grads[v.name].dataSync()), out };
      });
      const tags = data.labels;
      const shape = taggerShapeOf(model)!;
      assert.equal(shape.layers, layers, 'the stacked layers read from the model');
      assert.equal(shape.cell, cell, 'the cell read from the model');
      const fused = new FusedTagger(shape, readParameters(model).tensors, precision);
      assert.equal(fused.precision, precision);
      // Twice: what one batch leaves in the engine's buffers must not reach the next batch's gradients.
      fused.lossAndGradients(ids, tags, data.n, data.steps);
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

  it("dropout as Keras 3's LSTMCell applies it: one sentence's masks are its kernels' rows scaled (checked against tf.layers), and the gradient is the loss's (finite differences)", () => {
    const config = { ...configOf(true), dropout: 0.3, recurrentDropout: 0.4 };
    const model = buildModel(config, 1, { vocabulary: V, tags: C });
    randomize(model, 7);
    const shape = taggerShapeOf(model)!;
    assert.deepEqual([shape.dropout, shape.recurrentDropout], [0.3, 0.4], 'the rates read from the model');
    const one = sentences(8, 6, 11);
    const row = Array.from({ length: one.n }, (_, s) => s).find((s) => one.x[s * one.steps + 3] !== 0)!;
    const ids = Int32Array.from(one.x.subarray(row * one.steps, (row + 1) * one.steps));
    const tags = new Int32Array(ids.length).fill(-1);
    ids.forEach((id, t) => id && (tags[t] = id % C));
    const fused = new FusedTagger(shape, readParameters(model).tensors, 'float64');
    const masks = fused.dropoutMasks(1, rngFor(5, 'masks'));
    assert.equal(masks.length, 2, 'one set a direction');
    assert.ok(
      masks.every((m) => m.input!.some((v) => v === 0) && m.recurrent!.some((v) => v > 1)),
      'masks drop and scale',
    );
    const loss = fused.lossAndGradients(ids, tags, 1, ids.length, undefined, masks);
    const probabilities = Array.from(fused.forward(ids, 1, ids.length, masks));
    // The same sentence through tf.layers without dropout, each direction's kernel rows scaled by its input mask and recurrent rows by its state mask.
    const plain = buildModel({ ...config, dropout: 0, recurrentDropout: 0 }, 1, { vocabulary: V, tags: C });
    const scaled = model.getWeights().map((w, k) => {
      const direction = k >= 1 && k <= 6 ? Math.floor((k - 1) / 3) : -1;
      const kind = (k - 1) % 3;
      if (direction < 0 || kind === 2) return w.clone();
      const mask = kind === 0 ? masks[direction].input! : masks[direction].recurrent!;
      return tf.mul(w, tf.tensor2d(Float32Array.from(mask), [mask.length, 1]));
    });
    plain.setWeights(scaled);
    tf.dispose(scaled);
    const expected = tf.tidy(() => (plain.predict(tf.tensor2d(ids, [1, ids.length], 'int32')) as tf.Tensor).dataSync());
    const words = (values: ArrayLike<number>) => Array.from(values).filter((_, k) => ids[Math.floor(k / C)] !== 0);
    assertClose(words(probabilities), words(expected), 'probabilities under dropout');
    // d loss / d w by central differences on a few weights of each tensor, the masks held.
    const h = 1e-6;
    const grads = fused.grads.map((g) => Float64Array.from(g));
    fused.tensors.forEach((t, k) => {
      for (const at of [0, Math.floor(t.length / 2), t.length - 1]) {
        const w = t[at];
        t[at] = w + h;
        const up = fused.lossAndGradients(ids, tags, 1, ids.length, undefined, masks);
        t[at] = w - h;
        const down = fused.lossAndGradients(ids, tags, 1, ids.length, undefined, masks);
        t[at] = w;
        const numeric = (up - down) / (2 * h);
        assert.ok(Math.abs(numeric - grads[k][at]) <= 1e-6 + 1e-4 * Math.abs(numeric), `tensor ${k}[${at}]: ${grads[k][at]} vs ${numeric}`);
      }
    });
    assert.ok(Number.isFinite(loss));
    assert.throws(() => fused.lossAndGradients(ids, tags, 1, ids.length), /dropout needs a random source/);
    // A batch (sorted longest first inside): each sentence keeps its own row of every mask, so the
    // batch's loss is its sentences' losses weighted by their words.
    const batch = sentences(5, 6, 12);
    const batchIds = Int32Array.from(batch.x);
    const batchTags = Int32Array.from(batchIds, (id) => (id ? id % C : -1));
    const batchMasks = fused.dropoutMasks(batch.n, rngFor(6, 'masks'));
    const together = fused.lossAndGradients(batchIds, batchTags, batch.n, batch.steps, undefined, batchMasks);
    const T = batch.steps;
    let weighted = 0;
    for (let s = 0; s < batch.n; s++) {
      const own = batchMasks.map((m) => ({ input: m.input!.slice(s * 4, (s + 1) * 4), recurrent: m.recurrent!.slice(s * 3, (s + 1) * 3) }));
      const words = batchIds.subarray(s * T, (s + 1) * T).filter((id) => id !== 0).length;
      weighted += words * fused.lossAndGradients(batchIds.slice(s * T, (s + 1) * T), batchTags.slice(s * T, (s + 1) * T), 1, T, undefined, own);
    }
    const total = batchIds.filter((id) => id !== 0).length;
    assert.ok(Math.abs(together - weighted / total) < 1e-12, `batch ${together} vs its sentences ${weighted / total}`);
    model.dispose();
    plain.dispose();
  });

  it('inference: probabilities at every word within 1e-5 of model.predict, for the taggers it computes, and no others', () => {
    const data = sentences(70, 8, 9);
    for (const bidirectional of [false, true]) {
      const model = buildModel(configOf(bidirectional), 1, { vocabulary: V, tags: C });
      randomize(model, 5);
      const tagger = taggerOf(model);
      assert.ok(tagger, 'seq-tag text tagger: computed by the fused engine');
      // 70 sentences in chunks of 64: two chunks, the second cut shorter than the first.
      const fused = taggerProbabilities(tagger, data.x, data.n, data.steps);
      // What scoring and predict call: the tagger's forward pass, for word ids.
      const predictor = fusedPredictor(model, 'ids');
      assert.ok(predictor, 'fusedPredictor gives the tagger for ids');
      assert.deepEqual(predictor(data, data.n), fused);
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

  it('--clipnorm and --clipvalue: fused training follows tf.layers, and the clip changes the run', async () => {
    const data = sentences(40, 9, 12);
    const run = async (lstm: Config['lstm'], clip: Partial<Config>) => {
      const config = { ...configOf(true), lstm, epochs: 2, batchSize: 8, lr: 0.05, ...clip };
      const model = buildModel(config, 1, { vocabulary: V, tags: C });
      const result = await trainTagged(model, data, undefined, config);
      model.dispose();
      return result.epochs.map((e) => e.loss);
    };
    const free = await run('fused', {});
    for (const clip of [{ clipnorm: 0.05 }, { clipvalue: 0.002 }]) {
      const [layers, fused] = [await run('layers', clip), await run('fused', clip)];
      fused.forEach((loss, k) => assert.ok(Math.abs(loss - layers[k]) < 1e-4, `${JSON.stringify(clip)}, epoch ${k + 1}: fused ${loss}, layers ${layers[k]}`));
      assert.ok(Math.abs(fused[1] - free[1]) > 1e-3, `${JSON.stringify(clip)} changes the run (${fused[1]} against ${free[1]} unclipped)`);
    }
  });

  it("packed rows (a text file's training data, without padding) train and score as the same rows padded", async () => {
    const data = { ...sentences(40, 9, 11), tagNames: ['B-A', 'B-B', 'I-A', 'I-B', 'O'] };
    const packed = packedOf(data);
    assert.ok(packed.ids.length < (data.n * data.steps) / 1.5, 'the rows are shorter than the padded ones');
    const run = async (rows: Rows, lstm: Config['lstm']) => {
      const config = { ...configOf(true), lstm, epochs: 2, batchSize: 8, lr: 0.05, validationSplit: 0.25 };
      const model = buildModel(config, 1, { vocabulary: V, tags: C });
      const { train, validation } = splitTagData(rows, config.validationSplit);
      const result = await trainTagged(model, train, validation, config);
      return { losses: result.epochs.map((e) => [e.loss, e.validation!.loss]), model };
    };
    for (const lstm of ['fused', 'layers'] as const) {
      const [a, b] = [await run(data, lstm), await run(packed, lstm)];
      assert.deepEqual(b.losses, a.losses, `${lstm}: the same losses, bit for bit`);
      // Scored in chunks of 8 rows: padded to 9 steps, or to each chunk's longest row.
      const [ea, eb] = [evaluateData(a.model, data, { mask: PADDING_MASK }, 8), evaluateData(b.model, packed, { mask: PADDING_MASK }, 8)];
      assert.ok(Math.abs(eb.loss! - ea.loss!) < 1e-6, `${lstm}: loss ${eb.loss} against ${ea.loss}`);
      assert.deepEqual({ ...eb, loss: 0 }, { ...ea, loss: 0 }, `${lstm}: every score but the loss the same`);
      assert.ok(ea.entities && ea.tokens === packed.ids.length && ea.exactMatch > 0, 'entities, tokens and sentences scored');
      // A run of rows that does not start at the first (a view's offsets are into the whole arrays).
      const [va, vb] = [
        evaluateData(a.model, rowsOf(data, 5, 40), { mask: PADDING_MASK }, 8),
        evaluateData(b.model, packedRows(packed, 5, 40), { mask: PADDING_MASK }, 8),
      ];
      assert.deepEqual({ ...vb, loss: 0 }, { ...va, loss: 0 }, `${lstm}: rows 5..39 scored alike`);
      a.model.dispose();
      b.model.dispose();
    }
  });

  for (const cell of ['lstm', 'gru'] as const) {
    it(`a stack of two Bi${cell.toUpperCase()} layers trains on the same loss curve as tf.layers (float32, 3 epochs, Adam)`, async () => {
      const data = sentences(40, 9, 7);
      const validation = sentences(12, 9, 8);
      const run = async (lstm: Config['lstm']) => {
        const config = { ...configOf(true, 'sigmoid', 2, cell), lstm, dtype: 'float32' as const, epochs: 3, batchSize: 8, lr: 0.05 };
        const model = buildModel(config, 1, { vocabulary: V, tags: C });
        const result = await trainTagged(model, data, validation, config);
        model.dispose();
        return result.epochs;
      };
      const [layers, fused] = [await run('layers'), await run('fused')];
      for (const [k, e] of layers.entries()) {
        assert.ok(Math.abs(fused[k].loss - e.loss) < 1e-4, `epoch ${e.epoch}: fused ${fused[k].loss}, layers ${e.loss}`);
        assert.ok(Math.abs(fused[k].validation!.loss - e.validation!.loss) < 1e-4, `epoch ${e.epoch}: validation`);
      }
      assert.ok(layers.at(-1)!.loss < 0.9 * layers[0].loss, 'it learns');
    });
  }
});
