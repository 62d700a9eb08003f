import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/config/config.js';
import { diagnose } from '../src/diagnosis/diagnosis.js';
import { createExperiment, runExperiment } from '../src/training/experiment.js';
import * as tf from '@tensorflow/tfjs-core';
import { CLIP_BOUND_LOSS, divergenceSymptom, tagLoss, type BatchRecord } from '../src/training/train.js';
import { OFFLINE_BACKENDS, useBackend } from './helpers.js';

async function lossHistory(config: Config): Promise<number[]> {
  const experiment = createExperiment(config);
  const result = await runExperiment(experiment);
  experiment.model.dispose();
  return result.epochs.map((e) => e.loss);
}

const ENGINES = [
  ...OFFLINE_BACKENDS.map((backend) => ({ backend, lstm: 'layers' as const })),
  // The fused engine computes on typed arrays whatever the backend; the backend only serves predict.
  { backend: 'cpu' as const, lstm: 'fused' as const },
];

for (const { backend, lstm } of ENGINES) {
  const small: Config = { ...ORIGINAL_EXPERIMENT, samples: 200, epochs: 2, seed: 11, lstm };
  describe(`training: ${lstm} engine on ${backend}`, () => {
    it('smoke: 2 epochs on 200 sequences give finite, decreasing losses', async () => {
      await useBackend(backend);
      const losses = await lossHistory(small);
      assert.equal(losses.length, 2);
      assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
      assert.ok(losses[1] < losses[0], `losses ${losses}`);
    });

    it('is deterministic: the same seed twice gives the identical loss history', async () => {
      await useBackend(backend);
      const a = await lossHistory(small);
      const b = await lossHistory(small);
      assert.deepEqual(a, b);
      const other = await lossHistory({ ...small, seed: 12 });
      assert.notDeepEqual(a, other);
    });

    it('counts a ragged last batch: the epoch loss is the size-weighted mean', async () => {
      await useBackend(backend);
      const experiment = createExperiment({ ...small, samples: 50, epochs: 1, batchSize: 32 });
      const batches: BatchRecord[] = [];
      const result = await runExperiment(experiment, { onBatchEnd: (b) => void batches.push(b) });
      assert.deepEqual(
        batches.map((b) => [b.epoch, b.batch, b.batches, b.size]),
        [
          [1, 1, 2, 32],
          [1, 2, 2, 18],
        ],
      );
      const weighted = (batches[0].loss * 32 + batches[1].loss * 18) / 50;
      assert.ok(Math.abs(result.epochs[0].loss - weighted) < 1e-9);
      assert.notEqual(batches[0].loss, batches[1].loss);
    });
  });
}

