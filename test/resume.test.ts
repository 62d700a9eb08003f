/**
 * Issue #20, checkpoints and resume: a run stopped after any completed epoch and continued from its
 * checkpoint (through the file format) gives exactly the loss history and weights of a run never
 * stopped, on both engines, every optimizer, both backends; a damaged checkpoint is refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/config/config.js';
import { AlteredCheckpoint, BadCheckpoint, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../src/storage/checkpoint.js';
import { createExperiment, runExperiment } from '../src/training/experiment.js';
import { StateMismatch, type TrainingState } from '../src/training/train.js';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import seedrandom from 'seedrandom';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelFolder, readCheckpointIn } from '../src/model/store.js';
import { tempDir, useBackend } from './helpers.js';

const BASE: Config = { ...ORIGINAL_EXPERIMENT, samples: 160, batchSize: 16, epochs: 4, seed: 11 };
/** Validation, early stopping and the plateau schedule: their counters are part of the state too. */
const WATCHED: Partial<Config> = { validationSplit: 0.25, earlyStopping: 2, lrSchedule: 'plateau', lrPatience: 1, lrFactor: 0.5 };

const CASES: [string, Partial<Config>][] = [
  ['fused float32, adam', { lstm: 'fused' }],
  ['fused float64, rmsprop, bidirectional', { lstm: 'fused', dtype: 'float64', optimizer: 'rmsprop', bidirectional: true }],
  ['fused float32, adagrad, batch norm, watched', { lstm: 'fused', optimizer: 'adagrad', lr: 0.05, batchNorm: true, ...WATCHED }],
  ['layers, adam, watched', { lstm: 'layers', encoding: 'onehot', lr: 0.02, ...WATCHED }],
  ['layers, rmsprop, batch norm', { lstm: 'layers', optimizer: 'rmsprop', batchNorm: true }],
  ['layers, adagrad', { lstm: 'layers', optimizer: 'adagrad' }],
  ['layers, sgd, clipnorm', { lstm: 'layers', optimizer: 'sgd', lr: 0.1, clipnorm: 0.5 }],
];

/** What must match bit for bit: every epoch's loss, validation scores and rate, and the final weights. */
async function outcome(config: Config, from?: TrainingState): Promise<{ history: unknown[]; weights: number[][] }> {
  const experiment = createExperiment(config);
  const result = await runExperiment(experiment, { resume: from });
  const weights = experiment.model.getWeights().map((w) => Array.from(w.dataSync()));
  experiment.model.dispose();
  return { history: result.epochs.map(({ seconds: _, ...e }) => e), weights };
}

/** Trains until `stopAfter` epochs are complete, aborts in the next epoch, returns the last checkpoint read back from its bytes. */
async function stoppedAfter(config: Config, stopAfter: number): Promise<TrainingState> {
  const experiment = createExperiment(config);
  const abort = new AbortController();
  let last: Uint8Array | undefined;
  const result = await runExperiment(experiment, {
    signal: abort.signal,
    onCheckpoint: (state) => {
      last = encodeCheckpoint({ config, backend: 'cpu', savedAt: '', seqTagVersion: 'test', state });
    },
    onEpochEnd: (e) => {
      if (e.epoch === stopAfter) abort.abort();
    },
  });
  experiment.model.dispose();
  assert.equal(result.epochs.length, stopAfter);
  return decodeCheckpoint(last!).state;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`resume on ${backend}`, () => {
    for (const [name, change] of CASES) {
      it(`${name}: stopped after epoch 1 or 3 and resumed, the same history and weights as a run never stopped`, async () => {
        await useBackend(backend);
        const config = { ...BASE, ...change };
        const whole = await outcome(config);
        for (const k of [1, 3]) {
          const resumed = await outcome(config, await stoppedAfter(config, k));
          assert.deepEqual(resumed.history, whole.history, `history after resuming at epoch ${k}`);
          assert.deepEqual(resumed.weights, whole.weights, `weights after resuming at epoch ${k}`);
        }
      });
    }
  });
}

