/**
 * Your tagger, your data (issue #34), from the command line: `train --data` on tagged text saves the
 * vocabulary and tags with the model and prints per-tag and entity scores; `predict --input` tags
 * raw sentences and `evaluate --data` scores a tagged file with the model's own vocabulary; bad
 * input is one line with its file and line.
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { killGroup, oneLine, seqTag, startSeqTag, tempDir } from './helpers.js';
import { loadModel, SeqTagError, tagSentences, train as trainApi } from '../src/index.js';
import { sleep } from './redis.js';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ORIGINAL_EXPERIMENT } from '../src/config/config.js';
import { readTextOfFlags } from '../src/cli/options.js';
import { readZipEntry, zipEntries } from '../src/storage/zip.js';
import { loadModel as readModel } from '../src/model/store.js';
import { userData, userRows } from '../src/task/model-data.js';
import { isPacked } from '../src/task/tag-data.js';
import { evaluateData } from '../src/training/experiment.js';

const FIXTURES = new URL('../../test/fixtures/corpus/', import.meta.url).pathname;

/**
 * The first `n` sentences of a fixture (word/TAG: a line each; CoNLL: a block each) whose tags all
 * occur in `known` (a slice made before): a held-out tag that training never saw is refused.
 */
function slice(name: string, n: number, known?: string): string {
  const conll = name.endsWith('.conll');
  const sentencesOf = (text: string) => text.split(conll ? '\n\n' : '\n').filter((s) => s.trim());
  const tagsOf = (s: string) => (conll ? s.split('\n').map((l) => l.trim().split(' ').at(-1)!) : s.split(' ').map((t) => t.slice(t.lastIndexOf('/') + 1)));
  const allowed = known && new Set(sentencesOf(readFileSync(known, 'utf8')).flatMap(tagsOf));
  const kept = sentencesOf(readFileSync(join(FIXTURES, name), 'utf8'))
    .filter((s) => !allowed || tagsOf(s).every((t) => allowed.has(t)))
    .slice(0, n);
  const path = join(tempDir(), name);
  writeFileSync(path, `${kept.join(conll ? '\n\n' : '\n')}\n`);
  return path;
}

/** The epoch lines of a run's output, without their times. */
const losses = (s: string) => s.match(/^epoch .*$/gm)!.map((l) => l.replace(/ +[\d.]+ s$/, ''));

const SMALL = ['--units', '4', '--embedding-dim', '8', '--epochs', '2', '--max-length', '24', '--seed', '1', '--backend', 'wasm'];

