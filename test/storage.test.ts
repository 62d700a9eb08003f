import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/config/config.js';
import { UserError } from '../src/errors.js';
import { buildModel } from '../src/model/model.js';
import { loadModel, ModelFolder, saveModel, type ModelRecord } from '../src/model/store.js';
import { tempDir, useBackend } from './helpers.js';

const config: Config = { ...ORIGINAL_EXPERIMENT, seed: 3 };
const record = (losses: number[]): ModelRecord => ({
  config,
  backend: 'cpu',
  losses,
  trainedAt: '2026-11-26T00:00:00.000Z',
  trainSeconds: 1.5,
  seqTagVersion: 'test',
});
const input = () => tf.tensor3d([[0, 1, 2, 3, 4, 5, 6, 7, 8, 8]].map((s) => s.map((d) => [d])));
const weightsOf = (model: tfl.LayersModel) => model.getWeights().flatMap((w) => Array.from(w.dataSync()));
const weightsFiles = (dir: string) => readdirSync(dir).filter((f) => /^weights-[0-9a-f]{6}\.\d+\.\d+-[0-9a-f]{8}\.bin$/.test(f));

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
    assert.deepEqual(readdirSync(dir).filter((f) => f !== 'model.json').length, 1);
    assert.equal(weightsFiles(dir).length, 1);
    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.record, record([0.7, 0.6]));
    const a = (model.predict(input()) as tf.Tensor).dataSync();
    const b = (loaded.model.predict(input()) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(b), Array.from(a));
  });

  it('writes the standard Layers format that stock tfl.loadLayersModel reads', async () => {
    const dir = join(tempDir(), 'model');
    const model = buildModel(config, 4);
    await saveModel(model, dir, record([0.5]));
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.deepEqual(json.weightsManifest[0].paths, [`./${weightsFiles(dir)[0]}`]);
    const weights = readFileSync(join(dir, weightsFiles(dir)[0]));
    const stock = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
    );
    assert.deepEqual(
      stock.layers.map((l) => l.getClassName()),
      ['LSTM', 'TimeDistributed'],
    );
    assert.equal(stock.countParams(), 1186);
    const a = (model.predict(input()) as tf.Tensor).dataSync();
    const b = (stock.predict(input()) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(b), Array.from(a));
  });

  it("a retrain replaces only its own files: the folder, the user's notes and old-format models are handled", async () => {
    const parent = tempDir();
    const dir = join(parent, 'model');
    await saveModel(buildModel(config, 1), dir, record([1]));
    writeFileSync(join(dir, 'NOTES.md'), 'my notes');
    mkdirSync(join(dir, 'plots'));
    const inode = lstatSync(dir).ino;
    await saveModel(buildModel(config, 2), dir, record([2]));
    assert.deepEqual((await loadModel(dir)).record!.losses, [2]);
    assert.equal(lstatSync(dir).ino, inode, 'the folder itself was not swapped');
    assert.equal(readFileSync(join(dir, 'NOTES.md'), 'utf8'), 'my notes');
    assert.deepEqual(readdirSync(dir).sort(), ['NOTES.md', 'model.json', weightsFiles(dir)[0], 'plots'].sort());
    assert.deepEqual(readdirSync(parent), ['model'], 'nothing beside it');

    // A model saved by an earlier seq-tag (weights.bin): its weights go once the new model is in.
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const old = join(parent, 'old');
    mkdirSync(old);
    writeFileSync(join(old, 'weights.bin'), readFileSync(join(dir, weightsFiles(dir)[0])));
    json.weightsManifest[0].paths = ['./weights.bin'];
    writeFileSync(join(old, 'model.json'), JSON.stringify(json));
    assert.deepEqual((await loadModel(old)).record!.losses, [2]);
    await saveModel(buildModel(config, 3), old, record([3]));
    assert.deepEqual(readdirSync(old).sort(), ['model.json', weightsFiles(old)[0]].sort());
  });

  it('refuses folders it cannot recognise as its own, and changes nothing in them', async () => {
    const withNotes = tempDir();
    writeFileSync(join(withNotes, 'notes.txt'), 'mine');
    await rejects(saveModel(buildModel(config, 1), withNotes, record([1])), /holds other files \(notes\.txt\) and no seq-tag model/);
    assert.deepEqual(readdirSync(withNotes), ['notes.txt']);

    // The trial's case: an unrelated model.json, a notes file and a source folder.
    const project = tempDir();
    mkdirSync(join(project, 'src'));
    writeFileSync(join(project, 'model.json'), '{}');
    writeFileSync(join(project, 'notes.txt'), 'x');
    await rejects(saveModel(buildModel(config, 1), project, record([1])), /holds a model\.json that seq-tag did not write/);
    assert.deepEqual(readdirSync(project).sort(), ['model.json', 'notes.txt', 'src']);
    assert.equal(readFileSync(join(project, 'model.json'), 'utf8'), '{}');

    const broken = tempDir();
    writeFileSync(join(broken, 'model.json'), '{ not json');
    await rejects(ModelFolder.open(broken), /not a seq-tag model \(unreadable\)/);
    const weightsOnly = tempDir();
    writeFileSync(join(weightsOnly, 'weights.bin'), 'user data');
    await rejects(ModelFolder.open(weightsOnly), /holds other files \(weights\.bin\)/);
  });

  it('writes through a symlinked folder and leaves the symlink a symlink', async () => {
    const root = tempDir();
    const real = join(root, 'real');
    const link = join(root, 'link');
    await saveModel(buildModel(config, 1), real, record([1]));
    symlinkSync(real, link);
    await saveModel(buildModel(config, 2), link, record([2]));
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), real);
    assert.deepEqual((await loadModel(real)).record!.losses, [2]);
    symlinkSync(join(root, 'nowhere'), join(root, 'dangling'));
    await rejects(ModelFolder.open(join(root, 'dangling')), /is a symlink to a folder that does not exist/);
  });

  it("one writer at a time: a second claim names the first one's pid; a released folder can be claimed again", async () => {
    const dir = join(tempDir(), 'model');
    const first = await ModelFolder.open(dir);
    await rejects(
      ModelFolder.open(dir),
      new RegExp(`another seq-tag \\(pid ${process.pid}\\) is writing to .*; wait for it to finish or choose another --model-dir`),
    );
    await rejects(saveModel(buildModel(config, 1), dir, record([1])), /another seq-tag/);
    await first.save(buildModel(config, 1), record([1]));
    await first.release();
    await saveModel(buildModel(config, 2), dir, record([2]));
    assert.deepEqual((await loadModel(dir)).record!.losses, [2]);
  });

  it('a folder it created and saved nothing into is removed again; one that existed stays', async () => {
    const dir = join(tempDir(), 'fresh');
    await (await ModelFolder.open(dir)).release();
    assert.ok(!existsSync(dir));
    const existing = tempDir();
    await (await ModelFolder.open(existing)).release();
    assert.deepEqual(readdirSync(existing), []);
  });

  it('unusable paths fail within a second, in one line', async () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    for (const [path, pattern] of [
      [file, /--model-dir .* it is a file/],
      [join(file, 'model'), /cannot use --model-dir .*is a file/],
      ['/proc/seq-tag-test', /cannot create --model-dir \/proc\/seq-tag-test: no such file or folder \(ENOENT\)/],
      ['/dev/null/x', /cannot use --model-dir \/dev\/null\/x: \/dev\/null is a file/],
      ['', /--model-dir is empty/],
    ] as const) {
      const started = performance.now();
      await rejects(ModelFolder.open(path), pattern);
      assert.ok(performance.now() - started < 1000, `${path} answered in under a second`);
    }
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
    const weightsName = weightsFiles(good)[0];
    const weights = readFileSync(join(good, weightsName));
    const variant = (name: string, json: string, bytes?: Buffer) => {
      const dir = join(root, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'model.json'), json);
      if (bytes) writeFileSync(join(dir, weightsName), bytes);
      return dir;
    };

    await rejects(loadModel(variant('bad-json', modelJson.slice(0, 100), weights)), /unreadable \(model\.json is not valid JSON\)/);
    await rejects(loadModel(variant('truncated', modelJson, weights.subarray(0, 100))), /its weights have 100 bytes, expected 4744/);
    await rejects(loadModel(variant('no-weights', modelJson)), new RegExp(`missing \\./${weightsName}`));
    const stripped = JSON.parse(modelJson);
    delete stripped.userDefinedMetadata;
    const stock = await loadModel(variant('stock-tfjs', JSON.stringify(stripped), weights));
    assert.equal(stock.format, 'tfjs', 'a stock tfjs Layers folder (no seq-tag record) is read as one');
    assert.equal(stock.record, undefined);
    assert.equal(stock.description.architecture, 'LSTM 16 → TimeDistributed(Dense(2, softmax))');
    await rejects(loadModel(join(good, 'model.json')), /model\.json is a model\.json \(pass the folder that holds it\)/);
  });

  it('a model whose weights hold NaN is refused for use, and reported as such when asked', async () => {
    const dir = join(tempDir(), 'nan');
    await saveModel(buildModel(config, 1), dir, record([1]));
    const path = join(dir, weightsFiles(dir)[0]);
    const bytes = readFileSync(path);
    new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)[5] = NaN;
    writeFileSync(path, bytes);
    await rejects(
      loadModel(dir),
      /weights in .* contain NaN\/Infinity \(its training diverged\): its predictions are meaningless; see why with: seq-tag doctor --model /,
    );
    const loaded = await loadModel(dir, { allowNonFinite: true });
    assert.deepEqual(loaded.nonFinite, ['lstm/kernel']);
  });
});

