import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/config/config.js';
import { diagnose } from '../src/diagnosis/diagnosis.js';
import { createExperiment, runExperiment } from '../src/training/experiment.js';
import { labelEntropy } from '../src/task/metrics.js';
import { CLIP_BOUND_LOSS, divergenceSymptom } from '../src/training/train.js';
import { useBackend } from './helpers.js';

const base: Config = { ...ORIGINAL_EXPERIMENT, samples: 200, epochs: 2, seed: 1 };

async function train(config: Config) {
  const experiment = createExperiment(config);
  const result = await runExperiment(experiment);
  return result;
}

describe('divergenceSymptom', () => {
  it('flags NaN, infinity and the clip bound, and nothing else', () => {
    assert.equal(divergenceSymptom(NaN), 'nan');
    assert.equal(divergenceSymptom(Infinity), 'infinite');
    assert.equal(divergenceSymptom(16.118127822875977), 'clip-bound');
    assert.equal(divergenceSymptom(CLIP_BOUND_LOSS), 'clip-bound');
    assert.equal(divergenceSymptom(15.9), undefined);
    assert.equal(divergenceSymptom(0.5), undefined);
  });

  it('the no-skill floor of this data is 0.5004 nats', () => {
    assert.equal(labelEntropy([1, 1, 0, 0, 0, 0, 0, 0, 0, 0]).toFixed(4), '0.5004');
    assert.equal(labelEntropy([0, 0]), 0);
  });
});

describe('NaN guard and diagnosis on cpu', () => {
  it('linear head: the guard stops in epoch 1 and the diagnosis blames the output activation, with numbers', async () => {
    await useBackend('cpu');
    const config = { ...base, activation: 'linear' as const };
    const result = await train(config);
    assert.equal(result.stopped, true);
    assert.equal(result.divergence?.epoch, 1);
    assert.equal(result.divergence?.symptom, 'nan');
    assert.equal(result.epochs.length, 0, 'stopped inside epoch 1');

    const diagnosis = diagnose(config, { trigger: result.divergence });
    assert.equal(diagnosis.healthy, false);
    assert.equal(diagnosis.cause?.id, 'output');
    assert.match(diagnosis.cause!.fix!, /--activation softmax/);
    const output = diagnosis.checks.find((c) => c.id === 'output')!;
    assert.ok((output.numbers.negativeShare as number) > 0.1, `negative share ${output.numbers.negativeShare}`);
    assert.ok((output.numbers.minRowSum as number) < 0);
    assert.match(output.evidence, /linear head: \d+\.\d% of 2,000 output rows have a negative entry/);
    assert.equal(diagnosis.checks.find((c) => c.id === 'loss')!.verdict, 'fail');
  });

  it('--no-nan-guard trains on through NaN and still reports where it began', async () => {
    await useBackend('cpu');
    const result = await train({ ...base, activation: 'linear', nanGuard: false });
    assert.equal(result.stopped, false);
    assert.equal(result.epochs.length, 2);
    assert.ok(result.epochs.every((e) => Number.isNaN(e.loss)));
    assert.deepEqual([result.divergence?.epoch, result.divergence?.symptom], [1, 'nan']);
  });

  it('softmax (the default): no trip, finite losses, a healthy diagnosis', async () => {
    await useBackend('cpu');
    const result = await train(base);
    assert.equal(result.divergence, undefined);
    assert.ok(result.epochs.every((e) => Number.isFinite(e.loss)));
    const diagnosis = diagnose(base, { burstBatches: 3 });
    assert.equal(diagnosis.healthy, true);
    // Healthy, and a warning that says why it will not learn (one direction), with the measured next step.
    assert.deepEqual(
      diagnosis.checks.map((c) => [c.id, c.verdict]),
      [
        ['data', 'pass'],
        ['output', 'pass'],
        ['gradients', 'pass'],
        ['weights', 'pass'],
        ['loss', 'pass'],
        ['floor', 'warn'],
      ],
    );
    assert.equal(diagnosis.cause?.id, 'floor');
    assert.equal(diagnosis.checks.find((c) => c.id === 'floor')!.numbers.floor!.toFixed(4), '0.5004');
  });

  it('a sigmoid head is non-negative but not normalised: a warning, not a failure', () => {
    const diagnosis = diagnose({ ...base, activation: 'sigmoid' }, { burstBatches: 2 });
    assert.equal(diagnosis.checks.find((c) => c.id === 'output')!.verdict, 'warn');
    assert.equal(diagnosis.healthy, true);
  });
});

describe('NaN guard on wasm', () => {
  it("catches the pinned clip-bound loss, wasm's form of NaN, in epoch 1 (layers engine)", async () => {
    await useBackend('wasm');
    const config = { ...base, activation: 'linear' as const, lstm: 'layers' as const };
    const result = await train(config);
    assert.equal(result.stopped, true);
    assert.equal(result.divergence?.epoch, 1);
    assert.equal(result.divergence?.symptom, 'clip-bound');
    assert.equal(result.divergence?.loss.toFixed(4), '16.1181');
    const diagnosis = diagnose(config, { trigger: result.divergence });
    assert.equal(diagnosis.cause?.id, 'output');
  });
});
