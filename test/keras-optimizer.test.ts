/**
 * Issue #32: the doctor's burst runs a Keras file's own optimizer (its class, schedule, momentum,
 * weight decay, clipping) and loss (label smoothing). Keras's own train_on_batch losses for four
 * batches, from the saved weights with a fresh optimizer of the file's compile config, are in
 * test/fixtures/keras/burst-steps.json (made by make_losses.py); seq-tag's steps must follow them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { loadModel } from '../src/model/store.js';
import { configFromDescription } from '../src/model/describe.js';
import { batchLoss, modelLoss } from '../src/training/losses.js';
import { kerasOptimizer } from '../src/training/keras-optimizer.js';
import { layersEngine } from '../src/training/train.js';
import { readDataFile, inputTensor, targetTensor } from '../src/task/tag-data.js';
import { seqTag, useBackend } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/keras/', import.meta.url));
const steps = JSON.parse(readFileSync(join(FIXTURES, 'burst-steps.json'), 'utf8')) as { losses: Record<string, number[]> };

describe("the doctor's burst runs the file's own optimizer, step for step as Keras's train_on_batch", () => {
  before(() => useBackend('cpu'));
  for (const [name, keras] of Object.entries(steps.losses)) {
    it(`${name}: 4 steps within 3e-5 of Keras (the optimizer the config alone names is 1e-4 to 6e-2 off)`, async () => {
      const loaded = await loadModel(join(FIXTURES, `${name}.keras`));
      const data = await readDataFile(join(FIXTURES, 'digits.npz'), loaded.description);
      const x = inputTensor(data);
      const y = targetTensor(data);
      const config = { ...configFromDescription(loaded.description, loaded.compile, 1), batchSize: 32 };
      const engine = layersEngine(
        loaded.model,
        x,
        y,
        config,
        undefined,
        batchLoss(modelLoss(loaded.compile)!),
        kerasOptimizer(loaded.compile?.keras?.optimizer),
      );
      const ours = keras.map((_, b) => engine.step(Int32Array.from({ length: 32 }, (_, i) => b * 32 + i)));
      engine.finish(true);
      x.dispose();
      y.dispose();
      loaded.model.dispose();
      ours.forEach((loss, b) => assert.ok(Math.abs(loss - keras[b]) <= 3e-5, `step ${b + 1}: ${loss} vs Keras ${keras[b]} (all: ${ours.join(', ')})`));
    });
  }

  it('the header and --json name the optimizer as it runs, and what it cannot run', async () => {
    const sgd = await seqTag(['doctor', '--model', join(FIXTURES, 'sgd-nesterov.keras'), '--backend', 'cpu', '--burst', '2']);
    assert.match(sgd.stdout.replace(/\n/g, ' '), /from its own weights, SGD \(lr 0\.05, momentum 0\.9, nesterov\) \(the file's compile config\)/);
    const adamw = await seqTag(['doctor', '--model', join(FIXTURES, 'adamw-schedule.keras'), '--backend', 'cpu', '--burst', '2', '--json']);
    assert.deepEqual(JSON.parse(adamw.stdout).burstOptimizer, {
      name: 'AdamW',
      described: 'AdamW (ExponentialDecay from lr 0.01, epsilon 1e-7, weight decay 0.004)',
      dropped: [],
    });
  });

  it('what the burst cannot run is named, never replaced silently', () => {
    const nadam = kerasOptimizer({ class_name: 'Nadam', config: { learning_rate: 0.002, use_ema: true, global_clipnorm: 1 } });
    assert.deepEqual(nadam.dropped, [
      'Nadam itself (not in TensorFlow.js: the burst runs Adam with its learning rate)',
      'global_clipnorm 1',
      'use_ema (its weights are not averaged)',
    ]);
    const restarts = kerasOptimizer({
      class_name: 'Adam',
      config: { learning_rate: { class_name: 'CosineDecayRestarts', config: { initial_learning_rate: 0.01 } } },
    });
    assert.deepEqual(restarts.dropped, ['its CosineDecayRestarts schedule (held at lr 0.01)']);
    assert.equal(restarts.lrAt(100), 0.01);
    const centered = kerasOptimizer({ class_name: 'RMSprop', config: { learning_rate: 0.001, centered: true } });
    assert.match(centered.dropped.join(), /^centered \(TensorFlow\.js computes it with −ε, NaN on zero gradients: run uncentered\)$/);
    // Schedules as Keras evaluates them.
    const piecewise = kerasOptimizer({
      class_name: 'SGD',
      config: { learning_rate: { class_name: 'PiecewiseConstantDecay', config: { boundaries: [2, 4], values: [1, 0.5, 0.1] } } },
    });
    assert.deepEqual([0, 2, 3, 4, 5].map(piecewise.lrAt), [1, 1, 0.5, 0.5, 0.1]);
    const exp = kerasOptimizer({
      class_name: 'SGD',
      config: { learning_rate: { class_name: 'ExponentialDecay', config: { initial_learning_rate: 1, decay_steps: 10, decay_rate: 0.5, staircase: true } } },
    });
    assert.deepEqual([0, 9, 10, 25].map(exp.lrAt), [1, 1, 0.5, 0.25]);
  });

  it("only Adam at a constant rate with Keras's betas and nothing dropped is plain (the fused engine's Adam runs it)", () => {
    const plain = (optimizer: unknown) => kerasOptimizer(optimizer).plainAdam;
    assert.equal(plain(undefined), true, "no optimizer: Keras's default Adam");
    assert.equal(plain({ class_name: 'Adam', config: { learning_rate: 0.01, epsilon: 1e-6 } }), true);
    assert.equal(plain({ class_name: 'Adam', config: { beta_2: 0.98 } }), false);
    assert.equal(plain({ class_name: 'Adam', config: { amsgrad: true } }), false);
    assert.equal(plain({ class_name: 'AdamW', config: { weight_decay: 0.004 } }), false);
    assert.equal(
      plain({ class_name: 'Adam', config: { learning_rate: { class_name: 'ExponentialDecay', config: { initial_learning_rate: 1, decay_steps: 10 } } } }),
      false,
    );
    assert.equal(plain({ class_name: 'SGD', config: { learning_rate: 0.01 } }), false);
  });
});
