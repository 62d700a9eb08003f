/**
 * Issue #20, checkpoints and resume: a run stopped after any completed epoch and continued from its
 * checkpoint (through the file format) gives exactly the loss history and weights of a run never
 * stopped, on both engines, every optimizer, both backends; a damaged checkpoint is refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/model/config.js';
import { BadCheckpoint, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../src/storage/checkpoint.js';
import { createExperiment, runExperiment } from '../src/training/experiment.js';
import { StateMismatch, type TrainingState } from '../src/training/train.js';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelFolder, readCheckpointIn } from '../src/storage/model-store.js';
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

  it('refuses a torn, altered, padded or foreign file, saying which', () => {
    const altered = bytes.slice();
    altered[altered.length - 3] ^= 1;
    const header = bytes.slice();
    header.set(Buffer.from('"seed":5'), Buffer.from(bytes).indexOf('"seed":4'));
    const cases: [Uint8Array, RegExp][] = [
      [bytes.subarray(0, bytes.length - 8), /arrays have \d+ bytes, the header says \d+/],
      [bytes.subarray(0, 40), /header is cut short/],
      [altered, /do not match their checksum/],
      [new Uint8Array([...bytes, 0, 0, 0, 0, 0, 0, 0, 0]), /arrays have/],
      [Buffer.from('{"config": {}}'), /not a seq-tag checkpoint/],
      [new Uint8Array(0), /not a seq-tag checkpoint/],
    ];
    for (const [data, why] of cases)
      assert.throws(
        () => decodeCheckpoint(data),
        (err: Error) => err instanceof BadCheckpoint && why.test(err.message),
      );
    // The header is not covered by the checksum, but it is checked against the schema and the epochs' numbering.
    assert.equal(decodeCheckpoint(header).config.seed, 5);
    const renumbered = bytes.slice();
    renumbered.set(Buffer.from('"epoch":3'), Buffer.from(bytes).indexOf('"epoch":2'));
    assert.throws(() => decodeCheckpoint(renumbered), /epochs are not numbered/);
    const badConfig = bytes.slice();
    badConfig.set(Buffer.from('"units":-1'), Buffer.from(bytes).indexOf('"units":16'));
    assert.throws(() => decodeCheckpoint(badConfig), /config\.units/);
  });
});
