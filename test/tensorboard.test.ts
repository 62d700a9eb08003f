/**
 * `train --logdir`: TensorBoard event files. The framing and CRCs are checked against a file
 * TensorFlow's own writer produced (scripts/tensorboard_check.py made the fixture and checked
 * seq-tag's files with TensorBoard's reader); the scalars against the run's --json.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32c, eventBytes, tfRecord } from '../src/report/tfevents.js';
import { eventFile, experimentOf, fields, records, scalarsOf, sessionOf, textsOf } from './tfevents-reader.js';
import { oneLine, seqTag, tempDir } from './helpers.js';

const FIXTURE = new URL('../../test/fixtures/tensorboard/tf-writer.tfevents', import.meta.url);

describe('TensorBoard event files', () => {
  it("CRC-32C and its mask are TFRecord's: the check value, and every record of a file TensorFlow wrote", () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    const file = readFileSync(FIXTURE);
    const written = records(file);
    assert.ok(written.length >= 4, 'the file version and three scalars');
    assert.match(written[0].toString('latin1'), /brain\.Event:2/);
    const broken = Buffer.from(file);
    broken[broken.length - 6] ^= 1;
    assert.throws(() => records(broken), /data CRC/, 'a flipped bit is caught');
  });

  it('an event encodes its wall time, step and scalars where the protobuf says', () => {
    const event = fields(Buffer.from(eventBytes(1.5, 300, { scalars: { epoch_loss: 0.25 } })));
    assert.equal((event.get(1)![0] as Buffer).readDoubleLE(), 1.5);
    assert.equal(event.get(2)![0], 300);
    const value = fields(fields(event.get(5)![0] as Buffer).get(1)![0] as Buffer);
    assert.equal((value.get(1)![0] as Buffer).toString(), 'epoch_loss');
    assert.equal((value.get(2)![0] as Buffer).readFloatLE(), 0.25);
    const file = Buffer.concat([tfRecord(eventBytes(1, 0, { fileVersion: 'brain.Event:2' })), tfRecord(eventBytes(2, 1, { scalars: { a: 1 } }))]);
    assert.equal(records(file.subarray(0, file.length - 3)).length, 1, 'a torn last record is left out, the rest reads');
  });

  it('an unusable --logdir is one line before training, and leaves no model folder', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a-file'), '');
    const run = await seqTag(['train', '--epochs', '1', '--samples', '50', '--backend', 'cpu', '--model-dir', join(dir, 'm'), '--logdir', join(dir, 'a-file')]);
    oneLine(run, 1, /^seq-tag: cannot use --logdir .*a-file: it is a file; choose a folder path$/);
    assert.equal(run.stdout, '', 'nothing ran');
    assert.ok(!existsSync(join(dir, 'm')));
  });

  it("train --logdir writes Keras's runs and tags, every scalar equal to --json (as float32), the held-out scores, the HParams session and, on request, each batch", async () => {
    const dir = tempDir();
    const logdir = join(dir, 'logs');
    const run = await seqTag([
      'train',
      '--epochs',
      '3',
      '--samples',
      '120',
      '--seed',
      '2',
      '--validation-split',
      '0.25',
      '--clipvalue',
      '5',
      '--backend',
      'cpu',
      '--json',
      '--model-dir',
      join(dir, 'm'),
      '--logdir',
      logdir,
      '--log-batches',
    ]);
    assert.equal(run.status, 0, run.stderr);
    const doc = JSON.parse(run.stdout) as {
      epochs: { epoch: number; loss: number; validation: { loss: number; tokenAccuracy: number; exactMatch: number } }[];
      config: { lr: number; activation: string };
      evaluation: { loss: number; tokenAccuracy: number; exactMatch: number };
    };
    const [train, validation, heldOut] = ['train', 'validation', 'held-out'].map((name) => scalarsOf(eventFile(join(logdir, name))));
    // 90 training sequences in batches of 32: 3 batches an epoch (32, 32, 26), numbered 1–9 over the run.
    assert.deepEqual([...train.keys()], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const e of doc.epochs) {
      const batches = [1, 2, 3].map((b) => train.get((e.epoch - 1) * 3 + b)!.batch_loss);
      const mean = (batches[0] * 32 + batches[1] * 32 + batches[2] * 26) / 90;
      assert.ok(Math.abs(mean - e.loss) < 1e-6, `epoch ${e.epoch}: its batches' losses average to its loss (${mean} vs ${e.loss})`);
      const { batch_loss: _, ...epochScalars } = train.get(e.epoch)!;
      assert.deepEqual(epochScalars, { epoch_loss: Math.fround(e.loss), epoch_learning_rate: Math.fround(doc.config.lr) });
      assert.deepEqual(validation.get(e.epoch), {
        epoch_loss: Math.fround(e.validation.loss),
        epoch_accuracy: Math.fround(e.validation.tokenAccuracy),
        epoch_exact_match: Math.fround(e.validation.exactMatch),
      });
    }
    assert.deepEqual(heldOut.get(3), {
      loss: Math.fround(doc.evaluation.loss),
      accuracy: Math.fround(doc.evaluation.tokenAccuracy),
      exact_match: Math.fround(doc.evaluation.exactMatch),
    });
    const session = sessionOf(logdir);
    assert.equal(session.status, 1, 'the HParams session ended: STATUS_SUCCESS');
    assert.deepEqual(
      [
        session.hparams.epochs,
        session.hparams.seed,
        session.hparams['validation-split'],
        session.hparams.clipvalue,
        session.hparams.activation,
        session.hparams['batch-norm'],
      ],
      [3, 2, 0.25, 5, doc.config.activation, false],
    );
    assert.ok(!('clipnorm' in session.hparams), 'a flag that is off is left out');
    assert.equal(session.group, undefined, 'a train run is a group of its own');
    // A session at the logdir's root: TensorBoard 2.21 looks for its metrics in "./train", no run at
    // all, so its HParams table had no metric columns (issue #32). An experiment names them, and the
    // root's own file holds each, equal to its subfolder's (checked with TensorBoard itself by
    // scripts/tensorboard_check.py).
    const experiment = experimentOf(logdir)!;
    assert.deepEqual(experiment.hparams.sort(), Object.keys(session.hparams).sort());
    const root = scalarsOf(eventFile(logdir));
    const last = doc.epochs.at(-1)!;
    const want: Record<string, number> = {
      'train/epoch_loss': last.loss,
      'train/epoch_learning_rate': doc.config.lr,
      'validation/epoch_loss': last.validation.loss,
      'validation/epoch_accuracy': last.validation.tokenAccuracy,
      'validation/epoch_exact_match': last.validation.exactMatch,
      'held-out/loss': doc.evaluation.loss,
      'held-out/accuracy': doc.evaluation.tokenAccuracy,
      'held-out/exact_match': doc.evaluation.exactMatch,
    };
    assert.deepEqual(
      experiment.metrics,
      Object.keys(want).map((tag) => ({ group: '', tag })),
    );
    for (const [tag, value] of Object.entries(want)) assert.equal(root.get(3)![tag], Math.fround(value), tag);
  });

  it('--log-batches without --logdir is one line', async () => {
    oneLine(await seqTag(['train', '--epochs', '1', '--samples', '50', '--log-batches']), 1, /--log-batches needs --logdir <dir>/);
  });

  it('a diverged run logs the loss the guard saw (NaN) at its epoch and a divergence text saying where', async () => {
    const dir = tempDir();
    const run = await seqTag([
      'train',
      '--activation',
      'linear',
      '--epochs',
      '2',
      '--samples',
      '64',
      '--seed',
      '1',
      '--backend',
      'cpu',
      '--model-dir',
      join(dir, 'm'),
      '--logdir',
      join(dir, 'logs'),
    ]);
    assert.equal(run.status, 3);
    const [file] = readdirSync(join(dir, 'logs', 'train'));
    const path = join(dir, 'logs', 'train', file);
    const [[step, values]] = [...scalarsOf(path).entries()];
    assert.equal(step, 1);
    assert.ok(Number.isNaN(values.epoch_loss));
    assert.deepEqual(textsOf(path), [['divergence', 'NaN guard: training stopped: loss nan at epoch 1, batch 1']]);
    assert.equal(sessionOf(join(dir, 'logs')).status, 2, 'the HParams session ended: STATUS_FAILURE');
    assert.ok(!existsSync(join(dir, 'logs', 'held-out')), 'a diverged run is not evaluated');
  });

  it('sweep --logdir writes each run to <configuration>/seed-<n>, equal to its record; a resumed sweep adds nothing', async () => {
    const dir = tempDir();
    const [logdir, out] = [join(dir, 'logs'), join(dir, 'sweep')];
    const args = [
      'sweep',
      '--grid',
      'activation=softmax,linear',
      '--seeds',
      '1',
      '--samples',
      '64',
      '--epochs',
      '2',
      '--jobs',
      '1',
      '--backend',
      'cpu',
      '--out',
      out,
      '--logdir',
      logdir,
    ];
    assert.equal((await seqTag(args)).status, 0);
    assert.deepEqual(readdirSync(logdir).sort(), ['activation=linear', 'activation=softmax']);
    const records = readFileSync(join(out, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const record of records) {
      const run = join(logdir, record.label, `seed-${record.seed}`);
      const train = eventFile(join(run, 'train'));
      const stopped = record.divergence ? [[record.divergence.epoch, NaN]] : [];
      assert.deepEqual(
        [...scalarsOf(train).entries()].map(([step, v]) => [step, v.epoch_loss]),
        [...record.epochs.map((e: { epoch: number; loss: number | string }) => [e.epoch, Math.fround(Number(e.loss))]), ...stopped],
        `${record.label}: the record's epochs, and the NaN the guard stopped at`,
      );
      const session = sessionOf(run);
      assert.deepEqual([session.hparams.activation, session.hparams.samples, session.group], [record.config.activation, 64, record.label]);
      assert.ok(!('seed' in session.hparams), "the seed tells a group's runs apart; it is not a hyperparameter of the group");
      if (record.status === 'ok') {
        assert.equal(session.status, 1);
        const { loss, tokenAccuracy, exactMatch } = record.evaluation;
        assert.deepEqual(scalarsOf(eventFile(join(run, 'held-out'))).get(2), {
          loss: Math.fround(loss),
          accuracy: Math.fround(tokenAccuracy),
          exact_match: Math.fround(exactMatch),
        });
      } else {
        assert.deepEqual([record.status, session.status], ['diverged', 2]);
        assert.match(textsOf(train)[0][1], /^NaN guard: training stopped: loss nan at epoch 1, batch \d+$/);
      }
    }
    assert.equal((await seqTag(args)).status, 0);
    assert.equal(readdirSync(join(logdir, 'activation=softmax', 'seed-1', 'train')).length, 1, 'the second run of the same sweep logs nothing again');
  });
});