describe('crash safety: the process killed at each step of a save', () => {
  const CRASHER = fileURLToPath(new URL('./fixtures/crash-save.js', import.meta.url));
  let steps: string[] = [];
  let a: number[];
  let b: number[];

  before(async () => {
    await useBackend('cpu');
    a = weightsOf(buildModel(config, 1));
    b = weightsOf(buildModel(config, 2));
    // The steps a save goes through, as the save itself reports them.
    const dir = join(tempDir(), 'steps');
    await saveModel(buildModel(config, 1), dir, record([1]));
    await saveModel(buildModel(config, 2), dir, record([2]), (s) => void steps.push(s));
    steps = [...new Set(steps)];
  });

  it('reports the steps of a save', () => {
    assert.deepEqual(steps, [
      'weights-partial',
      'weights-synced',
      'folder-synced',
      'model-json-temp-partial',
      'model-json-temp-synced',
      'model-json-renamed',
      'switched',
      'cleaned',
    ]);
  });

  it('at every step the folder holds a complete model (old before the switch, new after), and the next save cleans up', async () => {
    for (const step of steps) {
      const dir = join(tempDir(), 'model');
      const first = spawnSync(process.execPath, [CRASHER, dir, 'none', '1'], { encoding: 'utf8' });
      assert.equal(first.status, 0, first.stderr);
      const crash = spawnSync(process.execPath, [CRASHER, dir, step, '2'], { encoding: 'utf8' });
      assert.equal(crash.signal, 'SIGKILL', `${step}: killed (${crash.stderr})`);
      const loaded = await loadModel(dir);
      const after = ['model-json-renamed', 'switched', 'cleaned'].includes(step);
      assert.deepEqual(weightsOf(loaded.model), after ? b : a, `${step}: the ${after ? 'new' : 'old'} model, complete`);
      assert.deepEqual(loaded.record!.losses, [after ? 2 : 1]);
      // The killed process left its lock; the next save takes it over and removes the leftovers.
      await saveModel(buildModel(config, 3), dir, record([3]));
      assert.deepEqual(readdirSync(dir).sort(), ['model.json', weightsFiles(dir)[0]].sort(), `${step}: leftovers removed`);
    }
  });
});
