/**
 * Issue #20, validation: --validation-split holds out the last share of the training sequences (as
 * Keras's validation_split) and scores it after every epoch, on both engines; old configs and sweep
 * keys are unchanged.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ORIGINAL_EXPERIMENT, validationCount, type Config } from '../src/config/config.js';
import { configSchema } from '../src/config/hyperparameters.js';
import { runKey } from '../src/sweep/records.js';
import { generateDataset } from '../src/task/data.js';
import { rngFor } from '../src/shared/random.js';
import { taskData } from '../src/task/tag-data.js';
import { createExperiment, evaluateData, runExperiment } from '../src/training/experiment.js';
import { EarlyStopping, Plateau, splitForValidation } from '../src/training/train.js';
import { seqTag, tempDir, useBackend } from './helpers.js';

describe('the split', () => {
  it('holds out the last n − ⌊n(1 − split)⌋ sequences, before shuffling', () => {
    const data = generateDataset(1000, rngFor(3, 'train-data'));
    const { data: train, validation } = splitForValidation(data, 0.2);
    assert.deepEqual([train.n, validation!.n], [800, 200]);
    assert.deepEqual(Array.from(validation!.digits), Array.from(data.digits.subarray(8000)));
    assert.deepEqual([validationCount(3, 0.1), validationCount(100, 0.001), validationCount(1, 0.3), validationCount(10, 0)], [1, 1, 1, 0]);
    assert.equal(splitForValidation(data, 0).validation, undefined);
  });
});

for (const lstm of ['fused', 'layers'] as const) {
  describe(`training with a validation split (${lstm} engine)`, () => {
    const config: Config = { ...ORIGINAL_EXPERIMENT, samples: 200, epochs: 3, validationSplit: 0.25, seed: 8, lstm };

    it('trains on the first 150 exactly as --samples 150 does, and scores the last 50 after each epoch with that epoch’s weights', async () => {
      await useBackend('cpu');
      const split = createExperiment(config);
      const result = await runExperiment(split);
      const plain = createExperiment({ ...config, samples: 150, validationSplit: 0 });
      const reference = await runExperiment(plain);
      assert.deepEqual(
        result.epochs.map((e) => e.loss),
        reference.epochs.map((e) => e.loss),
      );
      assert.ok(result.epochs.every((e) => e.validation && Number.isFinite(e.validation.loss)));
      assert.equal(reference.epochs[0].validation, undefined);
      // The last epoch's validation score is the trained model's score on the held-out 50.
      const heldOut = splitForValidation(split.data, 0.25).validation!;
      const last = evaluateData(split.model, taskData(heldOut, config.encoding, 'check'));
      assert.ok(Math.abs(result.epochs.at(-1)!.validation!.loss - last.loss!) < 1e-6);
      assert.equal(result.epochs.at(-1)!.validation!.tokenAccuracy, last.tokenAccuracy);
      split.model.dispose();
      plain.model.dispose();
    });
  });
}

describe('the CLI, the record and old configs', () => {
  it('train --validation-split: epoch lines, the chart, --json and the saved record carry it', async () => {
    const dir = join(tempDir(), 'm');
    const args = ['train', '--samples', '200', '--epochs', '3', '--validation-split', '0.2', '--seed', '2', '--backend', 'cpu', '--model-dir', dir];
    const run = await seqTag(args);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /200 sequences × 10 \(160 training, 40 validation\)/);
    assert.match(run.stdout, /\nepoch 1\/3 {2}loss 0\.\d{4} {2}val loss +0\.\d{4} {2}token +\d+\.\d% {2}exact +\d+\.\d% {2}\d/);
    assert.match(run.stdout, /training loss by epoch \(line\) and validation loss \(●\)/);
    const record = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata;
    assert.equal(record.config.validationSplit, 0.2);
    assert.equal(record.validation.length, 3);
    const json = JSON.parse((await seqTag([...args, '--json'])).stdout);
    assert.deepEqual(Object.keys(json.epochs[0].validation), ['loss', 'tokenAccuracy', 'exactMatch']);
  });

  it('bad splits are one line, exit 2', async () => {
    for (const [args, pattern] of [
      [['--validation-split', '1'], /--validation-split.*expected a fraction from 0 to below 0\.9/],
      [['--validation-split', '-0.1'], /expected a fraction/],
      [
        ['--validation-split', '0.5', '--samples', '1'],
        /--validation-split 0\.5 of --samples 1 leaves no training sequences; raise --samples or change the split/,
      ],
    ] as const) {
      const run = await seqTag(['train', ...args, '--epochs', '1', '--model-dir', join(tempDir(), 'm')]);
      assert.equal(run.status, 2, run.stderr);
      assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, pattern);
    }
  });

  it('a config written before the row (a 0.1 record, sweep.json, queued run) means no split, and keeps its sweep key', () => {
    // The original preset's run as seq-tag 0.1 built it: no row added since.
    const {
      validationSplit: _v,
      earlyStopping: _e,
      minDelta: _m,
      lrSchedule: _s,
      lrFactor: _f,
      lrPatience: _p,
      minLr: _l,
      // Rows of 0.3 (text data, the recurrent layers, dropout).
      embeddingDim: _d,
      minCount: _c,
      lowercase: _w,
      maxLength: _x,
      cell: _cell,
      layers: _layers,
      dropout: _dropout,
      recurrentDropout: _recurrentDropout,
      ...old
    } = { ...ORIGINAL_EXPERIMENT, seed: 1 };
    const parsed = configSchema.parse(old) as Config;
    assert.deepEqual([parsed.validationSplit, parsed.earlyStopping, parsed.minDelta, parsed.lrSchedule], [0, null, 0, 'constant']);
    // The key 0.1 computed for the original preset's run, and the one computed now for the same run.
    const oldKey = `original|seed=1|${createHash('sha1').update(JSON.stringify(old)).digest('hex').slice(0, 12)}`;
    assert.equal(runKey('original', { ...ORIGINAL_EXPERIMENT, seed: 1 }), oldKey);
    assert.notEqual(runKey('original', { ...ORIGINAL_EXPERIMENT, validationSplit: 0.2, seed: 1 }), oldKey);
  });
});

describe('early stopping (Keras EarlyStopping(monitor="val_loss", restore_best_weights=True))', () => {
  it('better means below the best by more than min_delta; it stops after `patience` epochs that are not', () => {
    const stopper = new EarlyStopping(2, 0);
    assert.deepEqual(
      [1, 0.9, 0.95, 0.96, 0.97].map((loss, k) => stopper.update(k + 1, loss)),
      [
        { better: true, stop: false },
        { better: true, stop: false },
        { better: false, stop: false },
        { better: false, stop: true },
        { better: false, stop: true },
      ],
    );
    assert.deepEqual([stopper.best, stopper.bestEpoch], [0.9, 2]);
    const strict = new EarlyStopping(1, 0.05);
    assert.equal(strict.update(1, 1).better, true);
    assert.deepEqual(strict.update(2, 0.96), { better: false, stop: true }, 'a fall of 0.04 is not more than min_delta 0.05');
  });

  it('stops early on a run that overfits, keeps the best epoch’s weights, and the saved model scores as that epoch did', async () => {
    const dir = join(tempDir(), 'm');
    // 60 training sequences, 40 epochs at lr 0.05: the validation loss turns up early.
    const args = ['--samples', '100', '--validation-split', '0.4', '--epochs', '40', '--lr', '0.05', '--units', '32', '--encoding', 'onehot'];
    const run = await seqTag(['train', ...args, '--early-stopping', '3', '--seed', '3', '--backend', 'cpu', '--model-dir', dir, '--json']);
    assert.equal(run.status, 0, run.stderr);
    const doc = JSON.parse(run.stdout);
    const { bestEpoch, stoppedAfter } = doc.earlyStopping;
    assert.ok(stoppedAfter < 40, `stopped after ${stoppedAfter}`);
    assert.equal(doc.epochs.length, stoppedAfter);
    assert.equal(stoppedAfter - bestEpoch, 3, 'three epochs without a better validation loss');
    const losses = doc.epochs.map((e: { validation: { loss: number } }) => e.validation.loss);
    assert.equal(Math.min(...losses), losses[bestEpoch - 1]);
    const record = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata;
    assert.deepEqual(record.earlyStopping, { bestEpoch, stoppedAfter });
    const text = await seqTag(['train', ...args, '--early-stopping', '3', '--seed', '3', '--backend', 'cpu', '--model-dir', join(tempDir(), 'n')]);
    assert.match(
      text.stdout,
      new RegExp(
        `\\nearly stopping: no better validation loss in 3 epochs: stopped after epoch ${stoppedAfter} of 40; kept the weights of epoch ${bestEpoch}, the best \\(val loss`,
      ),
    );
  });

  it('a run that never stops early is saved with its best epoch and no stop (a record tfjs accepts)', async () => {
    const dir = join(tempDir(), 'm');
    const run = await seqTag([
      'train',
      '--samples',
      '100',
      '--validation-split',
      '0.2',
      '--epochs',
      '2',
      '--early-stopping',
      '5',
      '--seed',
      '1',
      '--backend',
      'cpu',
      '--model-dir',
      dir,
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /early stopping: ran all 2 epochs; kept the weights of epoch 2/);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata.earlyStopping, { bestEpoch: 2 });
  });

  it('in-process: the model left is the best epoch’s (its validation score is that epoch’s)', async () => {
    await useBackend('cpu');
    const config: Config = {
      ...ORIGINAL_EXPERIMENT,
      samples: 100,
      validationSplit: 0.4,
      epochs: 30,
      lr: 0.05,
      units: 32,
      encoding: 'onehot',
      earlyStopping: 2,
      seed: 3,
    };
    const experiment = createExperiment(config);
    const result = await runExperiment(experiment);
    const best = result.epochs[result.earlyStopping!.bestEpoch - 1].validation!;
    const now = evaluateData(experiment.model, taskData(splitForValidation(experiment.data, 0.4).validation!, 'onehot', 'check'));
    assert.ok(Math.abs(now.loss! - best.loss) < 1e-6, `model now ${now.loss}, best epoch ${best.loss}`);
    experiment.model.dispose();
  });

  it('needs a validation split: one line, exit 2', async () => {
    const run = await seqTag(['train', '--early-stopping', '3', '--epochs', '1', '--model-dir', join(tempDir(), 'm')]);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--early-stopping watches the validation loss: add --validation-split, e.g\. --validation-split 0\.2\n$/);
  });
});

describe('--lr-schedule plateau (Keras ReduceLROnPlateau on val_loss)', () => {
  it('lowers the rate by the factor after `patience` epochs without a fall of more than 1e-4, never below the floor', () => {
    const plateau = new Plateau(0.01, 0.5, 2, 0.003);
    const rates = [1, 0.9, 0.90005, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95].map((loss) => plateau.update(loss));
    assert.deepEqual(rates, [undefined, undefined, undefined, 0.005, undefined, 0.003, undefined, undefined, undefined]);
    assert.equal(plateau.lr, 0.003);
  });

  it('the rate each epoch trained with is on its line and in --json; the fused and layers engines follow the same schedule', async () => {
    const args = ['train', '--samples', '100', '--validation-split', '0.4', '--epochs', '8', '--lr', '0.05', '--units', '32', '--encoding', 'onehot'];
    const plateau = ['--lr-schedule', 'plateau', '--lr-patience', '1', '--lr-factor', '0.5', '--seed', '3', '--backend', 'cpu'];
    const rates = async (lstm: string) => {
      const run = await seqTag([...args, ...plateau, '--lstm', lstm, '--json', '--model-dir', join(tempDir(), 'm')]);
      assert.equal(run.status, 0, run.stderr);
      return JSON.parse(run.stdout).epochs.map((e: { lr: number }) => e.lr) as number[];
    };
    const fused = await rates('fused');
    assert.equal(fused[0], 0.05);
    assert.ok(
      fused.some((lr) => lr < 0.05),
      `rates ${fused}`,
    );
    assert.ok(
      fused.every((lr, k) => k === 0 || lr === fused[k - 1] || lr === fused[k - 1] / 2),
      `rates ${fused}`,
    );
    assert.deepEqual((await rates('layers')).slice(0, 3), fused.slice(0, 3));
    const text = await seqTag([...args, ...plateau, '--model-dir', join(tempDir(), 'm')]);
    assert.match(text.stdout, /\nepoch 1\/8 {2}loss .* {2}lr 0\.05 {2}\d/);
  });

  for (const lstm of ['fused', 'layers'] as const) {
    it(`the optimizer really takes the lowered rate (${lstm}): the same losses until the change, others after`, async () => {
      await useBackend('cpu');
      const base: Config = { ...ORIGINAL_EXPERIMENT, samples: 100, validationSplit: 0.4, epochs: 8, lr: 0.05, units: 32, encoding: 'onehot', seed: 3, lstm };
      const run = async (config: Config) => {
        const experiment = createExperiment(config);
        const result = await runExperiment(experiment);
        experiment.model.dispose();
        return result.epochs;
      };
      const constant = await run(base);
      const scheduled = await run({ ...base, lrSchedule: 'plateau', lrPatience: 1, lrFactor: 0.5 });
      const changed = scheduled.findIndex((e) => e.lr! < 0.05);
      assert.ok(changed > 0, `the rate never fell: ${scheduled.map((e) => e.lr)}`);
      assert.deepEqual(
        scheduled.slice(0, changed).map((e) => e.loss),
        constant.slice(0, changed).map((e) => e.loss),
      );
      assert.notEqual(scheduled[changed].loss, constant[changed].loss);
    });
  }

  it('needs a validation split: one line, exit 2', async () => {
    const run = await seqTag(['train', '--lr-schedule', 'plateau', '--epochs', '1', '--model-dir', join(tempDir(), 'm')]);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--lr-schedule plateau watches the validation loss: add --validation-split/);
  });
});

describe('sweeps over the new rows', () => {
  it('a validation split in a sweep: each record carries it, summary.json the median validation curve, the SVG a dotted line per configuration', async () => {
    const out = join(tempDir(), 'sweep');
    const run = await seqTag([
      'sweep',
      '--grid',
      'lr-schedule=constant,plateau',
      '--validation-split',
      '0.2',
      '--lr-patience',
      '1',
      '--samples',
      '100',
      '--epochs',
      '3',
      '--seeds',
      '1',
      '--out',
      out,
      '--backend',
      'cpu',
    ]);
    assert.equal(run.status, 0, run.stderr);
    const records = readFileSync(join(out, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(records.every((r) => r.epochs.every((e: { validation?: object }) => e.validation)));
    assert.deepEqual(records.map((r) => r.config.lrSchedule).sort(), ['constant', 'plateau']);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.ok(summary.configurations.every((c: { validationCurve?: unknown[] }) => c.validationCurve?.length === 3));
    const svg = readFileSync(join(out, 'loss-curves.svg'), 'utf8');
    assert.equal(svg.match(/stroke-dasharray="2 3"/g)?.length, 2);
    assert.match(svg, /dotted: validation loss \(median\)/);
  });
});
