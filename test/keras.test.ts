/**
 * Bring your own Keras model: the committed fixtures (made by test/fixtures/keras/make_fixtures.py
 * with Keras 3.15.1, with Keras's own outputs beside each) read into tfjs, diagnosed, exported and
 * read back. No Python needed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { unzipSync, zipSync } from 'fflate';
import { ORIGINAL_EXPERIMENT } from '../src/config/config.js';
import { buildModel } from '../src/model/model.js';
import { kerasArchive, kerasH5, readKerasArchive, readLegacyH5 } from '../src/model/keras/archive.js';
import { lookup3, readHdf5, writeHdf5 } from '../src/model/keras/hdf5.js';
import { snakeCase, weightKeys } from '../src/model/keras/topology.js';
import { exportModel } from '../src/model/export.js';
import { loadModel, saveModel, type LoadedModel } from '../src/model/store.js';
import { featureTensor } from '../src/task/data.js';
import { seqTag, tempDir, useBackend } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/keras/', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);

interface Expected {
  encoding: 'scalar' | 'onehot';
  digits: number[][];
  /** Keras's raw output [n, 10, 2]; null where Keras gave NaN. */
  output: (number | null)[][][];
}
const expectedFor = (name: string): Expected => JSON.parse(readFileSync(fixture(name.replace(/\.(keras|h5)$/, '.expected.json')), 'utf8'));

/** The model's raw output on the fixture's probe sequences, flattened. */
function outputOn(model: tfl.LayersModel, expected: Expected): Float32Array {
  return tf.tidy(() => {
    const x = featureTensor(Int32Array.from(expected.digits.flat()), expected.encoding);
    return (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
  });
}

function assertClose(actual: Float32Array, expected: (number | null)[], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  expected.forEach((e, i) => {
    if (e === null) assert.ok(Number.isNaN(actual[i]), `${what}[${i}]: Keras gave NaN, got ${actual[i]}`);
    else assert.ok(Math.abs(actual[i] - e) <= tolerance, `${what}[${i}]: ${actual[i]} vs Keras ${e}`);
  });
}

const FILES = [
  ['seed-linear.keras', 'scalar', 'LSTM 16 → TimeDistributed(Dense(2, linear))'],
  ['seed-linear.h5', 'scalar', 'LSTM 16 → TimeDistributed(Dense(2, linear))'],
  ['seed-softmax.keras', 'scalar', 'LSTM 16 → TimeDistributed(Dense(2, softmax))'],
  ['seed-softmax.h5', 'scalar', 'LSTM 16 → TimeDistributed(Dense(2, softmax))'],
  ['logits.keras', 'scalar', 'LSTM 16 → TimeDistributed(Dense(2, linear))'],
  ['bilstm-onehot.keras', 'onehot', 'Bidirectional(LSTM 8) → TimeDistributed(Dense(2, softmax))'],
  ['bilstm-onehot.h5', 'onehot', 'Bidirectional(LSTM 8) → TimeDistributed(Dense(2, softmax))'],
  ['norms.keras', 'scalar', 'LSTM 8 → BatchNormalization → LayerNormalization → Dropout 0.1 → TimeDistributed(Dense(2, softmax))'],
  ['norms.h5', 'scalar', 'LSTM 8 → BatchNormalization → LayerNormalization → Dropout 0.1 → TimeDistributed(Dense(2, softmax))'],
  ['gru.keras', 'onehot', 'GRU 8 → Dense(2, softmax)'],
] as const;

describe("seq-tag's HDF5 writer", () => {
  it("computes HDF5's metadata checksum (Jenkins lookup3, hashlittle's published test vectors)", () => {
    const text = (t: string) => new TextEncoder().encode(t);
    assert.equal(lookup3(text('')), 0xdeadbeef);
    assert.equal(lookup3(text('Four score and seven years ago')), 0x17770551);
    assert.equal(lookup3(text('Four score and seven years ago'), 1), 0xcd628161);
  });

  it('writes groups and float32 datasets (any rank, empty groups, 12 children) that read back exactly', async () => {
    const values = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3);
    const datasets = [
      { path: 'a/b/vars/0', data: { shape: [3, 4], values: values(12) } },
      { path: 'a/b/vars/1', data: { shape: [4], values: values(4) } },
      { path: 'scalar', data: { shape: [], values: Float32Array.of(Math.PI) } },
      ...Array.from({ length: 12 }, (_, i) => ({ path: `many/${i}`, data: { shape: [1, 1, 2], values: values(2).map((v) => v + i) } })),
    ];
    const bytes = await writeHdf5({ groups: ['a/empty', 'vars'], datasets });
    await readHdf5(bytes, (file) => {
      assert.deepEqual(file.keys('')!.sort(), ['a', 'many', 'scalar', 'vars']);
      assert.deepEqual(file.keys('a')!.sort(), ['b', 'empty']);
      assert.deepEqual(file.keys('a/empty'), []);
      assert.equal(file.keys('many')!.length, 12);
      for (const { path, data } of datasets) assert.deepEqual(file.dataset(path), data, path);
      assert.equal(file.dataset('a/b'), undefined);
      assert.equal(file.keys('a/b/vars/0'), undefined);
      assert.equal(file.dataset('nothing/here'), undefined);
    });
  });
});

