/**
 * Each check of the diagnosis on crafted inputs: every branch, the numbers it reports and the
 * evidence it prints (the doctor's output is what a user acts on).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/config/config.js';
import { createExperiment, runExperiment } from '../src/training/experiment.js';
import { useBackend } from './helpers.js';
import {
  checkData,
  diagnose,
  checkFloor,
  checkGradients,
  checkLoss,
  checkOutput,
  checkSavedWeights,
  checkWeights,
  type Burst,
} from '../src/diagnosis/diagnosis.js';
import { checkSetup } from '../src/diagnosis/setup.js';
import { CLIP_BOUND_LOSS } from '../src/training/train.js';

const f32 = (...v: number[]) => Float32Array.from(v);
const burst = (losses: number[], gradNorms: number[] = losses.map(() => 1), weightsFinite = true): Burst => ({ losses, gradNorms, weightsFinite });

describe('inputs and labels', () => {
  it('valid data passes with its counts', () => {
    const c = checkData(f32(1, 2, 3, 4), f32(1, 0, 0, 1));
    assert.equal(c.verdict, 'pass');
    assert.deepEqual(c.numbers, { inputValues: 4, labelRows: 2, invalidLabelRows: 0, finite: 1, tagsNeverSeen: 0 });
    assert.equal(c.evidence, '4 input values, all finite; labels are valid one-hot rows of 2 tags, each tag present');
    assert.equal(c.fix, undefined);
  });

  it('a non-finite input, or label rows that are not one-hot, fail', () => {
    const nan = checkData(f32(1, NaN), f32(1, 0));
    assert.equal(nan.verdict, 'fail');
    assert.equal(nan.numbers.finite, 0);
    assert.match(nan.evidence, /^non-finite values in inputs or labels; 0 label rows are not one-hot$/);
    const nanLabel = checkData(f32(1, 2), f32(NaN, 0));
    assert.equal(nanLabel.numbers.finite, 0);
    // (0.5, 0.5) sums to 1 but is not one-hot; (1, 1) is 0/1 but sums to 2; (0, 0) sums to 0; (2, -1) sums to 1.
    const rows = checkData(f32(0), f32(0.5, 0.5, 1, 1, 0, 0, 2, -1, 0, 1));
    assert.equal(rows.verdict, 'fail');
    assert.equal(rows.numbers.invalidLabelRows, 4);
    assert.equal(rows.evidence, 'values finite; 4 label rows are not one-hot');
    assert.match(rows.fix!, /one-hot targets/);
  });
});

describe('output is a probability distribution', () => {
  it('softmax rows pass', () => {
    const c = checkOutput(f32(0.25, 0.75, 0.5, 0.5), 'softmax', 'initial');
    assert.equal(c.verdict, 'pass');
    assert.equal(c.evidence, 'softmax head: 2 rows non-negative, each summing to 1');
    assert.equal(c.numbers.minRowSum, 1);
    assert.equal(c.numbers.maxRowSum, 1);
  });

  it('negative entries and sums near zero fail, with shares and the row-sum range', () => {
    const c = checkOutput(f32(-0.5, 1, 0.0004, 0.0004, 0.3, 0.7, 2, 1), 'linear', 'initial');
    assert.equal(c.verdict, 'fail');
    assert.equal(c.numbers.negativeShare, 0.25);
    assert.equal(c.numbers.nearZeroSumShare, 0.25);
    assert.equal(c.numbers.offSumShare, 0.75);
    assert.ok(Math.abs(c.numbers.minRowSum! - 0.0008) < 1e-9);
    assert.equal(c.numbers.maxRowSum, 3);
    assert.match(
      c.evidence,
      /^linear head: 25\.0% of 4 output rows have a negative entry, 25\.0% sum to ~0, row sums 8\.00e-4 to 3\.000; crossentropy divides/,
    );
    assert.equal(c.fix, '--activation softmax (or compute the loss from logits)');
    const zero = checkOutput(f32(0, 0.0005), 'relu', 'initial');
    assert.equal(zero.verdict, 'fail', 'a sum near zero alone fails');
    assert.equal(zero.numbers.nearZeroSumShare, 1);
    const negative = checkOutput(f32(-0.5, 1.5), 'linear', 'initial');
    assert.equal(negative.verdict, 'fail', 'a negative entry alone fails, even in a row summing to 1');
    assert.equal(negative.numbers.nearZeroSumShare, 0);
    assert.equal(zero.numbers.negativeShare, 0, 'zero is not negative');
    // A user's Keras file: the reasoning of its own loss, and Keras's fix with that loss's class (issue #31).
    const sparse = checkOutput(f32(-0.5, 1.5), 'linear', 'saved', 2, { loss: 'sparse_categorical_crossentropy' });
    assert.match(sparse.evidence, /; sparse_categorical_crossentropy clips each output to \[1e-7, 1 − 1e-7\]/);
    assert.equal(sparse.fix, 'Keras: Dense(2, activation="softmax") as the output layer, or loss=SparseCategoricalCrossentropy(from_logits=True)');
    const categorical = checkOutput(f32(-0.5, 1.5), 'linear', 'saved', 2, { loss: 'categorical_crossentropy' });
    assert.match(categorical.evidence, /; categorical_crossentropy divides each row by its sum/);
    assert.doesNotMatch(categorical.fix!, /--activation/);
  });

  it('non-negative rows not summing to 1 warn; a row summing to exactly 1 ± 1e-3 does not count', () => {
    const c = checkOutput(f32(0.5, 0.6, 0.5, 0.5005, 0.2, 0.2), 'sigmoid', 'initial');
    assert.equal(c.verdict, 'warn');
    assert.ok(Math.abs(c.numbers.offSumShare! - 2 / 3) < 1e-12);
    assert.match(c.evidence, /^sigmoid head: entries are non-negative but 66\.7% of rows do not sum to 1 \(row sums 0\.400 to 1\.100\)/);
  });

  it('non-finite rows fail first, worded for fresh or saved weights', () => {
    const fresh = checkOutput(f32(NaN, 0.5, 0.5, 0.5, -1, 2), 'linear', 'initial');
    assert.equal(fresh.verdict, 'fail');
    assert.equal(fresh.numbers.nonFiniteRows, 1);
    assert.equal(fresh.evidence, '1 of 3 output rows are not finite before any training');
    assert.match(fresh.fix!, /initialisers/);
    const saved = checkOutput(f32(NaN, NaN), 'linear', 'saved');
    assert.equal(saved.evidence, '1 of 1 output rows are not finite with the saved weights');
    assert.equal(saved.numbers.minRowSum, null);
    assert.equal(saved.numbers.maxRowSum, null);
  });
});

describe('gradient global norm', () => {
  it('finite and moderate: pass, with the range', () => {
    const c = checkGradients(burst([0.7, 0.6, 0.5], [0.5, 2, 1]));
    assert.equal(c.verdict, 'pass');
    assert.equal(c.evidence, '0.500 to 2.000 over 3 batches');
    assert.deepEqual(c.numbers, { batches: 3, minGlobalNorm: 0.5, maxGlobalNorm: 2, firstNonFiniteBatch: null });
  });

  it('above 100: warn; exactly 100 is still fine', () => {
    assert.equal(checkGradients(burst([1, 1], [1, 100])).verdict, 'pass');
    const c = checkGradients(burst([1, 1], [1, 12345]));
    assert.equal(c.verdict, 'warn');
    assert.match(c.evidence, /^1\.000 to 1\.23e\+4 over 2 batches: large/);
  });

  it('not finite: fail from the first bad batch, with the finite range before it', () => {
    const c = checkGradients(burst([1, 1, 1], [3, 0.25, NaN]));
    assert.equal(c.verdict, 'fail');
    assert.equal(c.numbers.firstNonFiniteBatch, 3);
    assert.equal(c.evidence, 'not finite from batch 3 of 3 (finite norms 0.250 to 3.000 before)');
    const first = checkGradients(burst([1], [Infinity]));
    assert.equal(first.evidence, 'not finite from batch 1 of 1');
    assert.equal(first.numbers.minGlobalNorm, null);
  });
});

describe('loss, weights, floor', () => {
  it('a finite loss passes, from first to last', () => {
    const c = checkLoss(burst([0.7, 0.65, 0.6]));
    assert.equal(c.verdict, 'pass');
    assert.equal(c.evidence, '0.700 → 0.600 over 3 batches');
    assert.deepEqual(c.numbers, { batches: 3, firstLoss: 0.7, lastLoss: 0.6, firstDivergedBatch: null, clipBound: CLIP_BOUND_LOSS });
  });

  it('NaN, infinity and the clip bound, each named, from the first diverged batch', () => {
    const nan = checkLoss(burst([0.7, NaN, 0.5]));
    assert.equal(nan.verdict, 'fail');
    assert.equal(nan.numbers.firstDivergedBatch, 2);
    assert.equal(nan.evidence, 'NaN from batch 2 of the burst');
    assert.equal(checkLoss(burst([Infinity])).evidence, 'infinite from batch 1 of the burst');
    assert.match(checkLoss(burst([0.7, CLIP_BOUND_LOSS])).evidence, /^pinned at 16\.118 = −ln\(1e-7\), the clip bound, from batch 2 of the burst/);
  });

  it('a divergence seen in training fails the check even when the burst is fine, and is quoted', () => {
    const c = checkLoss(burst([0.7, 0.6]), { epoch: 3, batch: 7, loss: NaN, symptom: 'nan' });
    assert.equal(c.verdict, 'fail');
    assert.equal(c.evidence, 'NaN from training; in training: loss NaN at epoch 3, batch 7');
    const pinned = checkLoss(burst([0.7]), { epoch: 1, batch: 2, loss: 16.1181, symptom: 'clip-bound' });
    assert.match(
      pinned.evidence,
      /^pinned at 16\.118 = −ln\(1e-7\), the clip bound, from training: every output is being clipped .*; in training: loss pinned at 16\.1181 at epoch 1, batch 2$/,
    );
  });

  it('weights after the burst, and the floor', () => {
    assert.equal(checkWeights(burst([1])).verdict, 'pass');
    assert.deepEqual(checkWeights(burst([1], [1], false)).numbers, { finite: 0 });
    assert.equal(checkWeights(burst([1], [1], false)).verdict, 'fail');
    const floor = checkFloor(burst([0.7, 0.5004]), 0.5004);
    assert.equal(floor.verdict, 'info');
    assert.deepEqual(floor.numbers, { floor: 0.5004, lastLoss: 0.5004, structuralLimit: 0 });
    assert.match(floor.evidence, /^floor 0\.5004 nats \(entropy of the labels\); burst ended at 0\.500\./);
    assert.equal(checkFloor(burst([NaN]), 0.5).numbers.lastLoss, null);
  });

  it('learns? a digit-task model that cannot learn the task is a warning with the measured next step; one that can is information', () => {
    const oneWay = checkFloor(burst([0.6]), 0.5004, { bidirectional: false, encoding: 'scalar' });
    assert.equal(oneWay.verdict, 'warn');
    assert.match(
      oneWay.evidence,
      /this one cannot learn the task: a left-to-right model cannot tag the first occurrence .*89\.9% token accuracy, 0\.1% exact-match\)$/,
    );
    assert.equal(oneWay.fix, 'seq-tag train --preset solve (bidirectional LSTM 16 on one-hot digits: 98.6% exact-match, measured with seed 1)');
    const scalar = checkFloor(burst([0.6]), 0.5004, { bidirectional: true, encoding: 'scalar' });
    assert.match(scalar.evidence, /"equal to an earlier digit" is hard to learn \(measured, bidirectional on digit values: 26\.0% exact-match\)$/);
    assert.equal(checkFloor(burst([0.6]), 0.5004, { bidirectional: true, encoding: 'onehot' }).verdict, 'info');
    assert.equal(checkFloor(burst([0.6]), 0.5004, { bidirectional: false }).verdict, 'info', 'a model off the digit task: no claim');
  });

  it('saved weights: counts and the first three names', () => {
    const bad = checkSavedWeights({ dir: 'm', nonFinite: ['a', 'b', 'c', 'd'], tensors: 5, why: 'why: x' });
    assert.equal(bad.verdict, 'fail');
    assert.deepEqual(bad.numbers, { tensors: 5, nonFiniteTensors: 4 });
    assert.match(bad.evidence, /^4 of 5 weight tensors in m hold NaN\/Infinity \(a, b, c, …\): .*; why: x$/);
    assert.match(checkSavedWeights({ dir: 'm', nonFinite: ['a', 'b', 'c'], tensors: 5 }).evidence, /\(a, b, c\)/);
    assert.equal(checkSavedWeights({ dir: 'm', nonFinite: [], tensors: 5 }).evidence, 'all 5 weight tensors in m are finite');
    assert.equal(
      checkSavedWeights({ dir: 'm', nonFinite: ['a'], tensors: 2 }).evidence,
      '1 of 2 weight tensors in m hold NaN/Infinity (a): its training diverged before it was saved, so every prediction is meaningless',
    );
  });
});

describe('the setup check of Keras models', () => {
  const compile = (loss: string, fromLogits: boolean) => ({ loss, fromLogits });
  it("crossentropy on a non-softmax head without from_logits is the seed's bug", () => {
    const c = checkSetup('linear', compile('categorical_crossentropy', false));
    assert.equal(c.verdict, 'fail');
    // A Keras file gets Keras's changes only: seq-tag's --activation means nothing to it (issue #31).
    assert.match(c.fix!, /^Keras: Dense\(2, activation="softmax"\) as the output layer, or loss=CategoricalCrossentropy\(from_logits=True\)$/);
    assert.match(c.evidence, /categorical_crossentropy divides each row by its sum and takes the log/);
    // The sparse loss clips before its log (Keras's TensorFlow backend): finite, and its fix names its own class.
    const sparse = checkSetup('relu', compile('sparse_categorical_crossentropy', false), 24);
    assert.equal(sparse.verdict, 'fail');
    assert.match(
      sparse.evidence,
      /sparse_categorical_crossentropy clips each output to \[1e-7, 1 − 1e-7\], takes the log and softmaxes that: the loss stays finite/,
    );
    assert.doesNotMatch(sparse.evidence, /divides each row by its sum/);
    assert.match(sparse.fix!, /^Keras: Dense\(24, activation="softmax"\) as the output layer, or loss=SparseCategoricalCrossentropy\(from_logits=True\)$/);
    assert.match(checkSetup('linear', undefined).evidence, /\(assumed: the file holds no loss/);
  });
  it('from_logits on a linear head passes; on a softmax head it warns; softmax without it passes; a sigmoid head warns; other losses get no crossentropy reasoning', () => {
    assert.equal(checkSetup('linear', compile('categorical_crossentropy', true)).verdict, 'pass');
    assert.equal(checkSetup('softmax', compile('categorical_crossentropy', true)).verdict, 'warn');
    assert.equal(checkSetup('softmax', compile('categorical_crossentropy', false)).verdict, 'pass');
    assert.equal(checkSetup('sigmoid', compile('categorical_crossentropy', false)).verdict, 'warn');
    const mse = checkSetup('linear', compile('mean_squared_error', false));
    assert.equal(mse.verdict, 'info');
    assert.match(mse.evidence, /^loss mean_squared_error on a linear head: not a categorical crossentropy, so the outputs need not be probabilities/);
    assert.deepEqual(checkSetup('softmax', undefined).numbers, { softmaxHead: 1, fromLogits: 0, lossSaved: 0 });
  });
});

describe('titles, and how checks make the verdict', () => {
  it('each check has its own title, as the doctor prints it', () => {
    const b = burst([0.7, 0.6]);
    const titles = [
      checkData(f32(1), f32(1, 0)),
      checkOutput(f32(0.5, 0.5), 'softmax', 'initial'),
      checkOutput(f32(-1, 2), 'linear', 'initial'),
      checkOutput(f32(NaN, 1), 'linear', 'initial'),
      checkOutput(f32(0.2, 0.2), 'sigmoid', 'initial'),
      checkGradients(b),
      checkGradients(burst([1], [NaN])),
      checkGradients(burst([1], [500])),
      checkWeights(b),
      checkLoss(b),
      checkLoss(burst([NaN])),
      checkFloor(b, 0.5),
      checkSavedWeights({ dir: 'm', nonFinite: [], tensors: 1 }),
    ].map((c) => c.title);
    assert.deepEqual(titles, [
      'inputs and labels',
      ...Array(4).fill('output is a probability distribution'),
      ...Array(3).fill('gradient global norm'),
      'weights after the burst',
      'loss stays finite',
      'loss stays finite',
      'loss vs the no-skill floor',
      'saved weights are finite',
    ]);
  });

  it('fixes name what to do for each failing or warning check', () => {
    assert.equal(checkOutput(f32(0.2, 0.2), 'sigmoid', 'initial').fix, '--activation softmax');
    assert.equal(checkOutput(f32(NaN, 1), 'linear', 'saved').fix, 'the saved weights are not finite: see the first failing check');
    assert.equal(checkGradients(burst([1], [NaN])).fix, 'fix the output first if it fails; otherwise --clipnorm 1 or a lower --lr');
    assert.equal(checkGradients(burst([1], [500])).fix, '--clipnorm 1 or a lower --lr');
    assert.equal(checkWeights(burst([1], [1], false)).evidence, 'some weights are NaN or infinite: one bad update poisons every later prediction');
    assert.match(checkWeights(burst([1], [1], false)).fix!, /^find the first failing check above/);
    assert.equal(checkWeights(burst([1])).evidence, 'all finite');
    assert.equal(checkLoss(burst([NaN])).fix, 'a symptom: the cause is the first failing check above');
    assert.match(
      checkSavedWeights({ dir: 'm', nonFinite: ['a'], tensors: 1 }).fix!,
      /^retrain it \(seq-tag never saves a diverged run\): seq-tag train --model-dir m/,
    );
    assert.equal(checkSavedWeights({ dir: 'm', nonFinite: ['a'], tensors: 1, retrain: 'do X' }).fix, 'do X');
    assert.match(checkFloor(burst([0.5]), 0.5).evidence, /A loss that settles at the floor means the model predicts the base rate and has learned nothing$/);
  });
});

describe('numbers in the evidence', () => {
  it('fixed notation from 1e-3 up to below 1e4, exponential outside', () => {
    assert.equal(checkGradients(burst([0.5, 0.5], [0.5, 1e4])).evidence, '0.500 to 1.00e+4 over 2 batches: large for a model this size');
    assert.equal(checkGradients(burst([0.5, 0.5], [1e-3, 9999])).evidence, '0.001 to 9999.000 over 2 batches: large for a model this size');
    assert.equal(checkGradients(burst([0.5], [9.9e-4])).evidence, '9.90e-4 to 9.90e-4 over 1 batches');
  });

  it('a failure at the first batch is batch 1, and the floor compares the last loss', () => {
    assert.equal(checkGradients(burst([0.5, 0.5], [NaN, 1])).numbers.firstNonFiniteBatch, 1);
    assert.equal(checkLoss(burst([NaN, 0.5])).numbers.firstDivergedBatch, 1);
    assert.equal(checkFloor(burst([0.7, 0.6, 0.55]), 0.5).numbers.lastLoss, 0.55);
  });
});

describe('diagnoseModel: the burst, the cause and the verdict', () => {
  before(() => useBackend('cpu'));
  const small: Config = { ...ORIGINAL_EXPERIMENT, samples: 64, seed: 6, lstm: 'layers' };

  it("the burst replays training's first batches and stops when the data runs out, leaving no tensor behind", async () => {
    const losses: number[] = [];
    await runExperiment(createExperiment({ ...small, epochs: 1 }), { onBatchEnd: (b) => void losses.push(b.loss) });
    const before = tf.memory().numTensors;
    const d = diagnose(small, { burstBatches: 3 });
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    const loss = d.checks.find((c) => c.id === 'loss')!;
    assert.equal(loss.numbers.batches, 2, '64 sequences are 2 batches of 32: the third is empty and not run');
    assert.ok(Math.abs((loss.numbers.firstLoss as number) - losses[0]) < 1e-6 && Math.abs((loss.numbers.lastLoss as number) - losses[1]) < 1e-6);
    assert.equal(d.checks.find((c) => c.id === 'gradients')!.numbers.batches, 2);
    assert.equal(diagnose(small, { burstBatches: 1 }).checks.find((c) => c.id === 'loss')!.numbers.batches, 1);
  });

  it("the seed's linear head: the output is the cause, the diverged weights are kept and fail, not healthy", () => {
    const d = diagnose({ ...small, activation: 'linear' }, { burstBatches: 2 });
    assert.equal(d.cause?.id, 'output');
    assert.equal(d.checks.find((c) => c.id === 'weights')!.verdict, 'fail');
    assert.equal(d.healthy, false);
  });

  it('softmax: no cause, healthy; a training divergence (trigger) makes it not healthy; setup and saved checks come first', () => {
    const d = diagnose({ ...small, bidirectional: true, encoding: 'onehot' }, { burstBatches: 2 });
    assert.equal(d.cause, undefined);
    assert.equal(d.healthy, true);
    const oneWay = diagnose(small, { burstBatches: 2 });
    assert.deepEqual([oneWay.healthy, oneWay.cause?.id, oneWay.cause?.verdict], [true, 'floor', 'warn']);
    const trigger = { epoch: 3, batch: 1, loss: NaN, symptom: 'nan' as const };
    assert.equal(diagnose(small, { burstBatches: 1, trigger }).healthy, false);
    const setup = checkSetup('linear', { loss: 'categorical_crossentropy', fromLogits: false });
    const withSetup = diagnose(small, { burstBatches: 1, setup, saved: { dir: 'm', nonFinite: [], tensors: 5 } });
    assert.deepEqual(
      withSetup.checks.slice(0, 3).map((c) => c.id),
      ['setup', 'saved', 'data'],
    );
    assert.equal(withSetup.cause?.id, 'setup');
  });
});