describe('what a resume is checked against', () => {
  it('early stopping that already stopped: resuming trains no further and keeps the best weights', async () => {
    await useBackend('cpu');
    // A rate this high stops improving early: patience 1 stops the run before its 12 epochs.
    const config: Config = { ...BASE, epochs: 12, lr: 0.3, validationSplit: 0.25, earlyStopping: 1 };
    const whole = await outcome(config);
    assert.ok(whole.history.length < 12, 'the run stopped early');
    const experiment = createExperiment(config);
    let last: TrainingState | undefined;
    await runExperiment(experiment, { onCheckpoint: (s) => void (last = structuredClone(s)) });
    assert.ok(last!.earlyStopping?.stoppedAfter, 'the last checkpoint says training stopped');
    assert.deepEqual(await outcome(config, last), whole);
  });

  it('a state of another model is refused with StateMismatch, not trained on', async () => {
    await useBackend('cpu');
    const state = await stoppedAfter({ ...BASE, lstm: 'layers' }, 1);
    await assert.rejects(() => outcome({ ...BASE, lstm: 'layers', units: 8 }, state), StateMismatch);
    await assert.rejects(() => outcome({ ...BASE, lstm: 'fused' }, state), StateMismatch);
    const fused = await stoppedAfter({ ...BASE, lstm: 'fused' }, 1);
    await assert.rejects(() => outcome({ ...BASE, lstm: 'fused', optimizer: 'sgd' }, { ...fused, arrays: fused.arrays.slice(0, 3) }), StateMismatch);
    await assert.rejects(() => outcome({ ...BASE, ...WATCHED, lstm: 'fused' }, fused), StateMismatch);
  });
});

describe('a checkpoint write killed at each of its steps', () => {
  const CRASHER = fileURLToPath(new URL('./fixtures/crash-checkpoint.js', import.meta.url));
  it('leaves the previous checkpoint or the new one, whole, and the next open removes the leftovers', async () => {
    for (const step of ['temp-partial', 'temp-synced', 'renamed']) {
      const dir = join(tempDir(), 'model');
      assert.equal(spawnSync(process.execPath, [CRASHER, dir, 'none', '3']).status, 0);
      const crash = spawnSync(process.execPath, [CRASHER, dir, step, '4'], { encoding: 'utf8' });
      assert.equal(crash.signal, 'SIGKILL', `${step}: killed (${crash.stderr})`);
      const read = await readCheckpointIn(dir, dir);
      const expected = step === 'renamed' ? 4 : 3;
      assert.equal(read?.state.epochs.length, expected, `${step}: the ${expected === 4 ? 'new' : 'previous'} checkpoint`);
      assert.ok(
        read!.state.arrays[0].values.every((v) => v === expected),
        `${step}: whole`,
      );
      if (step !== 'renamed')
        assert.ok(
          readdirSync(dir).some((f) => f.startsWith('.checkpoint.seqtag.tmp-')),
          `${step}: a temporary file was left`,
        );
      await (await ModelFolder.open(dir)).release();
      assert.deepEqual(
        readdirSync(dir).filter((f) => f !== '.seq-tag.lock'),
        ['checkpoint.seqtag'],
        `${step}: leftovers removed`,
      );
    }
  });
});

describe('the checkpoint file', () => {
  const checkpoint: Checkpoint = {
    config: { ...BASE, seed: 4 },
    backend: 'wasm',
    savedAt: '2026-11-29T23:00:00.000Z',
    seqTagVersion: 'test',
    resumes: [2],
    state: {
      epochs: [
        { epoch: 1, loss: NaN, seconds: 0.5 },
        { epoch: 2, loss: 0.25, seconds: 0.5, validation: { loss: Infinity, tokenAccuracy: 0.5, exactMatch: 0 }, lr: 0.001 },
      ],
      seconds: 1,
      divergence: { epoch: 1, batch: 3, loss: NaN, symptom: 'nan' },
      arrays: [
        { name: 'a', values: Float32Array.of(1.5, -2, 3e-30) },
        { name: 'b', values: Float64Array.of(Math.PI) },
        { name: 'empty', values: new Float64Array(0) },
      ],
      plateau: { best: 0.3, wait: 1, lr: 0.0005 },
    },
  };
  const bytes = encodeCheckpoint(checkpoint);

  it('reads back what was written, NaN and Infinity and both array types included', () => {
    const back = decodeCheckpoint(bytes);
    assert.deepEqual(back, checkpoint);
    assert.ok(back.state.arrays[0].values instanceof Float32Array && back.state.arrays[1].values instanceof Float64Array);
  });

  it('refuses a torn, altered, padded or foreign file, saying which: any edit, header or arrays, breaks the whole-file digest', () => {
    const edited = (from: string, to: string) => {
      const copy = bytes.slice();
      copy.set(Buffer.from(to), Buffer.from(bytes).indexOf(from));
      return copy;
    };
    const flipped = bytes.slice();
    flipped[flipped.length - 40] ^= 1;
    const altered: Uint8Array[] = [
      bytes.subarray(0, bytes.length - 8),
      bytes.subarray(0, 40),
      flipped,
      new Uint8Array([...bytes, 0, 0, 0, 0, 0, 0, 0, 0]),
      // Issue #31: the header's seed, and an epoch's loss, edited by one character each.
      edited('"seed":4', '"seed":5'),
      edited('"loss":0.25', '"loss":1.25'),
    ];
    for (const data of altered) assert.throws(() => decodeCheckpoint(data), AlteredCheckpoint);
    for (const [data, why] of [
      [Buffer.from('{"config": {}}'), /not a seq-tag checkpoint/],
      [new Uint8Array(0), /not a seq-tag checkpoint/],
      [formatOne(bytes), /format 1, written by an earlier seq-tag without a checksum over its header/],
    ] as const)
      assert.throws(
        () => decodeCheckpoint(data),
        (err: Error) => err instanceof BadCheckpoint && why.test(err.message),
      );
    // A file forged with a fresh digest is still held to the schema, the epochs' numbering and its own lengths.
    assert.throws(() => decodeCheckpoint(resigned(edited('"epoch":2', '"epoch":3'))), /epochs are not numbered/);
    assert.throws(() => decodeCheckpoint(resigned(edited('"units":16', '"units":-1'))), /config\.units/);
    assert.throws(
      () => decodeCheckpoint(resigned(new Uint8Array([...bytes.subarray(0, bytes.length - 32), 0, 0, 0, 0, 0, 0, 0, 0, ...bytes.subarray(bytes.length - 32)]))),
      /arrays have \d+ bytes, the header says \d+/,
    );
    assert.equal(decodeCheckpoint(resigned(edited('"seed":4', '"seed":5'))).config.seed, 5);
  });
});