describe('train, predict and evaluate on tagged text', () => {
  const dir = tempDir();
  const model = join(dir, 'pos');
  let train: string;
  let dev: string;
  let test: string;
  let text: string;
  before(async () => {
    train = slice('pos-train.txt', 40);
    [dev, test] = [slice('pos-dev.txt', 12, train), slice('pos-test.txt', 12, train)];
    const run = await seqTag(['train', '--data', train, '--validation-data', dev, '--test-data', test, '--bidirectional', ...SMALL, '--model-dir', model]);
    assert.equal(run.status, 0, run.stderr);
    text = run.stdout;
  });

  it('says what it read, trains an Embedding(mask_zero) model on the fused engine, and scores the test file per tag', () => {
    assert.match(text, new RegExp(`^train ${train}: 40 sentences, [\\d,]+ words \\(word/TAG per line; \\d+ sentences? over --max-length split\\)$`, 'm'));
    assert.match(
      text,
      new RegExp(
        `^validation ${dev}: 12 sentences, [\\d,]+ words \\(word/TAG per line; (\\d+ sentences? over --max-length split; )?[\\d.]+% of words unknown\\)$`,
        'm',
      ),
    );
    assert.match(text, /^vocabulary [\d,]+ ids \(padding, <unk>, words seen in training\) · \d+ tags$/m);
    assert.match(
      text,
      /^Embedding 8 \(mask_zero\) → LSTM 4 × 2 directions → Dense\(\d+, softmax\) · adam .* · fused engine, float32 \((?:WebAssembly SIMD|native [\w-]+), 1 thread\)$/m,
    );
    assert.match(text, /^epoch 2\/2 {2}loss \d\.\d{4} {2}val loss \d\.\d{4}/m);
    assert.match(text, new RegExp(`^held-out evaluation \\(--test-data ${test}; 12 sentences, [\\d,]+ words\\):$`, 'm'));
    assert.match(text, /^ {2}tag +precision {2}recall {5}F1 {2}support$/m);
    assert.match(text, /^ {2}DET +[\d.]+% +[\d.]+% +[\d.]+ +\d+$/m);
    assert.match(text, /^verdict: /m);
    assert.match(text, /^saved to /m);
  });

  it('saves the vocabulary, the tags and the files it read (with their SHA-256) with the model', () => {
    const meta = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')).userDefinedMetadata;
    assert.deepEqual(meta.text.words.slice(0, 2), ['', '<unk>']);
    assert.ok(meta.text.tags.includes('DET') && meta.text.tags.includes('NN'));
    assert.deepEqual([meta.text.minCount, meta.text.lowercase, meta.text.maxLength], [1, false, 24]);
    assert.equal(meta.config.data.train.path, train);
    assert.match(meta.config.data.test.sha256, /^[0-9a-f]{64}$/);
    assert.equal(meta.config.encoding, 'embedding');
    assert.equal(meta.config.lstm, 'fused');
  });

  it('the same seed gives the same losses', async () => {
    const again = await seqTag([
      'train',
      '--data',
      train,
      '--validation-data',
      dev,
      '--test-data',
      test,
      '--bidirectional',
      ...SMALL,
      '--model-dir',
      join(dir, 'again'),
    ]);
    assert.deepEqual(losses(again.stdout), losses(text));
  });

  it("--dropout and --recurrent-dropout: masks from the seed (same seed, same losses; another seed, others), Keras's LSTM(dropout) in the export, none at inference", async () => {
    const run = async (seed: string, name: string, dropout = ['--dropout', '0.3', '--recurrent-dropout', '0.2']) => {
      const args = ['train', '--data', train, '--validation-data', dev, '--bidirectional', ...SMALL, ...dropout, '--json'];
      const done = await seqTag([...args, '--seed', seed, '--model-dir', join(dir, name)]);
      assert.equal(done.status, 0, done.stderr);
      return JSON.parse(done.stdout) as { config: { dropout: number }; epochs: { loss: number }[] };
    };
    const [a, b, c] = [await run('1', 'd1'), await run('1', 'd2'), await run('2', 'd3')];
    assert.equal(a.config.dropout, 0.3);
    assert.deepEqual(
      a.epochs.map((e) => e.loss),
      b.epochs.map((e) => e.loss),
    );
    assert.notDeepEqual(
      a.epochs.map((e) => e.loss),
      c.epochs.map((e) => e.loss),
    );
    assert.notEqual(a.epochs[0].loss, (await run('1', 'd0', [])).epochs[0].loss, 'dropout changed the training');
    // Inference has no dropout: evaluating twice gives the same numbers, and the Keras export carries the rates.
    const scores = async () => (await seqTag(['evaluate', '--model', join(dir, 'd1'), '--data', dev, '--json'])).stdout;
    assert.equal(await scores(), await scores());
    const keras = join(dir, 'd1.keras');
    assert.equal((await seqTag(['export', '--model', join(dir, 'd1'), '--to', keras])).status, 0);
    const bytes = readFileSync(keras);
    const config = new TextDecoder().decode(readZipEntry(bytes, zipEntries(bytes).get('config.json')!, 1e7));
    assert.match(config, /"dropout": ?0\.3.*"recurrent_dropout": ?0\.2/s);
    oneLine(
      await seqTag(['train', '--dropout', '0.2', ...SMALL]),
      2,
      /--dropout trains a text tagger \(--data\) on the fused engine, which draws its masks from --seed; the digit task has none/,
    );
    oneLine(
      await seqTag(['train', '--data', train, '--recurrent-dropout', '0.2', '--lstm', 'layers', ...SMALL]),
      2,
      /tf\.layers' dropout is not seeded: drop --lstm layers/,
    );
    oneLine(await seqTag(['train', '--data', train, '--dropout', '1', ...SMALL]), 2, /--dropout/);
  });

  it('predict --input tags raw sentences as word/TAG (unknown words too), one line per line, and JSONL with --json', async () => {
    const input = join(dir, 'raw.txt');
    writeFileSync(input, 'The license shall mean the terms .\n\nZyzzyva quux\n');
    const run = await seqTag(['predict', '--model', model, '--input', input, '--backend', 'wasm']);
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.match(lines[0], /^The\/\S+ license\/\S+ shall\/\S+ mean\/\S+ the\/\S+ terms\/\S+ \.\/\S+$/);
    assert.equal(lines[1], '');
    assert.match(lines[2], /^Zyzzyva\/\S+ quux\/\S+$/);
    assert.match(run.stderr, /: 3 sentences of .*raw\.txt\n$/);
    const json = await seqTag(['predict', '--model', model, '--input', input, '--json', '--backend', 'wasm']);
    const first = JSON.parse(json.stdout.split('\n')[0]);
    assert.deepEqual(first.tokens, ['The', 'license', 'shall', 'mean', 'the', 'terms', '.']);
    assert.equal(first.tags.length, 7);
    assert.ok(first.confidence.every((p: number) => p > 0 && p <= 1));
    // A byte-order mark is not a word; a line that is not UTF-8 stops it after the lines before, with its place.
    const bad = join(dir, 'latin1.txt');
    writeFileSync(bad, Buffer.concat([Buffer.from('\ufeffThe terms .\nCaf'), Buffer.from([0xe9]), Buffer.from(' ok\n')]));
    const stopped = await seqTag(['predict', '--model', model, '--input', bad, '--backend', 'wasm']);
    assert.equal(stopped.status, 1);
    assert.match(stopped.stdout, /^The\/\S+ terms\/\S+ \.\/\S+\n$/);
    assert.match(
      stopped.stderr,
      new RegExp(`^seq-tag: --input ${bad}:2: byte 4 of the line \\(offset 18 in the input\\) is not UTF-8 \\(the 1 line before it is tagged above\\)`),
    );
  });

  it('the API tags as the command line does (tagSentences, and train with data)', async () => {
    const model = await loadModel(join(dir, 'pos'), { backend: 'wasm' });
    const [first] = tagSentences(model, ['The license shall mean the terms .']);
    const run = await seqTag(
      ['predict', '--model', join(dir, 'pos'), '--input', '-', '--backend', 'wasm'],
      {},
      { stdin: 'The license shall mean the terms .\n' },
    );
    assert.equal(first.words.map((w, k) => `${w}/${first.tags[k]}`).join(' '), run.stdout.trim());
    model.model.dispose();
    const api = await trainApi({
      data: train,
      validationData: dev,
      testData: test,
      bidirectional: true,
      units: 4,
      embeddingDim: 8,
      epochs: 2,
      maxLength: 24,
      seed: 1,
      backend: 'wasm',
    });
    const losses = (s: string) => s.match(/^epoch .*$/gm)!.map((l) => l.match(/loss (\d\.\d{4})/)![1]);
    assert.deepEqual(
      api.epochs.map((e) => e.loss.toFixed(4)),
      losses(text),
      'the same losses as seq-tag train',
    );
    assert.deepEqual(api.vocabulary!.tags, JSON.parse(readFileSync(join(model.path, 'model.json'), 'utf8')).userDefinedMetadata.text.tags);
    api.model.dispose();
    const digitsDir = join(tempDir(), 'digits');
    (await trainApi({ epochs: 1, samples: 32, seed: 1, backend: 'wasm', modelDir: digitsDir })).model.dispose();
    const digits = await loadModel(digitsDir);
    assert.throws(
      () => tagSentences(digits, ['a b']),
      (err: Error) => err instanceof SeqTagError && /was not trained on text/.test(err.message),
    );
    digits.model.dispose();
  });

  it('predict --data shows the first --n sentences of a tagged file with the right tags beside', async () => {
    const run = await seqTag(['predict', '--model', model, '--data', test, '--n', '2', '--json', '--backend', 'wasm']);
    assert.equal(run.status, 0, run.stderr);
    const { predictions } = JSON.parse(run.stdout);
    const first = readFileSync(test, 'utf8').split('\n')[0].split(' ');
    assert.equal(predictions.length, 2);
    assert.deepEqual(
      predictions[0].words,
      first.map((t) => t.slice(0, t.lastIndexOf('/'))),
    );
    assert.deepEqual(
      predictions[0].truth,
      first.map((t) => t.slice(t.lastIndexOf('/') + 1)),
    );
    assert.equal(predictions[0].tags.length, first.length);
  });

  it("evaluate --data scores a tagged file through the model's vocabulary: the numbers train printed", async () => {
    const run = await seqTag(['evaluate', '--model', model, '--data', test, '--backend', 'wasm']);
    assert.equal(run.status, 0, run.stderr);
    const accuracy = (s: string) => s.match(/^ {2}token accuracy +([\d.]+%)/m)![1];
    assert.equal(accuracy(run.stdout), accuracy(text));
    // The file is read as packed rows, scored a chunk at a time: the same scores as the rows padded.
    const loaded = await readModel(model);
    const rows = await userRows(test, loaded.description, loaded.record);
    assert.ok(isPacked(rows), 'a text file for a text model: packed rows');
    const scoring = { mask: loaded.description.mask };
    const [packedScores, paddedScores] = [
      evaluateData(loaded.model, rows, scoring, 64),
      evaluateData(loaded.model, await userData(test, loaded.description, loaded.record), scoring, 64),
    ];
    assert.ok(Math.abs(packedScores.loss! - paddedScores.loss!) < 1e-6);
    assert.deepEqual({ ...packedScores, loss: 0 }, { ...paddedScores, loss: 0 });
    loaded.model.dispose();
    oneLine(await seqTag(['evaluate', '--model', model, '--backend', 'wasm']), 2, /tags text .*: score it on tagged text with --data FILE/);
    oneLine(await seqTag(['predict', '--model', model, '--backend', 'wasm']), 2, /tags text \(it was trained on .*pos-train\.txt\): give --input FILE/);
    oneLine(await seqTag(['predict', '--model', model, '--digits', '4028561337', '--backend', 'wasm']), 2, /tags text .*: give --input FILE .*, not --digits/);
    oneLine(await seqTag(['doctor', '--model', model, '--backend', 'wasm']), 2, /tags text .*: check it on tagged text with --data FILE/);
    const doctor = await seqTag(['doctor', '--model', model, '--data', test, '--backend', 'wasm']);
    assert.match(doctor.stdout, /✓ saved weights are finite/);
    // Examined on the file, as it is: the header names the file, never generated sequences.
    assert.match(
      doctor.stdout,
      /^checks on 12 sentences of .*pos-test\.txt; burst: 8 batches of 32 from its own weights, Adam \(lr 0\.001, epsilon 1e-7\) \(as it trained\)$/m,
    );
    assert.doesNotMatch(doctor.stdout, /generated sequences/);
  });

  it('CoNLL chunks (BIO): entity scores as seqeval and conlleval, per entity type', async () => {
    const chunks = slice('chunks-train.conll', 40);
    const run = await seqTag(['train', '--data', chunks, '--test-data', slice('chunks-test.conll', 12, chunks), ...SMALL, '--model-dir', join(dir, 'chunks')]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /\(CoNLL columns, tags from the last column[;)]/);
    assert.match(run.stdout, /^ {2}entity F1 +\d\.\d{3} {2}precision [\d.]+%, recall [\d.]+%; [\d,]+ chunks \(seqeval, conlleval\)$/m);
    assert.match(run.stdout, /^ {2}entity +precision {2}recall {5}F1 {2}support\n {2}NP /m);
  });
});

