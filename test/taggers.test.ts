/**
 * Issue #19: the Keras taggers users have, off the seed's path (fixtures by
 * test/fixtures/keras/make_taggers.py: Keras 3.15 files, Keras 2 layouts written with h5py and a
 * numpy forward pass, a part-of-speech-like tagger and its data). No Python at test time.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel } from '../src/storage/model-store.js';
import { readDataFile } from '../src/task/tag-data.js';
import { evaluateData } from '../src/training/experiment.js';
import { OFFLINE_BACKENDS, useBackend } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/keras/', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);

interface Expected {
  x: number[] | number[][] | number[][][];
  shape: number[];
  output: (number | null)[];
  evaluate?: { loss: number; accuracy: number };
}
const expectedFor = (name: string): Expected => JSON.parse(readFileSync(fixture(name.replace(/\.(keras|h5)$/, '.expected.json')), 'utf8'));

/** Every accepted model, each file as Keras saved it (or, for Keras 2 layouts, as h5py wrote it). */
const ACCEPTED = [
  ['keras2-tf215.h5', 'LSTM 8 → TimeDistributed(Dense(2, softmax))'],
  ['keras224.h5', 'LSTM 8 → TimeDistributed(Dense(2, softmax))'],
  ['untrained-linear.keras', 'LSTM 16 → TimeDistributed(Dense(2, linear))'],
  ['untrained-linear.h5', 'LSTM 16 → TimeDistributed(Dense(2, linear))'],
  ['bn-linear.keras', 'LSTM 16 → BatchNormalization → TimeDistributed(Dense(2, linear))'],
  ['bn-linear.h5', 'LSTM 16 → BatchNormalization → TimeDistributed(Dense(2, linear))'],
  ['mse-linear.keras', 'LSTM 16 → TimeDistributed(Dense(2, linear))'],
  ['sigmoid-ce.h5', 'LSTM 16 → TimeDistributed(Dense(2, sigmoid))'],
  ['function-loss.keras', 'LSTM 16 → TimeDistributed(Dense(2, softmax))'],
  ['any-length.keras', 'LSTM 16 → TimeDistributed(Dense(2, softmax))'],
  ['any-length.h5', 'LSTM 16 → TimeDistributed(Dense(2, softmax))'],
  ['regularized.keras', 'LSTM 8 → TimeDistributed(Dense(2, softmax))'],
  ['regularized.h5', 'LSTM 8 → TimeDistributed(Dense(2, softmax))'],
  ['gru-reset-after.keras', 'Bidirectional(GRU 8) → GRU 6 → Dense(2, softmax)'],
  ['gru-reset-after.h5', 'Bidirectional(GRU 8) → GRU 6 → Dense(2, softmax)'],
  ['float64.keras', 'LSTM 16 → TimeDistributed(Dense(2, softmax))'],
  ['masking.keras', 'Masking → LSTM 8 → Dense(3, softmax)'],
  ['masking.h5', 'Masking → LSTM 8 → Dense(3, softmax)'],
  ['pos-tagger.keras', 'Embedding → Bidirectional(LSTM 16) → TimeDistributed(Dense(6, softmax))'],
  ['pos-tagger.h5', 'Embedding → Bidirectional(LSTM 16) → TimeDistributed(Dense(6, softmax))'],
  ['pos-linear.keras', 'Embedding → Bidirectional(LSTM 16) → TimeDistributed(Dense(6, linear))'],
] as const;

/** The model's raw output on the fixture's probe inputs. */
function outputOn(model: import('@tensorflow/tfjs-layers').LayersModel, expected: Expected): Float32Array {
  return tf.tidy(() => {
    const flat = (expected.x as unknown[]).flat(2) as number[];
    const ids = !Array.isArray((expected.x as unknown[][])[0][0]);
    const shape = [expected.shape[0], expected.shape[1], ...(ids ? [] : [flat.length / expected.shape[0] / expected.shape[1]])];
    const x = ids ? tf.tensor(Int32Array.from(flat), shape, 'int32') : tf.tensor(flat, shape);
    return (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
  });
}

for (const backend of OFFLINE_BACKENDS) {
  describe(`accepted Keras taggers match Keras within 1e-5 (${backend})`, () => {
    before(() => useBackend(backend));
    for (const [name, architecture] of ACCEPTED) {
      it(name, async () => {
        const loaded = await loadModel(fixture(name), { allowNonFinite: true });
        try {
          assert.equal(loaded.description.architecture, architecture);
          const expected = expectedFor(name);
          const actual = outputOn(loaded.model, expected);
          assert.equal(actual.length, expected.output.length);
          // Padding a model masks is never read: Keras's Bidirectional zeroes its outputs there, tfjs carries the last step on.
          const tags = expected.shape[2];
          const x = (expected.x as unknown[]).flat(1) as (number | number[])[];
          const padding = (i: number) =>
            loaded.description.mask !== undefined && [x[Math.floor(i / tags)]].flat().every((v) => v === loaded.description.mask!.value);
          let worst = 0;
          expected.output.forEach((e, i) => {
            if (padding(i)) return;
            if (e === null) assert.ok(Number.isNaN(actual[i]), `[${i}]: Keras gave NaN, got ${actual[i]}`);
            else worst = Math.max(worst, Math.abs(actual[i] - e));
          });
          assert.ok(worst <= 1e-5, `largest difference from Keras ${worst.toExponential(2)}`);
        } finally {
          loaded.model.dispose();
        }
      });
    }
  });
}

describe('evaluate --data: within 1e-4 of Keras model.evaluate on the same arrays', () => {
  before(() => useBackend('cpu'));
  for (const [model, data] of [
    ['pos-tagger.keras', 'pos.npz'],
    ['pos-tagger.h5', 'pos.npz'],
    ['masking.keras', 'masking.npz'],
    ['bn-linear.keras', 'digits.npz'],
    ['mse-linear.keras', 'digits.npz'],
    ['sigmoid-ce.keras', 'digits.npz'],
  ] as const) {
    it(`${model} on ${data}`, async () => {
      const loaded = await loadModel(fixture(model));
      const evaluation = evaluateData(loaded.model, await readDataFile(fixture(data), loaded.description.tags), {
        compile: loaded.compile,
        mask: loaded.description.mask,
      });
      loaded.model.dispose();
      const keras = expectedFor(model).evaluate!;
      assert.ok(Math.abs(evaluation.loss! - keras.loss) <= 1e-4, `loss ${evaluation.loss} vs Keras ${keras.loss}`);
      assert.ok(Math.abs(evaluation.tokenAccuracy - keras.accuracy) <= 1e-4, `accuracy ${evaluation.tokenAccuracy} vs Keras ${keras.accuracy}`);
    });
  }
});
