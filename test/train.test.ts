import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/model/config.js';
import { createExperiment, runExperiment } from '../src/training/experiment.js';
import type { BatchRecord } from '../src/training/train.js';
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