describe('train --resume on tagged text', () => {
  it('after SIGTERM, --resume reads the same files (checked by SHA-256) and ends as a run never stopped; a changed file is refused', async () => {
    const train = slice('pos-train.txt', 30);
    const dev = slice('pos-dev.txt', 8, train);
    const args = [
      'train',
      '--data',
      train,
      '--validation-data',
      dev,
      '--units',
      '4',
      '--embedding-dim',
      '8',
      '--max-length',
      '24',
      // Enough epochs that a SIGTERM after the first checkpoint lands mid-run: the fused engine trains one in milliseconds.
      '--epochs',
      '150',
      '--batch-size',
      '4',
      // Masks from (seed, batch number): the resumed run draws the ones the whole run drew.
      '--dropout',
      '0.2',
      '--recurrent-dropout',
      '0.1',
      '--seed',
      '1',
      '--backend',
      'wasm',
      '--json',
    ];
    const epochsOf = (stdout: string) => JSON.parse(stdout).epochs.map(({ seconds: _, ...e }: { seconds: number }) => e);
    const whole = await seqTag([...args, '--model-dir', join(tempDir(), 'whole')]);
    assert.equal(whole.status, 0, whole.stderr);
    const dir = join(tempDir(), 'stopped');
    const run = startSeqTag([...args, '--model-dir', dir]);
    while (!existsSync(join(dir, 'checkpoint.seqtag'))) await sleep(10);
    killGroup(run.child, 'SIGTERM');
    assert.equal(await run.exited, 143, run.out());
    const resumed = await seqTag(['train', '--resume', '--model-dir', dir, '--json', '--backend', 'wasm']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.deepEqual(epochsOf(resumed.stdout), epochsOf(whole.stdout));
    assert.equal(JSON.parse(resumed.stdout).evaluation.tokenAccuracy, JSON.parse(whole.stdout).evaluation.tokenAccuracy);
    // The same command stopped again, then its training file edited: the checkpoint refuses it.
    const again = join(tempDir(), 'edited');
    const second = startSeqTag([...args, '--model-dir', again]);
    while (!existsSync(join(again, 'checkpoint.seqtag'))) await sleep(10);
    killGroup(second.child, 'SIGTERM');
    await second.exited;
    appendFileSync(train, 'One/CD more/JJR ./PP\n');
    oneLine(await seqTag(['train', '--resume', '--model-dir', again]), 1, new RegExp(`${train} has changed since the run started \\(SHA-256`));
  });
});

describe('sweep and tune on tagged text', () => {
  it('a sweep on --data: each record names the files by path, format, bytes and SHA-256 and is scored on the test file; the folder refuses another file', async () => {
    const train = slice('pos-train.txt', 30);
    const dev = slice('pos-dev.txt', 8, train);
    const out = join(tempDir(), 'sweep');
    const args = [
      '--grid',
      'units=2,4',
      '--seeds',
      '1',
      '--epochs',
      '1',
      '--embedding-dim',
      '4',
      '--max-length',
      '24',
      '--backend',
      'wasm',
      '--jobs',
      '2',
      '--out',
      out,
    ];
    const run = await seqTag(['sweep', '--data', train, '--validation-data', dev, '--test-data', dev, ...args, '--json']);
    assert.equal(run.status, 0, run.stderr);
    // In the order the runs ended: by label here.
    const records = readFileSync(join(out, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .sort((a, b) => (a.label < b.label ? -1 : 1));
    assert.deepEqual(
      records.map((r) => [r.label, r.status]),
      [
        ['units=2', 'ok'],
        ['units=4', 'ok'],
      ],
    );
    for (const r of records) {
      assert.deepEqual([r.config.data.train.path, r.config.data.train.format, r.config.encoding, r.config.lstm], [train, 'word-tag', 'embedding', 'fused']);
      assert.match(r.config.data.test.sha256, /^[0-9a-f]{64}$/);
      assert.ok(r.evaluation.tagNames.includes('DET'), 'scored on the tagged test file');
      assert.equal(r.evaluation.sequences, records[0].evaluation.sequences, 'every run scored on the same file');
    }
    // The no-skill floor is the tags' entropy on the file the runs were scored on, not the digit task's 0.5004.
    assert.equal(JSON.parse(run.stdout).floor, records[0].evaluation.floor);
    assert.ok(records[0].evaluation.floor > 1, `${records[0].evaluation.floor}`);
    const other = slice('pos-train.txt', 20);
    oneLine(
      await seqTag(['sweep', '--data', other, '--validation-data', dev, '--test-data', dev, ...args]),
      1,
      /holds another sweep: 'units=2' has data .* there and .* here/,
    );
  });

  it('a worker given a run whose file has changed since the sweep read it refuses it (no run is scored on other data)', async () => {
    const train = slice('pos-train.txt', 10);
    const text = await readTextOfFlags({ data: train });
    const config = {
      ...ORIGINAL_EXPERIMENT,
      encoding: 'embedding' as const,
      lstm: 'layers' as const,
      units: 2,
      embeddingDim: 4,
      epochs: 1,
      data: text!.spec,
      seed: 1,
    };
    appendFileSync(train, 'One/CD more/JJR ./PP\n');
    const worker = fork(fileURLToPath(new URL('../src/sweep/sweep-worker.js', import.meta.url)), [], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const outcome = await new Promise<{ status: string; error?: string }>((resolve) => {
      worker.once('message', (m) => resolve(m as { status: string; error?: string }));
      worker.send({ spec: { key: 'k', label: 'l', seed: 1, config }, backend: 'wasm' });
    });
    worker.disconnect();
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error!, new RegExp(`${train} has changed since the run started \\(SHA-256`));
  });

  it('tune on --data with a --validation-data file: trials compared on it, the best one named with the command that trains it again', async () => {
    const train = slice('pos-train.txt', 30);
    const dev = slice('pos-dev.txt', 8, train);
    const out = join(tempDir(), 'tune');
    const args = [
      'tune',
      '--data',
      train,
      '--validation-data',
      dev,
      '--space',
      'lr=0.01..0.1:log',
      '--trials',
      '2',
      '--jobs',
      '2',
      '--epochs',
      '1',
      '--units',
      '2',
      '--embedding-dim',
      '4',
      '--max-length',
      '24',
      '--seed',
      '1',
      '--backend',
      'wasm',
      '--out',
      out,
    ];
    const run = await seqTag([...args, '--json']);
    assert.equal(run.status, 0, run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.equal(doc.trials.length, 2);
    assert.match(doc.best.command, new RegExp(`--data ${train} --validation-data ${dev}`));
    // Run again, the trials are there: the report names what the held-out scores are on (it said 1,000 unseen sequences).
    const text = await seqTag(args);
    assert.match(text.stdout, new RegExp(`held-out \\(--validation-data ${dev}\\) exact-match`));
  });
});

describe('train --data refuses in one line', () => {
  it('a malformed line (FILE:LINE), a tag training never saw, flags that need --data, and the fused engine', async () => {
    const bad = join(tempDir(), 'bad.txt');
    writeFileSync(bad, 'The/DT dog/NN\nA/DT cat barks/VBZ\n');
    oneLine(
      await seqTag(['train', '--data', bad, ...SMALL, '--model-dir', join(tempDir(), 'm')]),
      1,
      new RegExp(`^seq-tag: ${bad}:2: token 2, "cat", is not word/TAG`),
    );
    const train = join(tempDir(), 't.txt');
    const dev = join(tempDir(), 'd.txt');
    writeFileSync(train, 'The/DT dog/NN\n');
    writeFileSync(dev, 'The/DT dog/VB\n');
    oneLine(
      await seqTag(['train', '--data', train, '--validation-data', dev, ...SMALL, '--model-dir', join(tempDir(), 'm')]),
      1,
      new RegExp(`${dev}:1: tag "VB" \\(sentence 1\\) never occurs in the training data \\(${train}\\)`),
    );
    oneLine(await seqTag(['train', '--validation-data', dev, ...SMALL]), 2, /--validation-data goes with --data FILE/);
    oneLine(await seqTag(['train', '--encoding', 'embedding', ...SMALL]), 2, /--encoding embedding reads the words of a tagged text: give it with --data FILE/);
    oneLine(await seqTag(['train', '--data', train, '--encoding', 'onehot', ...SMALL]), 2, /--encoding onehot feeds digits/);
    oneLine(
      await seqTag(['train', '--data', train, '--threads', '2', ...SMALL]),
      2,
      /--threads 2: the fused engine runs a text tagger on one thread; drop --threads/,
    );
    oneLine(await seqTag(['train', '--data', train, '--activation', 'linear', ...SMALL]), 2, /a text tagger with a softmax head .*: add --lstm layers/);
    oneLine(
      await seqTag(['train', '--data', train, '--validation-data', train, '--validation-split', '0.2', ...SMALL]),
      2,
      /--validation-data is the validation set/,
    );
    oneLine(
      await seqTag(['train', '--data', join(tempDir(), 'x.npz'), ...SMALL]),
      1,
      /^seq-tag: cannot read --data \S+x\.npz: no such file or folder \(ENOENT\)$/,
    );
    oneLine(await seqTag(['train', '--data', train, '--tag-column', 'deprel', ...SMALL]), 2, /--tag-column deprel: give upos or xpos/);
    // A search over values a text run cannot take is refused before any trial, naming the value.
    oneLine(
      await seqTag(['tune', '--data', train, '--space', 'encoding=embedding,onehot', '--trials', '2', '--out', join(tempDir(), 't')]),
      2,
      /^seq-tag: --space encoding=onehot: --encoding onehot feeds digits/,
    );
  });
});
