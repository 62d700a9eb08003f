/**
 * The fused engine's head and loss against a plain reference: Keras's categorical crossentropy
 * written out for one row, and central finite differences for its gradient. The rows are chosen
 * where the seed's bug lives: negative outputs, probabilities outside [0, 1] and at the clip.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ORIGINAL_EXPERIMENT, OUTPUT_ACTIVATIONS, type OutputActivation } from '../src/config/config.js';
import { buildModel } from '../src/model/model.js';
import { CROSSENTROPY_EPSILON as EPS } from '../src/config/constants.js';
import { crossentropyBackward, headForward } from '../src/training/fused/head.js';
import { copyParameters, layoutOf, readParameters, writeParameters } from '../src/training/fused/parameters.js';
import { useBackend } from './helpers.js';

const H = 3;

function activate(a: number[], activation: OutputActivation): number[] {
  switch (activation) {
    case 'softmax': {
      const e = a.map(Math.exp);
      return e.map((v) => v / (e[0] + e[1]));
    }
    case 'sigmoid':
      return a.map((v) => 1 / (1 + Math.exp(-v)));
    case 'relu':
      return a.map((v) => Math.max(0, v));
    case 'linear':
      return a;
  }
}

/** Keras: p = o / Σo, clipped to [ε, 1 − ε], loss −Σ y log p. */
function referenceLoss(o: number[], y1: number): number {
  const p = o.map((v) => Math.min(1 - EPS, Math.max(EPS, v / (o[0] + o[1]))));
  return -((1 - y1) * Math.log(p[0]) + y1 * Math.log(p[1]));
}

/** Pre-activations of each row from features [rows, H] and the Dense weights. */
function logits(features: number[][], kernel: number[], bias: number[]): number[][] {
  return features.map((f) => [0, 1].map((c) => bias[c] + f.reduce((s, v, j) => s + v * kernel[j * 2 + c], 0)));
}

function meanLoss(features: number[][], kernel: number[], bias: number[], labels: number[], activation: OutputActivation): number {
  const rows = logits(features, kernel, bias).map((a, r) => referenceLoss(activate(a, activation), labels[r]));
  return rows.reduce((s, v) => s + v, 0) / rows.length;
}

/** Features whose rows land in every region: outputs of both signs, p inside, above 1, below 0, at the clip. */
const FEATURES = [
  [0.5, -0.2, 0.1],
  [-1.5, 0.3, 0.9],
  [2.0, 1.0, -0.5],
  [-0.3, -0.8, 0.2],
  [0.05, 0.4, 1.2],
  [-2.5, 0.7, 1.4],
  [1.2, -1.1, 0.6],
  [0.0, 0.2, -0.1],
  [3.0, -2.0, 0.4],
  [-0.6, 1.8, -0.9],
];
const KERNEL = [0.9, -0.4, -0.7, 0.8, 0.3, 0.5];
const BIAS = [0.2, 0.1];
const LABELS = [0, 1, 0, 0, 1, 0, 0, 1, 0, 0];

function fused(activation: OutputActivation, kernel = KERNEL, bias = BIAS) {
  const rows = FEATURES.length;
  const features = Float64Array.from(FEATURES.flat());
  const dense = { kernel: Float64Array.from(kernel), bias: Float64Array.from(bias) };
  const gDense = { kernel: new Float64Array(kernel.length), bias: new Float64Array(2) };
  const out = new Float64Array(2 * rows);
  const dFeatures = new Float64Array(rows * H);
  headForward(features, rows, H, dense, activation, out);
  // crossentropyBackward averages over batch·10 positions: one "sequence" of 10 rows.
  const loss = crossentropyBackward(out, Int32Array.from(LABELS), 1, features, H, dense, gDense, activation, dFeatures);
  return { out, loss, gDense, dFeatures };
}