describe('the training loop: batches, timing, clipping, Ctrl-C and leaks, on both engines', () => {
  const base: Config = { ...ORIGINAL_EXPERIMENT, samples: 64, epochs: 2, seed: 5 };

  it('64 sequences in batches of 32 are exactly 2 batches an epoch (no empty third)', async () => {
    await useBackend('cpu');
    for (const lstm of ['fused', 'layers'] as const) {
      const experiment = createExperiment({ ...base, lstm });
      const sizes: number[] = [];
      await runExperiment(experiment, { onBatchEnd: (b) => void sizes.push(b.size) });
      experiment.model.dispose();
      assert.deepEqual(sizes, [32, 32, 32, 32], lstm);
    }
  });

  it('reports seconds per epoch and in all: positive, and no more than the wall time', async () => {
    await useBackend('cpu');
    const experiment = createExperiment(base);
    const wall = performance.now();
    const result = await runExperiment(experiment);
    const wallSeconds = (performance.now() - wall) / 1000;
    experiment.model.dispose();
    assert.ok(result.seconds > 0 && result.seconds <= wallSeconds, `${result.seconds} s of ${wallSeconds} s`);
    for (const e of result.epochs) assert.ok(e.seconds > 0 && e.seconds <= result.seconds, `epoch ${e.epoch}: ${e.seconds} s`);
  });

  it('clipping through the loop changes training on both engines (clipnorm 1e-6 against none)', async () => {
    await useBackend('cpu');
    for (const lstm of ['fused', 'layers'] as const) {
      const free = await lossHistory({ ...base, lstm });
      const clipped = await lossHistory({ ...base, lstm, clipnorm: 1e-6 });
      assert.ok(Math.abs(free[1] - clipped[1]) > 1e-3, `${lstm}: ${free} vs ${clipped}`);
      const valueClipped = await lossHistory({ ...base, lstm, clipvalue: 1e-6 });
      assert.ok(Math.abs(free[1] - valueClipped[1]) > 1e-3, `${lstm} clipvalue: ${free} vs ${valueClipped}`);
    }
  });

  it('an abort from a timer stops training mid-epoch (the loop yields) and leaves the weights of a run of the whole epochs; no tensor leaks', async () => {
    await useBackend('cpu');
    const weights = (model: { getWeights(): tf.Tensor[] }) => model.getWeights().map((w) => Array.from(w.dataSync()));
    for (const lstm of ['fused', 'layers'] as const) {
      const tensors = tf.memory().numTensors;
      const config = { ...ORIGINAL_EXPERIMENT, samples: 2000, epochs: 1000, seed: 5, lstm };
      const experiment = createExperiment(config);
      const controller = new AbortController();
      const result = await runExperiment(experiment, {
        signal: controller.signal,
        onEpochEnd: (e) => void (e.epoch === 1 && setTimeout(() => controller.abort(), 20)),
      });
      assert.ok(result.interrupted, `${lstm}: interrupted`);
      assert.equal(result.stopped, false, "stopped is the NaN guard's, not Ctrl-C's");
      const whole = result.epochs.length;
      assert.equal(result.interrupted!.atEpoch, whole + 1);
      assert.ok(whole >= 1 && whole < 1000);
      // The same seed trained for exactly the whole epochs: the interrupted model must be that one.
      const reference = createExperiment({ ...config, epochs: whole });
      await runExperiment(reference);
      assert.deepEqual(weights(experiment.model), weights(reference.model), `${lstm}: the weights after epoch ${whole}, not a half-trained epoch`);
      experiment.model.dispose();
      reference.model.dispose();
      assert.equal(tf.memory().numTensors, tensors, `${lstm}: no tensors left behind`);
    }
  });
});

describe('contracts of the loop with the rest of seq-tag', () => {
  it("the doctor's burst trains on epoch 1's first batches: its first loss is training's first batch loss", async () => {
    await useBackend('cpu');
    const config: Config = { ...ORIGINAL_EXPERIMENT, samples: 256, epochs: 1, seed: 9, lstm: 'layers' };
    const experiment = createExperiment(config);
    const losses: number[] = [];
    await runExperiment(experiment, { onBatchEnd: (b) => void losses.push(b.loss) });
    experiment.model.dispose();
    const burst = diagnose(config, { burstBatches: 2 }).checks.find((c) => c.id === 'loss')!;
    assert.ok(Math.abs(burst.numbers.firstLoss! - losses[0]) < 1e-6, `${burst.numbers.firstLoss} vs ${losses[0]}`);
  });

  it('--lstm picks the engine: fused (float64 typed arrays) and layers (tf.layers) agree to 1e-5 but are not the same arithmetic', async () => {
    await useBackend('cpu');
    const fused = await lossHistory({ ...ORIGINAL_EXPERIMENT, samples: 64, epochs: 2, seed: 5, lstm: 'fused' });
    const layers = await lossHistory({ ...ORIGINAL_EXPERIMENT, samples: 64, epochs: 2, seed: 5, lstm: 'layers' });
    fused.forEach((l, i) => assert.ok(Math.abs(l - layers[i]) < 1e-5, `epoch ${i + 1}: ${l} vs ${layers[i]}`));
    assert.notDeepEqual(fused, layers);
  });
});

describe('crossentropy and the divergence symptoms at their bounds', () => {
  it('a perfect prediction still costs −ln(1 − ε): the clip is below 1', async () => {
    await useBackend('cpu');
    const loss = tf.tidy(() => tagLoss(tf.tensor3d([[[1, 0]]]), tf.tensor3d([[[1, 0]]])).dataSync()[0]);
    assert.ok(loss > 0 && loss < 1e-6, String(loss));
  });

  it('a loss exactly 1e-3 under the clip bound already counts as pinned', () => {
    assert.equal(divergenceSymptom(CLIP_BOUND_LOSS - 1e-3), 'clip-bound');
    assert.equal(divergenceSymptom(CLIP_BOUND_LOSS - 2e-3), undefined);
  });
});