describe('Keras models read into tfjs', () => {
  const loaded = new Map<string, LoadedModel>();
  before(async () => {
    await useBackend('cpu');
    for (const [name] of FILES) loaded.set(name, await loadModel(fixture(name), { allowNonFinite: true }));
  });
  after(() => loaded.forEach((l) => l.model.dispose()));

  for (const [name, encoding, architecture] of FILES) {
    it(`${name}: outputs within 1e-5 of Keras's, architecture and encoding read from the topology`, () => {
      const l = loaded.get(name)!;
      assert.equal(l.format, name.endsWith('.h5') ? 'h5' : 'keras');
      assert.equal(l.kerasVersion, '3.15.1');
      assert.equal(l.description.encoding, encoding);
      assert.equal(l.description.architecture, architecture);
      const expected = expectedFor(name);
      assertClose(outputOn(l.model, expected), expected.output.flat(2), 1e-5, name);
    });
  }

  it('reads the compile config: loss, from_logits, optimizer, learning rate and clipping', () => {
    const { keras, ...compile } = loaded.get('logits.keras')!.compile!;
    assert.deepEqual(compile, {
      loss: 'categorical_crossentropy',
      fromLogits: true,
      labelSmoothing: undefined,
      optimizer: { name: 'adam', lr: 0.01, epsilon: 1e-7, clipnorm: 1, clipvalue: undefined },
      dropped: [],
    });
    assert.equal((keras!.optimizer as { class_name: string }).class_name, 'Adam', "the file's own compile config is kept for exports");
    assert.equal(loaded.get('norms.h5')!.compile!.optimizer!.name, 'rmsprop');
    assert.equal(loaded.get('norms.h5')!.compile!.optimizer!.lr, 0.002);
    assert.equal(loaded.get('seed-linear.h5')!.compile!.fromLogits, false);
  });

  it("the seed program's model after its NaN epoch: every weight tensor non-finite, and refused for predictions", async () => {
    assert.equal(loaded.get('seed-linear.keras')!.nonFinite.length, 5);
    await assert.rejects(loadModel(fixture('seed-linear.keras')), /contain NaN\/Infinity \(its training diverged\).*seq-tag doctor --model /);
  });

  it('weight groups keyed as Keras keys them: snake_case class names, _1, _2 for repeats', () => {
    assert.deepEqual(weightKeys(['LSTM', 'Dense', 'LSTM', 'Dense', 'LSTM']), [
      'layers/lstm',
      'layers/dense',
      'layers/lstm_1',
      'layers/dense_1',
      'layers/lstm_2',
    ]);
  });

  it('snake_case keys as Keras names weight groups', () => {
    assert.deepEqual(['LSTM', 'TimeDistributed', 'BatchNormalization', 'SimpleRNN', 'GRU', 'InputLayer', 'LayerNormalization'].map(snakeCase), [
      'lstm',
      'time_distributed',
      'batch_normalization',
      'simple_rnn',
      'gru',
      'input_layer',
      'layer_normalization',
    ]);
  });

  it('loading and disposing leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    for (const name of ['bilstm-onehot.keras', 'norms.h5']) (await loadModel(fixture(name))).model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});

/** A copy of a .keras fixture with its config.json text edited. */
function editedKeras(name: string, edit: (config: string) => string): string {
  const members = unzipSync(readFileSync(fixture(name)));
  members['config.json'] = new TextEncoder().encode(edit(new TextDecoder().decode(members['config.json'])));
  const path = join(tempDir(), name);
  writeFileSync(path, zipSync(members, { level: 0 }));
  return path;
}

describe('models seq-tag cannot run faithfully are refused in one line', () => {
  before(() => useBackend('cpu'));

  it("Keras 3's hard_sigmoid (a different function from tfjs's)", async () => {
    const path = editedKeras('seed-softmax.keras', (c) => c.replace('"recurrent_activation": "sigmoid"', '"recurrent_activation": "hard_sigmoid"'));
    await assert.rejects(loadModel(path), /cannot be used: it uses Keras 3's hard_sigmoid \(relu6\(x \+ 3\) \/ 6\)/);
  });

  it('a GRU whose config claims reset_after=True over reset_after=False weights', async () => {
    const path = editedKeras('gru.keras', (c) => c.replace('"reset_after": false', '"reset_after": true'));
    await assert.rejects(
      loadModel(path),
      /is not a readable Keras model \(layer gru has weights of shapes \[\[10,24\],\[8,24\],\[24\]\], expected \[\[10,24\],\[8,24\],\[2,24\]\]\)/,
    );
  });

  it('mixed precision', async () => {
    const path = editedKeras('seed-softmax.keras', (c) => c.replaceAll('"name": "float32"}', '"name": "mixed_float16"}'));
    await assert.rejects(
      loadModel(path),
      /uses the dtype policy mixed_float16, which seq-tag cannot run faithfully; save it from Keras with the float32 policy$/,
    );
  });

  it('a model off the digit task is read (its own data goes in with --data); a layer outside the supported list is refused in a whole sentence', async () => {
    const wide = tfl.sequential({
      layers: [tfl.layers.lstm({ units: 4, returnSequences: true, recurrentActivation: 'sigmoid', inputShape: [20, 1] }), tfl.layers.dense({ units: 3 })],
    });
    const widePath = join(tempDir(), 'wide.keras');
    writeFileSync(widePath, await kerasArchive(wide));
    const loaded = await loadModel(widePath);
    assert.equal(loaded.description.encoding, undefined);
    assert.deepEqual([loaded.description.input, loaded.description.tags], [{ steps: 20, features: 1 }, 3]);
    loaded.model.dispose();
    const predict = await seqTag(['predict', '--model', widePath, '--backend', 'cpu']);
    assert.equal(predict.status, 1);
    assert.match(
      predict.stderr,
      /wide\.keras is not a model of the digit task \(20 steps of 1 features → 3 tags per step\); give it its own data with --data FILE\.npz/,
    );
    const conv = tfl.sequential({ layers: [tfl.layers.conv1d({ filters: 2, kernelSize: 1, inputShape: [10, 1] })] });
    const path = join(tempDir(), 'model.keras');
    writeFileSync(path, await kerasArchive(conv));
    await assert.rejects(
      loadModel(path),
      /it has a Conv1D layer \(conv1d_\w+\), which seq-tag cannot run; seq-tag runs LSTM, GRU, .*: build the tagger from those$/,
    );
  });

  it("a functional graph's ops are read only as the masks Embedding(mask_zero=True) and Masking make; any other op is refused by name", async () => {
    await assert.rejects(
      loadModel(fixture('ops-mask.keras')),
      /ops-mask\.keras cannot be used: its graph applies the Keras op Multiply \(multiply\) to the tensors layer lstm\w* reads; seq-tag reads graphs of layers, with the masks Embedding\(mask_zero=True\) and Masking make: make that step a layer or drop it$/,
    );
    type Layer = { class_name: string; name: string; config: Record<string, unknown>; inbound_nodes: { args: unknown[] }[] };
    const layersOf = (c: string) => (JSON.parse(c) as { config: { layers: Layer[] } }).config.layers;
    const edited = (edit: (layers: Layer[]) => void) =>
      editedKeras('pos-functional.keras', (c) => {
        const config = JSON.parse(c);
        edit(config.config.layers);
        return JSON.stringify(config);
      });
    // A NotEqual against 5, or an Embedding without mask_zero: no longer the mask tfjs carries on.
    const notEqual5 = edited((layers) => (layers.find((l) => l.class_name === 'NotEqual')!.inbound_nodes[0].args[1] = 5));
    const unmasked = edited((layers) => (layers.find((l) => l.class_name === 'Embedding')!.config.mask_zero = false));
    for (const path of [notEqual5, unmasked]) {
      await assert.rejects(
        loadModel(path),
        /its graph applies the Keras op NotEqual \(not_equal\w*\) to make the mask layer bidirectional\w* reads, which is not the mask of an Embedding\(mask_zero=True\) or Masking layer before it/,
      );
    }
    // A graph naming a layer it does not have: TensorFlow.js would wait for that layer forever.
    const dangling = edited((layers) => (layers[0].name = 'renamed'));
    await assert.rejects(loadModel(dangling), /its layer \w+ reads from \["input_layer\w*",0,0,\{\}\], which is not one of its layers/);
    // A graph whose nodes can never be built: test/hostile.test.ts (in a process of its own: a regression would hang).
    const loaded = await loadModel(fixture('pos-functional.keras'));
    assert.deepEqual(loaded.description.mask, { of: 'ids', value: 0 });
    assert.ok(
      layersOf(new TextDecoder().decode(unzipSync(readFileSync(fixture('pos-functional.keras')))['config.json'])).some((l) => l.class_name === 'NotEqual'),
    );
    loaded.model.dispose();
  });

  it('a truncated .keras, a file that is no model, a missing file', async () => {
    const cut = join(tempDir(), 'cut.keras');
    writeFileSync(cut, readFileSync(fixture('norms.keras')).subarray(0, 5000));
    await assert.rejects(loadModel(cut), /cut\.keras is not a readable Keras model \(/);
    const text = join(tempDir(), 'notes.keras');
    writeFileSync(text, 'hello');
    await assert.rejects(loadModel(text), /is neither a \.keras \(zip\) nor a \.h5 \(HDF5\) file/);
    await assert.rejects(loadModel(join(tempDir(), 'absent.keras')), /no file .*absent\.keras; check the path/);
  });
});

describe('export: to Keras 3 and to TensorFlow.js, and back', () => {
  before(() => useBackend('cpu'));

  for (const name of ['seed-softmax.keras', 'logits.keras', 'bilstm-onehot.h5', 'norms.h5', 'gru.keras']) {
    it(`${name} → .keras and → legacy .h5 → read back: the same outputs, the same compile config`, async () => {
      const original = await loadModel(fixture(name));
      const expected = expectedFor(name);
      for (const back of [
        await readKerasArchive(await kerasArchive(original.model, original.compile)),
        await readLegacyH5(await kerasH5(original.model, original.compile)),
      ]) {
        assert.deepEqual(outputOn(back.model, expected), outputOn(original.model, expected));
        // Settings a Keras 2-form .h5 holds that Keras 3 cannot take are said once, at the export.
        assert.deepEqual({ ...back.compile, keras: undefined, dropped: [] }, { ...original.compile, keras: undefined, dropped: [] });
        back.model.dispose();
      }
      original.model.dispose();
    });
  }

  it("a legacy .h5 export holds what Keras reads: model_config, training_config and each layer's weight_names as string attributes", async () => {
    const original = await loadModel(fixture('pos-tagger.keras'));
    const bytes = await kerasH5(original.model, original.compile);
    const read = await readHdf5(bytes, (file) => ({
      version: file.attribute('', 'keras_version'),
      config: JSON.parse(String(file.attribute('', 'model_config'))),
      training: JSON.parse(String(file.attribute('', 'training_config'))),
      layers: file.attribute('model_weights', 'layer_names') as string[],
      names: file.attribute('model_weights/embedding', 'weight_names') as string[],
      embedding: file.dataset(`model_weights/embedding/${String((file.attribute('model_weights/embedding', 'weight_names') as string[])[0])}`),
    }));
    assert.equal(read.version, '3.15.1');
    assert.equal(read.config.class_name, 'Sequential');
    assert.equal(read.training.loss, 'categorical_crossentropy');
    assert.equal(read.training.optimizer_config.class_name, 'Adam');
    assert.deepEqual(
      read.layers,
      original.model.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => l.name),
    );
    assert.equal(read.names.length, 1);
    assert.deepEqual(read.embedding!.shape, [301, 16]);
    assert.deepEqual(Array.from(read.embedding!.values), Array.from(original.model.layers[0].getWeights()[0].dataSync()));
    original.model.dispose();
  });

  it('a seq-tag model (BatchNorm + LayerNorm) → .keras and → tfjs folder through the CLI; both predict the same', async () => {
    const dir = join(tempDir(), 'model');
    await saveModel(buildModel({ ...ORIGINAL_EXPERIMENT, batchNorm: true, layerNorm: true }, 4), dir, {
      config: { ...ORIGINAL_EXPERIMENT, batchNorm: true, layerNorm: true, seed: 4 },
      backend: 'cpu',
      losses: [0.6],
      trainedAt: new Date(0).toISOString(),
      trainSeconds: 1,
      seqTagVersion: 'test',
    });
    const out = tempDir();
    const probs = async (model: string) =>
      JSON.parse((await seqTag(['predict', '--model', model, '--n', '3', '--seed', '2', '--json', '--backend', 'cpu'])).stdout);
    for (const to of [join(out, 'tagger.keras'), join(out, 'tfjs')]) {
      const run = await seqTag(['export', '--model', dir, '--to', to, '--backend', 'cpu']);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /^exported .* to .*: a (Keras 3 \.keras file|TensorFlow\.js Layers folder), [\d,]+ bytes/);
      assert.deepEqual((await probs(to)).predictions, (await probs(dir)).predictions);
    }
    const keras = await loadModel(join(out, 'tagger.keras'));
    assert.deepEqual(
      { ...keras.compile, keras: undefined },
      {
        loss: 'categorical_crossentropy',
        fromLogits: false,
        labelSmoothing: undefined,
        optimizer: { name: 'adam', lr: 0.001, epsilon: 1e-7, clipnorm: undefined, clipvalue: undefined },
        keras: undefined,
        dropped: [],
      },
    );
  });

  it('never overwrites: an existing file (.keras or .h5) needs --force (then is replaced whole), a non-empty folder is refused', async () => {
    const source = await loadModel(fixture('seed-softmax.keras'));
    const out = tempDir();
    const file = join(out, 'mine.keras');
    writeFileSync(file, "the user's own file");
    await assert.rejects(exportModel(source, file), /mine\.keras exists; add --force to replace it/);
    assert.equal(readFileSync(file, 'utf8'), "the user's own file");
    await exportModel(source, file, true);
    assert.equal((await loadModel(file)).format, 'keras');
    const folder = join(out, 'notes');
    mkdirSync(folder);
    writeFileSync(join(folder, 'todo.txt'), 'keep');
    await assert.rejects(exportModel(source, folder), /is a folder that is not empty/);
    assert.equal(readFileSync(join(folder, 'todo.txt'), 'utf8'), 'keep');
    const h5 = join(out, 'mine.h5');
    writeFileSync(h5, "the user's own file");
    await assert.rejects(exportModel(source, h5), /mine\.h5 exists; add --force to replace it/);
    assert.equal(readFileSync(h5, 'utf8'), "the user's own file");
    await exportModel(source, h5, true);
    assert.equal((await loadModel(h5)).format, 'h5');
  });

  it('a stock TensorFlow.js folder with its weights in two shards and no seq-tag metadata reads as the model it exported', async () => {
    const source = await loadModel(fixture('bilstm-onehot.keras'));
    const dir = join(tempDir(), 'tfjs');
    await exportModel(source, dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const bytes = readFileSync(join(dir, 'weights.bin'));
    writeFileSync(join(dir, 'group1-shard1of2.bin'), bytes.subarray(0, 1000));
    writeFileSync(join(dir, 'group1-shard2of2.bin'), bytes.subarray(1000));
    manifest.weightsManifest[0].paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    const back = await loadModel(dir);
    assert.equal(back.format, 'tfjs');
    const expected = expectedFor('bilstm-onehot.keras');
    assert.deepEqual(outputOn(back.model, expected), outputOn(source.model, expected));
  });

  it('a hardSigmoid-gated seq-tag model is not exported to Keras 3, whose hard_sigmoid is another function', async () => {
    const dir = join(tempDir(), 'hard');
    const config = { ...ORIGINAL_EXPERIMENT, recurrentActivation: 'hardSigmoid' as const };
    await saveModel(buildModel(config, 4), dir, {
      config: { ...config, seed: 4 },
      backend: 'cpu',
      losses: [],
      trainedAt: '',
      trainSeconds: 0,
      seqTagVersion: 'test',
    });
    await assert.rejects(
      exportModel(await loadModel(dir), join(tempDir(), 'hard.keras')),
      /cannot export to Keras: it uses the hard_sigmoid of TensorFlow\.js and Keras 2 .* which Keras 3 would load silently/,
    );
  });
});

describe('doctor on Keras models (spawned binary)', () => {
  const doctor = async (name: string) => {
    const run = await seqTag(['doctor', '--model', fixture(name), '--backend', 'cpu', '--burst', '3', '--json']);
    return { status: run.status, doc: JSON.parse(run.stdout), stderr: run.stderr };
  };

  it("the seed program's model: the linear head under categorical crossentropy is named as the cause; its NaN weights are reported; exit 3", async () => {
    for (const name of ['seed-linear.keras', 'seed-linear.h5']) {
      const { status, doc } = await doctor(name);
      assert.equal(status, 3);
      assert.equal(doc.cause.id, 'setup');
      assert.match(doc.cause.evidence, /categorical_crossentropy without from_logits on a linear head: the seed's bug/);
      assert.match(doc.cause.fix, /Dense\(2, activation="softmax"\).*from_logits=True/);
      const saved = doc.checks.find((c: { id: string }) => c.id === 'saved');
      assert.equal(saved.verdict, 'fail');
      assert.match(saved.evidence, /5 of 5 weight tensors .* hold NaN\/Infinity/);
    }
  });

  it('the softmax model and the from_logits model pass the setup check, but a model at the no-skill floor is never healthy (exit 3)', async () => {
    const softmax = await doctor('seed-softmax.keras');
    assert.equal(softmax.doc.checks[0].id, 'setup');
    assert.equal(softmax.doc.checks[0].verdict, 'pass');
    const logits = await doctor('logits.keras');
    // Both learned nothing (a left-to-right LSTM at the floor): the floor check fails as evaluate's verdict says.
    const evaluate = await seqTag(['evaluate', '--model', fixture('logits.keras'), '--backend', 'cpu']);
    assert.match(evaluate.stdout.replace(/\n/g, ' '), /verdict: loss 0\.\d{4} vs floor 0\.5004: the model predicts the base rate and has not learned the task/);
    for (const { status, doc } of [softmax, logits]) {
      assert.equal(status, 3);
      assert.equal(doc.healthy, false);
      assert.equal(doc.cause.id, 'floor');
      assert.match(doc.cause.evidence, /^as saved: loss 0\.\d{4} vs floor 0\.5004: the model predicts the base rate and has not learned the task/);
      assert.deepEqual(
        doc.checks.filter((c: { verdict: string }) => c.verdict === 'fail').map((c: { id: string }) => c.id),
        ['floor'],
      );
    }
    assert.match(logits.doc.checks[0].evidence, /from_logits=True on a linear head: the loss applies softmax/);
    assert.equal(logits.doc.config.clipnorm, 1, 'the burst uses the optimizer the file was compiled with');
    assert.equal(logits.doc.config.lr, 0.01);
  });

  it('--model and its earlier name --model-dir: either works, two different paths are a usage error', async () => {
    const alias = await seqTag(['predict', '--model-dir', fixture('seed-softmax.h5'), '--digits', '4028561337', '--backend', 'cpu']);
    assert.equal(alias.status, 0, alias.stderr);
    const both = await seqTag(['predict', '--model', fixture('seed-softmax.h5'), '--model-dir', fixture('norms.h5'), '--backend', 'cpu']);
    assert.equal(both.status, 2);
    assert.match(both.stderr, /^seq-tag: --model .* and --model-dir .* disagree; give one/);
  });

  it('text output: the model line from the topology, the data and burst settings, one line per check', async () => {
    const run = await seqTag(['doctor', '--model', fixture('seed-linear.h5'), '--backend', 'cpu', '--burst', '2']);
    assert.equal(run.status, 3);
    assert.match(
      run.stdout,
      /^model .*seed-linear\.h5 \(Keras \.h5 file, Keras 3\.15\.1\) · LSTM 16 → TimeDistributed\(Dense\(2, linear\)\), scalar input · loss categorical_crossentropy · backend cpu$/m,
    );
    assert.match(run.stdout, /burst: 2 batches of 32 from its own weights, Adam \(lr 0\.001, epsilon 1e-7\) \(the file's compile config\)/);
    assert.match(run.stdout, /most likely cause: loss fits the output head \(setup\)/);
  });
});