describe('fused head and crossentropy against the reference formula', () => {
  for (const activation of OUTPUT_ACTIVATIONS) {
    it(`${activation} head: outputs, loss, and gradients by finite differences`, () => {
      const { out, loss, gDense, dFeatures } = fused(activation);
      const expected = logits(FEATURES, KERNEL, BIAS).flatMap((a) => activate(a, activation));
      out.forEach((v, k) => assert.ok(Math.abs(v - expected[k]) < 1e-12, `output ${k}: ${v} vs ${expected[k]}`));
      assert.ok(Math.abs(loss - meanLoss(FEATURES, KERNEL, BIAS, LABELS, activation)) < 1e-12, 'loss');
      const h = 1e-6;
      const numeric = (f: (d: number) => number) => (f(h) - f(-h)) / (2 * h);
      KERNEL.forEach((_, k) => {
        const d = numeric((e) =>
          meanLoss(
            FEATURES,
            KERNEL.map((v, i) => (i === k ? v + e : v)),
            BIAS,
            LABELS,
            activation,
          ),
        );
        assert.ok(Math.abs(gDense.kernel[k] - d) < 1e-6, `kernel ${k}: ${gDense.kernel[k]} vs ${d}`);
      });
      BIAS.forEach((_, k) => {
        const d = numeric((e) =>
          meanLoss(
            FEATURES,
            KERNEL,
            BIAS.map((v, i) => (i === k ? v + e : v)),
            LABELS,
            activation,
          ),
        );
        assert.ok(Math.abs(gDense.bias[k] - d) < 1e-6, `bias ${k}: ${gDense.bias[k]} vs ${d}`);
      });
      FEATURES.forEach((row, r) =>
        row.forEach((_, j) => {
          const moved = (e: number) => FEATURES.map((fr, i) => (i === r ? fr.map((v, jj) => (jj === j ? v + e : v)) : fr));
          const d = numeric((e) => meanLoss(moved(e), KERNEL, BIAS, LABELS, activation));
          assert.ok(Math.abs(dFeatures[r * H + j] - d) < 1e-6, `feature ${r},${j}: ${dFeatures[r * H + j]} vs ${d}`);
        }),
      );
    });
  }

  it('the rows really cover the regions: negative outputs, p above 1 and below 0, and the clip', () => {
    const outputs = logits(FEATURES, KERNEL, BIAS).map((a) => activate(a, 'linear'));
    const p = outputs.map((o) => o[0] / (o[0] + o[1]));
    assert.ok(
      outputs.some((o) => o[0] < 0 !== o[1] < 0),
      'a row with one negative output',
    );
    assert.ok(p.some((v) => v > 1) && p.some((v) => v < 0), 'p outside [0, 1]');
    assert.ok(
      logits(FEATURES, KERNEL, BIAS).some((a) => a[0] < 0 && a[1] > 0),
      'relu zeroes one of a row',
    );
  });

  it('softmax stays finite for huge logits (it subtracts the larger one)', () => {
    const { out, loss } = fused('softmax', KERNEL, [800, -800]);
    assert.ok(out.every(Number.isFinite), 'outputs');
    assert.ok(Number.isFinite(loss), 'loss');
  });
});

describe('fused parameters', () => {
  before(() => useBackend('cpu'));

  it('layoutOf names the arrays in trainableWeights order and refuses a count that does not match', () => {
    const arrays = Array.from({ length: 8 }, (_, k) => new Float64Array([k]));
    const layout = layoutOf({ bidirectional: true, batchNorm: false, layerNorm: false }, arrays);
    assert.deepEqual([layout.directions[1].kernel[0], layout.directions[1].bias[0], layout.dense.kernel[0], layout.dense.bias[0]], [3, 5, 6, 7]);
    assert.throws(
      () => layoutOf({ bidirectional: false, batchNorm: false, layerNorm: false }, arrays),
      /do not match the config \(8 trainable tensors, expected 5\)/,
    );
    assert.throws(() => layoutOf({ bidirectional: true, batchNorm: true, layerNorm: false }, arrays), /do not match the config/);
  });

  it('copyParameters is a deep copy; writeParameters puts values back into the tfjs model', () => {
    const model = buildModel({ ...ORIGINAL_EXPERIMENT, batchNorm: true }, 2);
    const params = readParameters(model);
    const copy = copyParameters(params);
    params.tensors[0][0] += 1;
    params.state[0][0] += 1;
    assert.notEqual(copy.tensors[0][0], params.tensors[0][0]);
    assert.notEqual(copy.state[0][0], params.state[0][0]);
    params.tensors.forEach((t) => t.fill(0.25));
    params.state.forEach((t) => t.fill(0.5));
    writeParameters(model, params);
    assert.ok(
      model.trainableWeights.every((w) =>
        w
          .read()
          .dataSync()
          .every((v) => v === 0.25),
      ),
    );
    assert.ok(
      model.nonTrainableWeights.every((w) =>
        w
          .read()
          .dataSync()
          .every((v) => v === 0.5),
      ),
    );
    assert.ok(tf && tfl);
  });
});
