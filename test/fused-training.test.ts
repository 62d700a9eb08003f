import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { DTYPES, ORIGINAL_EXPERIMENT, type Config } from '../src/config/config.js';
import { createExperiment, runExperiment } from '../src/training/experiment.js';
import { useBackend } from './helpers.js';

/** Whole training runs: the fused engine follows tf.layers' loss curves (slower than the one-step checks). */
describe('fused engine training runs against tf.layers', () => {
  before(() => useBackend('cpu'));

  for (const dtype of DTYPES)
    it(`a short training run follows the layers engine's loss curve within 1e-4 (fused ${dtype})`, async () => {
      const config: Config = { ...ORIGINAL_EXPERIMENT, samples: 300, epochs: 3, batchSize: 32, seed: 21, dtype };
      const curve = async (lstm: Config['lstm']) => {
        const batches: number[] = [];
        const result = await runExperiment(createExperiment({ ...config, lstm, dtype: lstm === 'layers' ? 'float32' : dtype }), {
          onBatchEnd: (b) => void batches.push(b.loss),
        });
        return { batches, epochs: result.epochs.map((e) => e.loss) };
      };
      const fused = await curve('fused');
      const layers = await curve('layers');
      assert.equal(fused.batches.length, 30);
      fused.batches.forEach((loss, k) => assert.ok(Math.abs(loss - layers.batches[k]) < 1e-4, `batch ${k + 1}: ${loss} vs ${layers.batches[k]}`));
      fused.epochs.forEach((loss, k) => assert.ok(Math.abs(loss - layers.epochs[k]) < 1e-4, `epoch ${k + 1}: ${loss} vs ${layers.epochs[k]}`));
    });

  it('the other optimizers, clipping and the normalisation layers follow the layers engine too', async () => {
    for (const extra of [
      { optimizer: 'sgd', lr: 0.05 },
      { optimizer: 'rmsprop', lr: 0.001 },
      { optimizer: 'adagrad', lr: 0.01 },
      { clipnorm: 0.05 },
      { clipvalue: 0.01 },
      { batchNorm: true },
      { layerNorm: true },
      { activation: 'linear', batchNorm: true },
    ] as const) {
      const config: Config = { ...ORIGINAL_EXPERIMENT, samples: 96, epochs: 2, seed: 8, ...extra };
      const losses = async (lstm: Config['lstm']) => (await runExperiment(createExperiment({ ...config, lstm }))).epochs.map((e) => e.loss);
      const [fused, layers] = [await losses('fused'), await losses('layers')];
      assert.equal(fused.length, 2, `${JSON.stringify(extra)}: both epochs ran (fused)`);
      assert.equal(layers.length, 2, `${JSON.stringify(extra)}: both epochs ran (layers)`);
      fused.forEach((loss, k) => assert.ok(Math.abs(loss - layers[k]) < 1e-4, `${JSON.stringify(extra)} epoch ${k + 1}: ${loss} vs ${layers[k]}`));
    }
  });

  it("saved weights are the tfjs model's own: training writes them back into the LSTM and Dense layers", async () => {
    const experiment = createExperiment({ ...ORIGINAL_EXPERIMENT, samples: 64, epochs: 1, seed: 5 });
    const before = experiment.model.getWeights().map((w) => Array.from(w.dataSync()));
    await runExperiment(experiment);
    const after = experiment.model.getWeights().map((w) => Array.from(w.dataSync()));
    after.forEach((w, k) => assert.notDeepEqual(w, before[k], `weight ${k} trained`));
  });
});
