/**
 * The programmatic API (src/index.ts): the same results as the CLI, nothing printed, problems
 * thrown as SeqTagError, nothing saved from a diverged run, no tensors left behind.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { doctor, evaluate, loadModel, makeConfig, predict, SeqTagError, train } from '../src/index.js';
import { seqTag, tempDir } from './helpers.js';
import { nativeKernels } from '../src/training/fused/wasm/instance.js';

const FIXTURES = new URL('../../test/fixtures/corpus/', import.meta.url).pathname;

const SMALL = { epochs: 2, samples: 96, seed: 4, backend: 'cpu' } as const;

describe('the API', () => {
  it('trains as `seq-tag train` does (same seed, same losses), saves, and loads back for predict and evaluate', async () => {
    const dir = join(tempDir(), 'm');
    const run = await train({ ...SMALL, modelDir: dir });
    assert.equal(run.saved, true);
    run.model.dispose();
    const cli = JSON.parse(
      (await seqTag(['train', '--epochs', '2', '--samples', '96', '--seed', '4', '--backend', 'cpu', '--json', '--model-dir', join(tempDir(), 'c')])).stdout,
    );
    assert.deepEqual(
      run.epochs.map((e) => e.loss),
      cli.epochs.map((e: { loss: number }) => e.loss),
    );
    assert.deepEqual(run.evaluation, cli.evaluation);

    const model = await loadModel(dir);
    const before = tf.memory().numTensors;
    const [p] = predict(model, ['4 0 2 8 5 6 1 3 3 7']);
    assert.deepEqual(p.digits, [4, 0, 2, 8, 5, 6, 1, 3, 3, 7]);
    assert.deepEqual(p.truth, [0, 0, 0, 0, 0, 0, 0, 1, 1, 0]);
    assert.equal(p.probs!.length, 10);
    assert.deepEqual(
      p.predicted,
      p.probs!.map((q) => (q > 0.5 ? 1 : 0)),
    );
    const scores = await evaluate(model, { samples: 50 });
    assert.equal(scores.sequences, 50);
    assert.equal(tf.memory().numTensors, before, 'predict and evaluate leave no tensor behind');
    model.model.dispose();
  });

  it('runs the kernels it is asked for, as --kernels does, and says which ran', async () => {
    const options = { ...SMALL, units: 24, bidirectional: true, encoding: 'onehot' as const };
    const wasm = await train({ ...options, kernels: 'wasm' });
    wasm.model.dispose();
    assert.equal(wasm.kernels, 'wasm');
    const cli = JSON.parse(
      (
        await seqTag([
          'train',
          '--epochs',
          '2',
          '--samples',
          '96',
          '--seed',
          '4',
          '--backend',
          'cpu',
          '--units',
          '24',
          '--bidirectional',
          '--encoding',
          'onehot',
          '--kernels',
          'wasm',
          '--json',
        ])
      ).stdout,
    );
    assert.deepEqual(
      wasm.epochs.map((e) => e.loss),
      cli.epochs.map((e: { loss: number }) => e.loss),
    );
    const auto = await train(options);
    auto.model.dispose();
    if (auto.kernels === 'native') {
      // Two builds, the same arithmetic to float32 rounding.
      auto.epochs.forEach((e, k) => assert.ok(Math.abs(e.loss - wasm.epochs[k].loss) < 1e-4));
      assert.notDeepEqual(
        auto.epochs.map((e) => e.loss),
        wasm.epochs.map((e) => e.loss),
      );
    } else {
      assert.deepEqual(
        auto.epochs.map((e) => e.loss),
        wasm.epochs.map((e) => e.loss),
      );
      await assert.rejects(
        train({ ...options, kernels: 'native' }),
        (err: Error) => err instanceof SeqTagError && /^cannot use --kernels native: they are not built here/.test(err.message),
      );
    }
  });

  it(
    'a text tagger trains on either kernels to the same losses within 1e-4 (the native build runs its cells too)',
    { skip: !nativeKernels() && 'the native kernels are not built here' },
    async () => {
      const data = join(FIXTURES, 'chunks-dev.conll');
      const options = { data, epochs: 2, units: 8, embeddingDim: 8, bidirectional: true, lr: 0.05, maxLength: 24, seed: 3, backend: 'cpu' } as const;
      const [wasm, native] = [await train({ ...options, kernels: 'wasm' }), await train({ ...options, kernels: 'native' })];
      wasm.model.dispose();
      native.model.dispose();
      const losses = (r: typeof wasm) => r.epochs.map((e) => e.loss);
      losses(native).forEach((loss, k) => assert.ok(Math.abs(loss - losses(wasm)[k]) < 1e-4, `epoch ${k + 1}: ${loss} vs ${losses(wasm)[k]}`));
      assert.notDeepEqual(losses(native), losses(wasm));
    },
  );

  it('never saves a diverged run, and says why through doctor', async () => {
    const dir = join(tempDir(), 'nan');
    const run = await train({ ...SMALL, activation: 'linear', modelDir: dir });
    assert.equal(run.saved, false);
    assert.ok(run.divergence);
    assert.equal(run.evaluation, undefined);
    run.model.dispose();
    assert.ok(!existsSync(dir), 'the folder it made for the model is gone: nothing written');
    const diagnosis = await doctor({ activation: 'linear', seed: 1, burst: 2 });
    assert.equal(diagnosis.healthy, false);
    assert.equal(diagnosis.cause?.id, 'output');
    // The kernels are a setting of the run, not of the model: the doctor takes them beside a model too.
    assert.equal((await doctor({ activation: 'linear', seed: 1, burst: 2, kernels: 'wasm' })).cause?.id, 'output');
  });

  it('throws SeqTagError with the CLI sentence for bad input', async () => {
    assert.throws(() => makeConfig({ epochs: 0 }), SeqTagError);
    assert.throws(() => makeConfig({ earlyStopping: 3 }), /--early-stopping watches the validation loss/);
    assert.throws(() => makeConfig({ preset: 'nope' as never }), /unknown preset 'nope'/);
    await assert.rejects(loadModel(join(tempDir(), 'missing')), (err: Error) => err instanceof SeqTagError && /no model at/.test(err.message));
    await assert.rejects(doctor({ data: 'x.npz' }), /data needs a model/);
    await assert.rejects(
      doctor({ model: 'm', activation: 'softmax' }),
      (err: Error) => err instanceof SeqTagError && /^activation does not apply with model: the doctor checks that model as it is/.test(err.message),
    );
    const dir = join(tempDir(), 'm');
    (await train({ ...SMALL, modelDir: dir })).model.dispose();
    const model = await loadModel(dir);
    assert.throws(() => predict(model, ['123']), /sequence 1 is not 10 digits/);
    assert.throws(() => predict(model, [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]), /sequence 1 is not 10 digits/);
    model.model.dispose();
  });
});
