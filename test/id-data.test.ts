/**
 * Issue #34: seq-tag's own tagger trains on `.npz` files of word ids (x [n, T], 0 = padding; y tag
 * ids or one-hot), as on tagged text: the files' ids are the vocabulary, y's ids the tags; each row
 * is checked (words first, then padding; every word tagged); rows with no word are skipped and
 * counted; held-out tags the training file lacks are refused; a resumed run or a sweep's worker
 * refuses a changed file. train, predict, evaluate, sweep, tune and export all take them.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { UserError } from '../src/errors.js';
import { readIdRun } from '../src/task/id-data.js';
import { sentencesOf } from '../src/task/corpus.js';
import { oneLine, seqTag, tempDir } from './helpers.js';
import { npyBytes } from './npy.js';

const KERAS = new URL('../../test/fixtures/keras/', import.meta.url).pathname;

/** An .npz of ids x [n, T] (int32) and tag ids y [n, T] (int64; −1 = padding). */
function idsNpz(x: number[][], y: number[][], name = 'data.npz'): string {
  const [n, T] = [x.length, x[0].length];
  const path = join(tempDir(), name);
  const ints = new Uint8Array(new Int32Array(x.flat()).buffer);
  const longs = new Uint8Array(BigInt64Array.from(y.flat(), (v) => BigInt(v)).buffer);
  writeFileSync(path, zipSync({ 'x.npy': npyBytes('<i4', [n, T], ints), 'y.npy': npyBytes('<i8', [n, T], longs) }, { level: 0 }));
  return path;
}