describe('fuzz: checkpoints forged with a fresh digest (issue #31)', () => {
  it('500 random edits of a real header, re-signed: each decodes or is one BadCheckpoint, never another error', () => {
    const random = seedrandom('checkpoint-fuzz');
    const base = encodeCheckpoint({
      config: { ...ORIGINAL_EXPERIMENT, seed: 4 },
      backend: 'cpu',
      savedAt: '2026-12-06T00:00:00.000Z',
      seqTagVersion: 'test',
      state: { epochs: [{ epoch: 1, loss: 0.5, seconds: 0.1 }], seconds: 0.1, arrays: [{ name: 'param/0', values: Float32Array.of(1, 2, 3) }] },
    });
    const headerEnd = 16 + new DataView(base.buffer).getUint32(12, true);
    const TOKENS = ['"', '{', '}', '[', ']', ',', ':', '-1', '1e400', 'NaN', 'null', 'true', '"x"', '9007199254740993', '\\u0000', ' '];
    let decoded = 0;
    for (let round = 0; round < 500; round++) {
      const text = Buffer.from(base.subarray(16, headerEnd)).toString('latin1').split('');
      for (let k = 0; k < 1 + Math.floor(random() * 3); k++)
        text.splice(Math.floor(random() * text.length), Math.floor(random() * 3), TOKENS[Math.floor(random() * TOKENS.length)]);
      const header = Buffer.from(text.join(''), 'latin1');
      const bytes = new Uint8Array(base.length - (headerEnd - 16) + header.length + 8);
      bytes.set(base.subarray(0, 16));
      new DataView(bytes.buffer).setUint32(12, header.length, true);
      bytes.set(header, 16);
      // Arrays at the next 8-byte boundary, as the writer aligns them.
      const payload = base.subarray(Math.ceil(headerEnd / 8) * 8, base.length - 32);
      const start = Math.ceil((16 + header.length) / 8) * 8;
      const file = resigned(new Uint8Array([...bytes.subarray(0, start), ...payload, ...new Uint8Array(32)]));
      try {
        decodeCheckpoint(file);
        decoded++;
      } catch (err) {
        assert.ok(err instanceof BadCheckpoint, `round ${round}: ${String(err)} for ${header.toString('latin1').slice(0, 120)}`);
      }
    }
    assert.ok(decoded > 0 && decoded < 500, `decoded ${decoded} of 500`);
  });
});

/** `bytes` with its trailing digest recomputed: a forger who knows the format. */
function resigned(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy.set(
    createHash('sha256')
      .update(copy.subarray(0, copy.length - 32))
      .digest(),
    copy.length - 32,
  );
  return copy;
}

/** `bytes` marked as format 1 (whose digest covered only the arrays). */
function formatOne(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(8, 1, true);
  return copy;
}
