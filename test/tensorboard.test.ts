/**
 * `train --logdir`: TensorBoard event files. The framing and CRCs are checked against a file
 * TensorFlow's own writer produced (scripts/tensorboard_check.py made the fixture and checked
 * seq-tag's files with TensorBoard's reader); the scalars against the run's --json.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32c, eventBytes, maskedCrc, tfRecord } from '../src/report/tensorboard.js';
import { oneLine, seqTag, tempDir } from './helpers.js';

const FIXTURE = new URL('../../test/fixtures/tensorboard/tf-writer.tfevents', import.meta.url);

/** The whole records of a TFRecord file, each CRC checked; a torn last record (a crash) is left out. */
function records(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 12 <= file.length;) {
    const length = Number(file.readBigUInt64LE(at));
    assert.equal(file.readUInt32LE(at + 8), maskedCrc(file.subarray(at, at + 8)), `length CRC of the record at byte ${at}`);
    if (at + 12 + length + 4 > file.length) break;
    const data = file.subarray(at + 12, at + 12 + length);
    assert.equal(file.readUInt32LE(at + 12 + length), maskedCrc(data), `data CRC of the record at byte ${at}`);
    out.push(data);
    at += 12 + length + 4;
  }
  return out;
}

/** Protobuf fields of a message: number → values (numbers for varints, Buffers otherwise). */
function fields(message: Buffer): Map<number, (number | Buffer)[]> {
  const out = new Map<number, (number | Buffer)[]>();
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = message[at++];
      value += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return value;
    }
  };
  const take = (size: number) => message.subarray(at, (at += size));
  while (at < message.length) {
    const key = varint();
    const wire = key & 7;
    const value = wire === 0 ? varint() : wire === 1 ? take(8) : wire === 5 ? take(4) : take(varint());
    out.set(key >>> 3, [...(out.get(key >>> 3) ?? []), value]);
  }
  return out;
}

/** The scalars of an event file: step → tag → value. */
function scalarsOf(path: string): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  for (const record of records(readFileSync(path))) {
    const event = fields(record);
    const summary = event.get(5)?.[0] as Buffer | undefined;
    if (!summary) continue;
    const step = event.get(2)![0] as number;
    for (const value of fields(summary).get(1) as Buffer[]) {
      const v = fields(value);
      if (!v.has(2)) continue; // a text summary
      out.set(step, { ...out.get(step), [(v.get(1)![0] as Buffer).toString()]: (v.get(2)![0] as Buffer).readFloatLE() });
    }
  }
  return out;
}

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

  it('an unusable --logdir is one line before training, and leaves no model folder', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a-file'), '');
    const run = seqTag(['train', '--epochs', '1', '--samples', '50', '--backend', 'cpu', '--model-dir', join(dir, 'm'), '--logdir', join(dir, 'a-file')]);
    oneLine(run, 1, /--logdir .*a-file: cannot write TensorBoard logs there: part of the path is a file \(ENOTDIR\); give a folder you can write to/);
    assert.equal(run.stdout, '', 'nothing ran');
    assert.ok(!existsSync(join(dir, 'm')));
  });

  it("train --logdir writes Keras's runs and tags, every scalar equal to --json (as float32)", () => {
    const dir = tempDir();
    const logdir = join(dir, 'logs');
    const run = seqTag([
      'train',
      '--epochs',
      '3',
      '--samples',
      '120',
      '--seed',
      '2',
      '--validation-split',
      '0.25',
      '--backend',
      'cpu',
      '--json',
      '--model-dir',
      join(dir, 'm'),
      '--logdir',
      logdir,
    ]);
    assert.equal(run.status, 0, run.stderr);
    const doc = JSON.parse(run.stdout) as {
      epochs: { epoch: number; loss: number; validation: { loss: number; tokenAccuracy: number; exactMatch: number } }[];
      config: { lr: number };
    };
    const read = (name: string) => {
      const files = readdirSync(join(logdir, name)).filter((f) => f.startsWith('events.out.tfevents.'));
      assert.equal(files.length, 1, `${name}: one event file`);
      return scalarsOf(join(logdir, name, files[0]));
    };
    const [train, validation] = [read('train'), read('validation')];
    assert.deepEqual([...train.keys()], [1, 2, 3]);
    for (const e of doc.epochs) {
      assert.deepEqual(train.get(e.epoch), { epoch_loss: Math.fround(e.loss), epoch_learning_rate: Math.fround(doc.config.lr) });
      assert.deepEqual(validation.get(e.epoch), {
        epoch_loss: Math.fround(e.validation.loss),
        epoch_accuracy: Math.fround(e.validation.tokenAccuracy),
        epoch_exact_match: Math.fround(e.validation.exactMatch),
      });
    }
  });

  it('a diverged run logs the loss the guard saw (NaN) at its epoch and a divergence text saying where', () => {
    const dir = tempDir();
    const run = seqTag([
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
    const texts = records(readFileSync(path)).flatMap((record) => {
      const summary = fields(record).get(5)?.[0] as Buffer | undefined;
      const values = summary ? (fields(summary).get(1) as Buffer[]) : [];
      return values
        .map(fields)
        .filter((v) => v.has(8))
        .map((v) => [(v.get(1)![0] as Buffer).toString(), (fields(v.get(8)![0] as Buffer).get(8)![0] as Buffer).toString()]);
    });
    assert.deepEqual(texts, [['divergence', 'NaN guard: training stopped: loss nan at epoch 1, batch 1']]);
  });

  it('sweep --logdir writes each run to <configuration>/seed-<n>, equal to its record; a resumed sweep adds nothing', () => {
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
    assert.equal(seqTag(args).status, 0);
    assert.deepEqual(readdirSync(logdir).sort(), ['activation=linear', 'activation=softmax']);
    const records = readFileSync(join(out, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const record of records) {
      const run = join(logdir, record.label, `seed-${record.seed}`, 'train');
      const [file] = readdirSync(run);
      const logged = scalarsOf(join(run, file));
      assert.deepEqual(
        [...logged.entries()].map(([step, v]) => [step, v.epoch_loss]),
        record.epochs.map((e: { epoch: number; loss: number | string }) => [e.epoch, Math.fround(Number(e.loss))]),
        `${record.label}: the record's epochs (a diverged run's NaN as NaN)`,
      );
    }
    assert.equal(seqTag(args).status, 0);
    assert.equal(readdirSync(join(logdir, 'activation=softmax', 'seed-1', 'train')).length, 1, 'the second run of the same sweep logs nothing again');
  });
});
