import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { SEED_EXPERIMENT, type Config } from '../src/config.js';
import { UserError } from '../src/errors.js';
import { buildModel } from '../src/model.js';
import { checkSaveTarget, loadModel, saveModel, type ModelRecord } from '../src/storage.js';
import { tempDir, useBackend } from './helpers.js';

const config: Config = { ...SEED_EXPERIMENT, seed: 3 };
const record = (losses: number[]): ModelRecord => ({
  config,
  backend: 'cpu',
  losses,
  trainedAt: '2026-11-26T00:00:00.000Z',
  trainSeconds: 1.5,
  seqTagVersion: 'test',
});
const input = () => tf.tensor3d([[0, 1, 2, 3, 4, 5, 6, 7, 8, 8]].map((s) => s.map((d) => [d])));

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${err}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

describe('storage', () => {
  before(() => useBackend('cpu'));

  it('save → load gives identical probabilities and the training record', async () => {
    const dir = join(tempDir(), 'model');
    const model = buildModel(config, 3);
    await saveModel(model, dir, record([0.7, 0.6]));
    assert.deepEqual(readdirSync(dir).sort(), ['model.json', 'weights.bin']);
    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.record, record([0.7, 0.6]));
    const a = (model.predict(input()) as tf.Tensor).dataSync();
    const b = (loaded.model.predict(input()) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(b), Array.from(a));
  });

  it('writes the standard Layers format that stock tf.loadLayersModel reads', async () => {
    const dir = join(tempDir(), 'model');
    const model = buildModel(config, 4);
    await saveModel(model, dir, record([0.5]));
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.deepEqual(json.weightsManifest[0].paths, ['./weights.bin']);
    const weights = readFileSync(join(dir, 'weights.bin'));
    const stock = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
    );
    assert.deepEqual(stock.layers.map((l) => l.getClassName()), ['LSTM', 'TimeDistributed']);
    assert.equal(stock.countParams(), 1186);
    const a = (model.predict(input()) as tf.Tensor).dataSync();
    const b = (stock.predict(input()) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(b), Array.from(a));
  });

  it('replaces an existing model whole and leaves no staging folders behind', async () => {
    const parent = tempDir();
    const dir = join(parent, 'model');
    await saveModel(buildModel(config, 1), dir, record([1]));
    await saveModel(buildModel(config, 2), dir, record([2]));
    assert.deepEqual((await loadModel(dir)).record.losses, [2]);
    assert.deepEqual(readdirSync(parent), ['model']);
  });

  it('refuses to replace a folder that is not a seq-tag model', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    await rejects(checkSaveTarget(dir), /holds other files and no seq-tag model/);
    await rejects(saveModel(buildModel(config, 1), dir, record([1])), /refusing to replace/);
    assert.deepEqual(readdirSync(dir), ['notes.txt']);
  });

  it('reports unwritable targets in one line', async () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    await rejects(checkSaveTarget(file), /is a file/);
    await rejects(checkSaveTarget(join(file, 'model')), /cannot (use|write to) --model-dir .*ENOTDIR/);
  });

  it('explains missing and corrupt model folders in one line', async () => {
    const root = tempDir();
    await rejects(loadModel(join(root, 'absent')), /no model at .*seq-tag train --model-dir/);
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await rejects(loadModel(empty), /no model\.json in/);

    const good = join(root, 'good');
    await saveModel(buildModel(config, 1), good, record([1]));
    const modelJson = readFileSync(join(good, 'model.json'), 'utf8');
    const weights = readFileSync(join(good, 'weights.bin'));

    const badJson = join(root, 'bad-json');
    mkdirSync(badJson);
    writeFileSync(join(badJson, 'model.json'), modelJson.slice(0, 100));
    writeFileSync(join(badJson, 'weights.bin'), weights);
    await rejects(loadModel(badJson), /unreadable \(model\.json is not valid JSON\)/);

    const truncated = join(root, 'truncated');
    mkdirSync(truncated);
    writeFileSync(join(truncated, 'model.json'), modelJson);
    writeFileSync(join(truncated, 'weights.bin'), weights.subarray(0, 100));
    await rejects(loadModel(truncated), /weights\.bin has 100 bytes, expected 4744/);

    const noWeights = join(root, 'no-weights');
    mkdirSync(noWeights);
    writeFileSync(join(noWeights, 'model.json'), modelJson);
    await rejects(loadModel(noWeights), /missing \.\/weights\.bin/);

    const foreign = join(root, 'foreign');
    mkdirSync(foreign);
    const stripped = JSON.parse(modelJson);
    delete stripped.userDefinedMetadata;
    writeFileSync(join(foreign, 'model.json'), JSON.stringify(stripped));
    writeFileSync(join(foreign, 'weights.bin'), weights);
    await rejects(loadModel(foreign), /not saved by seq-tag/);

    await rejects(loadModel(join(good, 'model.json')), /is a file, not a model folder/);
  });
});