async function refused(run: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof UserError, `a UserError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('.npz files of ids as a run of the tagger', () => {
  it('ids are the vocabulary (one more than the largest in any file), y the tags; empty rows skipped, labels under padding cleared', async () => {
    const train = idsNpz(
      [
        [3, 4, 0],
        [0, 0, 0],
        [5, 0, 0],
      ],
      [
        [1, 0, 2],
        [-1, -1, -1],
        [2, -1, -1],
      ],
    );
    const dev = idsNpz([[9, 3, 0]], [[0, 1, -1]], 'dev.npz');
    const run = await readIdRun({ train, validation: dev }, 128);
    assert.equal(run.vocabulary.words.length, 10, 'ids 0..9: the dev file has 9');
    assert.deepEqual(run.vocabulary.words.slice(0, 4), ['', '1', '2', '3']);
    assert.deepEqual(run.vocabulary.tags, ['0', '1', '2']);
    assert.equal(run.vocabulary.ids, true);
    const { data } = run.train;
    assert.equal(data.n, 2, 'the row with no word is skipped');
    assert.equal(run.corpora.train.skipped.emptySentences, 1);
    assert.equal(run.train.tokens, 3);
    // Row 0's third position is padding whose label (2) Keras's mask ignores: cleared, so no score counts it.
    assert.deepEqual(Array.from(data.labels.subarray(0, 3)), [1, 0, -1]);
    assert.deepEqual(sentencesOf(run.corpora.train, 0, 2), { words: [['3', '4'], ['5']], tags: [['1', '0'], ['2']] });
    assert.equal(run.validation!.data.tags, 3, "the dev file's labels spread over the training file's tags");
    assert.equal(run.spec.train.format, 'npz');
    assert.match(run.spec.train.sha256, /^[0-9a-f]{64}$/);
  });

  it('refuses, by position: a word after padding, a word without a tag, features, a held-out tag training never has, a long row, a changed file', async () => {
    await refused(readIdRun({ train: idsNpz([[3, 0, 4]], [[1, -1, 0]]) }, 128), /^--data \S+: x\[0, 2\] = 4 is a word after padding \(x\[0, 1\] = 0\)/);
    await refused(
      readIdRun({ train: idsNpz([[3, 4]], [[1, -1]]) }, 128),
      /^--data \S+: y\[0, 1\] is padding \(no tag\) but x\[0, 1\] = 4 is a word; every word needs a tag$/,
    );
    await refused(readIdRun({ train: join(KERAS, 'digits.npz') }, 128), /holds features per step \(x \[200, 10, 1\]\); seq-tag's own tagger reads word ids/);
    const train = idsNpz([[3, 4]], [[1, 0]]);
    await refused(
      readIdRun({ train, test: idsNpz([[3, 4]], [[1, 2]], 'test.npz') }, 128),
      /^--test-data \S+test\.npz: y\[0, 1\] is tag 2, which the training data \(\S+\) \(tags 0\.\.1\) never has, so the model cannot output it/,
    );
    await refused(readIdRun({ train }, 1), /has rows of 2 steps, longer than --max-length 1; give --max-length 2/);
    const spec = (await readIdRun({ train }, 128)).spec;
    writeFileSync(train, readFileSync(idsNpz([[3, 5]], [[1, 0]])));
    await refused(readIdRun({ train }, 128, spec), /has changed since the run started \(SHA-256 [0-9a-f]{12}…, was [0-9a-f]{12}…/);
  });
});

describe('train, predict, evaluate, sweep and tune on an .npz of ids', () => {
  const SMALL = ['--units', '4', '--embedding-dim', '8', '--epochs', '2', '--seed', '1', '--backend', 'wasm'];
  const ids = join(KERAS, 'pos-ids.npz');
  const onehot = join(KERAS, 'pos.npz');

  it('trains the tagger, says what it read, and the model tags and scores .npz files with the same ids', async () => {
    const model = join(tempDir(), 'm');
    const run = await seqTag(['train', '--data', onehot, '--validation-data', ids, '--bidirectional', ...SMALL, '--model-dir', model]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^train \S+pos\.npz: 600 sentences, 5,100 words \(NumPy \.npz of word ids\)$/m);
    assert.match(run.stdout, /^validation \S+pos-ids\.npz: 50 sentences, 399 words \(NumPy \.npz of word ids\)$/m);
    assert.match(run.stdout, /^vocabulary 301 ids \(the files' own; 0 = padding\) · 6 tags \(y's ids\)$/m);
    assert.match(run.stdout, /fused engine, float32/);
    assert.match(run.stdout, /^ {2}tag +precision +recall +F1 +support$/m);
    const predict = await seqTag(['predict', '--model', model, '--data', ids, '--n', '2', '--json']);
    assert.equal(predict.status, 0, predict.stderr);
    const doc = JSON.parse(predict.stdout);
    assert.equal(doc.predictions.length, 2);
    assert.deepEqual(doc.predictions[0].words.slice(0, 2), ['2', '16'], "the file's own ids, as words");
    assert.ok(doc.predictions[0].tags.every((t: string) => /^[0-5]$/.test(t)));
    // Exported to a legacy .h5, read back: the same tags on the same ids.
    const h5 = join(tempDir(), 'tagger.h5');
    const exported = await seqTag(['export', '--model', model, '--to', h5]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, /: a legacy Keras \.h5 file, [\d,]+ bytes/);
    const fromH5 = JSON.parse((await seqTag(['predict', '--model', h5, '--data', ids, '--n', '2', '--json'])).stdout);
    assert.deepEqual(
      fromH5.predictions.map((p: { predicted: number[] }) => p.predicted.map(String)),
      doc.predictions.map((p: { tags: string[] }) => p.tags),
    );
    const evaluate = await seqTag(['evaluate', '--model', model, '--data', ids]);
    assert.equal(evaluate.status, 0, evaluate.stderr);
    assert.match(evaluate.stdout, /50 sequences of \S+pos-ids\.npz \(padding masked\)/);
    oneLine(
      await seqTag(['predict', '--model', model, '--data', idsNpz([[3, 400]], [[1, 0]])]),
      1,
      /^seq-tag: --data \S+: x\[0, 1\] = 400, but the model has word ids 0\.\.300; give data written with the same ids$/,
    );
  });

  it('sweeps and tunes on it; records name the file, its format and SHA-256; the command tune prints runs as printed', async () => {
    const out = join(tempDir(), 's');
    const sweep = await seqTag([
      'sweep',
      '--data',
      ids,
      '--validation-split',
      '0.2',
      '--grid',
      'units=4,6',
      '--seeds',
      '1',
      '--epochs',
      '1',
      '--jobs',
      '1',
      '--out',
      out,
    ]);
    assert.equal(sweep.status, 0, sweep.stderr);
    const records = readFileSync(join(out, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(records.length, 2);
    assert.equal(records[0].config.data.train.format, 'npz');
    assert.match(records[0].config.data.train.sha256, /^[0-9a-f]{64}$/);
    assert.ok(records.every((r) => r.status !== 'failed'));
    const tune = await seqTag([
      'tune',
      '--data',
      ids,
      '--validation-split',
      '0.2',
      '--space',
      'lr=1e-3..1e-2:log',
      '--trials',
      '2',
      '--epochs',
      '1',
      '--jobs',
      '1',
      '--seed',
      '3',
      '--out',
      join(tempDir(), 't'),
    ]);
    assert.equal(tune.status, 0, tune.stderr);
    const command = tune.stdout.match(/seq-tag train .*$/m)?.[0];
    assert.ok(command, tune.stdout);
    assert.doesNotMatch(command, /--tag-column/);
    const again = await seqTag([...command.split(' ').slice(1), '--units', '4', '--model-dir', join(tempDir(), 'again')]);
    assert.equal(again.status, 0, again.stderr);
  });

  it('refuses in one line what does not apply to ids, and a mix of kinds', async () => {
    const dir = tempDir();
    oneLine(
      await seqTag(['train', '--data', ids, '--min-count', '2', '--model-dir', join(dir, 'a')]),
      2,
      /^seq-tag: --min-count applies to tagged text; \S+ holds ids \(x\) and tags \(y\)/,
    );
    oneLine(await seqTag(['train', '--data', ids, '--tag-column', 'upos', '--model-dir', join(dir, 'a')]), 2, /^seq-tag: --tag-column applies to tagged text/);
    const text = join(dir, 'dev.txt');
    writeFileSync(text, 'a/DT b/NN\n');
    oneLine(
      await seqTag(['train', '--data', ids, '--validation-data', text, '--model-dir', join(dir, 'a')]),
      2,
      /is text and \S+ an \.npz: give the run's files in one kind/,
    );
    oneLine(await seqTag(['train', '--data', join(KERAS, 'digits.npz'), '--model-dir', join(dir, 'a')]), 2, /holds features per step/);
  });
});
