import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { folderSnapshot, seqTag, tempDir, type Run } from './helpers.js';
import { asTyped } from '../src/cli/output.js';

/** Bad input: one line on stderr that names the problem, the expected exit code, no stack trace. */
function assertCleanFailure(run: Run, code: number, pattern: RegExp): void {
  assert.equal(run.status, code, `exit code; stderr: ${run.stderr}`);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${run.stderr}`);
  assert.match(lines[0], /^seq-tag: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
}

const TINY = ['--samples', '64', '--epochs', '2', '--seed', '5', '--backend', 'cpu'];

describe('seq-tag CLI (spawned binary)', () => {
  let modelDir: string;
  let trained: Run;

  // The model the predict, evaluate and diverge tests read: trained here, so no test depends on another's order.
  before(async () => {
    modelDir = join(tempDir(), 'model');
    trained = await seqTag(['train', ...TINY, '--model-dir', modelDir]);
  });

  it('train prints the header, the summary, one line per epoch and the test view, then saves', () => {
    const run = trained;
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stdout,
      /backend cpu \(requested with --backend\) · seed 5 · 64 sequences × 10 · 1,186 params\nscalar input → LSTM 16 → Dense\(2, softmax\) · adam \(lr 0.001, epsilon 1e-7\) · NaN guard on/,
    );
    assert.match(run.stdout, /lstm \(LSTM\)\s+\(None, 10, 16\)\s+1,152/);
    assert.match(run.stdout, /Total params: 1,186/);
    assert.match(run.stdout, /^epoch 1\/2 {2}loss \d\.\d{4} {2}\d+\.\d\d s$/m);
    assert.match(run.stdout, /^epoch 2\/2 {2}loss \d\.\d{4} {2}\d+\.\d\d s$/m);
    assert.equal((run.stdout.match(/^digits /gm) ?? []).length, 5);
    assert.equal((run.stdout.match(/^truth /gm) ?? []).length, 5);
    assert.match(run.stdout, /training loss by epoch \(dotted: no-skill floor 0\.\d{4}\)/);
    assert.match(run.stdout, /saved to /);
    assert.doesNotMatch(run.stdout, /\x1b\[/, 'no colour when not a terminal');
    assert.equal(run.stderr, '');
  });

  it('predict --n 3 loads the model and shows three tagged sequences', async () => {
    const run = await seqTag(['predict', '--model-dir', modelDir, '--n', '3', '--seed', '9', '--backend', 'cpu']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /LSTM 16, scalar input, softmax head · 2 epochs, final loss \d\.\d{4} · seed 5/);
    assert.equal((run.stdout.match(/^digits /gm) ?? []).length, 3);
    assert.equal((run.stdout.match(/^model {3}/gm) ?? []).length, 3);
    assert.equal((run.stdout.match(/^P\(rep\)/gm) ?? []).length, 0);
  });

  it('predict --digits --probs tags the typed sequence and marks its repeated pair', async () => {
    const run = await seqTag(['predict', '--model-dir', modelDir, '--digits', '4 0 2 8 5 6 1 3 3 7', '--probs', '--backend', 'cpu']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^digits {6}4 {4}0 {4}2 {4}8 {4}5 {4}6 {4}1 {4}3 {4}3 {4}7$/m);
    assert.match(run.stdout, /^truth {42}\* {4}\*$/m);
    assert.match(run.stdout, /^P\(rep\) {2}( +\d\.\d\d){10}$/m);
  });

  it('--json prints one parseable document with config, losses and predictions', async () => {
    const dir = join(tempDir(), 'json-model');
    const train = await seqTag(['train', ...TINY, '--model-dir', dir, '--json']);
    assert.equal(train.status, 0, train.stderr);
    const doc = JSON.parse(train.stdout);
    assert.equal(doc.command, 'train');
    assert.equal(doc.config.seed, 5);
    assert.equal(doc.config.samples, 64);
    assert.equal(doc.epochs.length, 2);
    assert.ok(doc.epochs.every((e: { loss: number }) => typeof e.loss === 'number'));
    assert.equal(doc.test.length, 5);
    assert.equal(doc.summary.totalParams, 1186);

    const predict = await seqTag(['predict', '--model', dir, '--n', '2', '--json', '--backend', 'cpu']);
    assert.equal(predict.status, 0, predict.stderr);
    const p = JSON.parse(predict.stdout);
    assert.equal(p.predictions.length, 2);
    assert.deepEqual(
      p.model.record.losses,
      doc.epochs.map((e: { loss: number }) => e.loss),
    );
    assert.equal(p.predictions[0].probs.length, 10);
  });

  it('the same seed gives the same loss history run to run', async () => {
    const a = JSON.parse((await seqTag(['train', ...TINY, '--model-dir', join(tempDir(), 'a'), '--json'])).stdout);
    const b = JSON.parse((await seqTag(['train', ...TINY, '--model-dir', join(tempDir(), 'b'), '--json'])).stdout);
    assert.deepEqual(
      a.epochs.map((e: { loss: number }) => e.loss),
      b.epochs.map((e: { loss: number }) => e.loss),
    );
  });

  it('without --seed picks one, prints it and stores it with the model', async () => {
    const dir = join(tempDir(), 'unseeded');
    const run = await seqTag(['train', '--samples', '32', '--epochs', '1', '--backend', 'cpu', '--model-dir', dir]);
    assert.equal(run.status, 0, run.stderr);
    const seed = Number(/· seed (\d+) ·/.exec(run.stdout)?.[1]);
    assert.ok(Number.isInteger(seed));
    const stored = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata;
    assert.equal(stored.config.seed, seed);
    assert.equal(stored.backend, 'cpu');
    assert.equal(stored.losses.length, 1);
  });

  it('a diverged run exits 3, explains why, and leaves the saved model byte for byte unchanged', async () => {
    const before = folderSnapshot(modelDir);
    const run = await seqTag(['train', ...TINY, '--activation', 'linear', '--model-dir', modelDir]);
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stdout, /NaN guard: training stopped: loss nan at epoch 1, batch \d+/);
    assert.match(run.stdout, /the model was not saved; .* is unchanged/);
    assert.match(run.stdout, /✗ output is a probability distribution +linear head: \d+\.\d% of [\d,]+ output rows have a negative entry/);
    assert.match(run.stdout, /most likely cause: output is a probability distribution \(output\) — fix: --activation softmax/);
    assert.deepEqual(folderSnapshot(modelDir), before);
  });

  it('--no-nan-guard prints nan epochs like the seed program, and still does not save', async () => {
    const dir = join(tempDir(), 'never');
    const run = await seqTag(['train', ...TINY, '--activation', 'linear', '--no-nan-guard', '--model-dir', dir, '--json']);
    assert.equal(run.status, 3, run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.deepEqual(
      doc.epochs.map((e: { loss: unknown }) => e.loss),
      ['NaN', 'NaN'],
    );
    assert.equal(doc.saved, false);
    assert.equal(doc.divergence.symptom, 'nan');
    assert.equal(doc.diagnosis.cause.id, 'output');
    assert.throws(() => readFileSync(join(dir, 'model.json')));
  });

  it('doctor: exit 3 and the cause for the seed model, exit 0 for the fixed one; --json', async () => {
    const sick = await seqTag(['doctor', '--activation', 'linear', '--samples', '100', '--seed', '1', '--backend', 'cpu', '--burst', '3']);
    assert.equal(sick.status, 3, sick.stderr);
    assert.match(sick.stdout, /✓ inputs and labels/);
    assert.match(sick.stdout, /✗ output is a probability distribution/);
    assert.match(sick.stdout, /most likely cause: output/);

    const healthy = await seqTag(['doctor', '--samples', '100', '--seed', '1', '--backend', 'cpu', '--burst', '3', '--json']);
    assert.equal(healthy.status, 0, healthy.stderr);
    const doc = JSON.parse(healthy.stdout);
    assert.equal(doc.command, 'doctor');
    assert.equal(doc.healthy, true);
    assert.deepEqual(
      doc.checks.map((c: { id: string }) => c.id),
      ['data', 'output', 'gradients', 'weights', 'loss', 'floor'],
    );
    for (const c of doc.checks) {
      assert.ok(['pass', 'warn', 'fail', 'info'].includes(c.verdict));
      assert.equal(typeof c.evidence, 'string');
      assert.equal(typeof c.numbers, 'object');
    }
    assert.equal(doc.config.activation, 'softmax');
  });

  it('doctor --model on a seq-tag folder: its burst starts from the saved weights (the header says so), and a model that has learned nothing is not healthy', async () => {
    const dir = join(tempDir(), 'm');
    const settings = ['--samples', '300', '--lr', '0.01', '--seed', '3', '--backend', 'cpu'];
    assert.equal((await seqTag(['train', '--epochs', '3', '--model-dir', dir, ...settings])).status, 0);
    const firstLoss = (doc: { checks: { id: string; numbers: { firstLoss: number } }[] }) => doc.checks.find((c) => c.id === 'loss')!.numbers.firstLoss;
    const saved = await seqTag(['doctor', '--model', dir, '--backend', 'cpu', '--burst', '2', '--json']);
    const fresh = await seqTag(['doctor', ...settings, '--burst', '2', '--json']);
    // 3 epochs left it near the floor (0.497 measured); fresh weights start far above it (0.615).
    assert.ok(firstLoss(JSON.parse(saved.stdout)) < firstLoss(JSON.parse(fresh.stdout)) - 0.05, `${saved.stdout}\n${fresh.stdout}`);
    assert.equal(saved.status, 3);
    assert.equal(JSON.parse(saved.stdout).cause.id, 'floor');
    const text = await seqTag(['doctor', '--model', dir, '--backend', 'cpu', '--burst', '2']);
    assert.match(
      text.stdout.replace(/\n(?! )/g, ' '),
      new RegExp(`checks on 300 generated sequences; burst: 2 batches of 32 from its saved weights \\(${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`),
    );
    assert.match((await seqTag(['doctor', ...settings, '--burst', '2'])).stdout, /burst: 2 batches of 32 from fresh weights \(seed 3\)/);
  });

  it('evaluate scores a saved model on held-out data against the baselines; train prints the same', async () => {
    const run = await seqTag(['evaluate', '--model-dir', modelDir, '--samples', '200', '--backend', 'cpu']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /200 held-out sequences \(seed 5\)/);
    assert.match(run.stdout, /^ {2}loss {12}\d\.\d{4} {2}floor 0\.500\d \(entropy of the labels\)$/m);
    assert.match(run.stdout, /^ {2}token accuracy +\d+\.\d% {2}baseline \d+\.\d% \(tag every digit unique\)$/m);
    assert.match(run.stdout, /^ {2}recall +\d+\.\d% {2}first occurrence \d+\.\d%, second \d+\.\d%$/m);
    assert.match(run.stdout, /^verdict: /m);

    const json = JSON.parse((await seqTag(['evaluate', '--model-dir', modelDir, '--samples', '200', '--backend', 'cpu', '--json'])).stdout);
    assert.equal(json.evaluation.sequences, 200);
    for (const key of ['loss', 'floor', 'tokenAccuracy', 'baselineAccuracy', 'exactMatch', 'precision', 'recall', 'f1', 'recallFirst', 'recallSecond']) {
      assert.equal(typeof json.evaluation[key], 'number', key);
    }
    const again = JSON.parse((await seqTag(['evaluate', '--model-dir', modelDir, '--samples', '200', '--backend', 'cpu', '--json'])).stdout);
    assert.deepEqual(again.evaluation, json.evaluation, 'same held-out set, same numbers');
    const other = JSON.parse((await seqTag(['evaluate', '--model-dir', modelDir, '--samples', '200', '--seed', '77', '--backend', 'cpu', '--json'])).stdout);
    assert.notEqual(other.evaluation.loss, json.evaluation.loss);

    const train = await seqTag(['train', ...TINY, '--model-dir', join(tempDir(), 'm'), '--json']);
    assert.equal(JSON.parse(train.stdout).evaluation.sequences, 1000);
  });

  it('--preset solve with overrides trains a bidirectional one-hot model', async () => {
    const run = await seqTag([
      'train',
      '--preset',
      'solve',
      '--samples',
      '64',
      '--epochs',
      '1',
      '--seed',
      '2',
      '--backend',
      'cpu',
      '--model-dir',
      join(tempDir(), 'solve'),
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /one-hot input → LSTM 16 × 2 directions → Dense\(2, softmax\) · adam \(lr 0\.015/);
    assert.match(run.stdout, /bidirectional \(Bidirectional\)\s+\(None, 10, 32\)\s+3,456/);
    assert.match(run.stdout, /held-out evaluation/);
  });

  it('remedy flags reach the model summary and the stored config', async () => {
    const dir = join(tempDir(), 'remedies');
    const run = await seqTag([
      'train',
      ...TINY,
      '--batch-norm',
      '--optimizer',
      'sgd',
      '--clipnorm',
      '1',
      '--kernel-initializer',
      'randomNormal',
      '--model-dir',
      dir,
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /batch_normalization \(BatchNormalization\)\s+\(None, 10, 16\)\s+64/);
    assert.match(run.stdout, /Total params: 1,250/);
    assert.match(run.stdout, /LSTM 16 → BatchNorm → Dense\(2, softmax\) · sgd \(lr 0\.01\), clipnorm 1/);
    const stored = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata.config;
    assert.deepEqual([stored.batchNorm, stored.optimizer, stored.lr, stored.clipnorm, stored.kernelInitializer], [true, 'sgd', 0.01, 1, 'randomNormal']);
  });

  describe('bad input: one line, non-zero exit, no stack trace', () => {
    const usage: [string[], RegExp][] = [
      [['train', '--epochs', '0'], /--epochs <n>' argument '0' is invalid\. expected a whole number from 1/],
      [['train', '--epochs', '-3'], /--epochs <n>' argument '-3' is invalid/],
      [['train', '--epochs', 'abc'], /--epochs <n>' argument 'abc' is invalid/],
      [['train', '--batch-size', '0'], /--batch-size <n>' argument '0' is invalid/],
      [['train', '--units', '0'], /--units <n>' argument '0' is invalid/],
      [['train', '--lr', '-1'], /--lr <x>' argument '-1' is invalid\. expected a number greater than 0/],
      [['train', '--seed', '1.5'], /--seed <n>' argument '1\.5' is invalid/],
      [['train', '--backend', 'gpu'], /--backend <name>' argument 'gpu' is invalid\. Allowed choices are auto, tensorflow, wasm, cpu/],
      [['train', '--recurrent-activation', 'tanh'], /Allowed choices are sigmoid, hardSigmoid/],
      [['train', '--bogus'], /unknown option '--bogus'/],
      [['predict', '--n', '0'], /--n <count>' argument '0' is invalid/],
      [['predict', '--digits', '1 2 3'], /expected exactly 10 digits 0-9/],
      [['predict', '--digits', '4 0 2 8 5 6 1 3 3 x'], /expected exactly 10 digits 0-9/],
      [['trian'], /unknown command 'trian'/],
      [['train', '--dtype', 'float64', '--lstm', 'layers'], /--dtype float64 needs --lstm fused: TensorFlow\.js has no float64 tensors/],
      [['train', '--dtype', 'float16'], /--dtype <type>' argument 'float16' is invalid\. Allowed choices are float32, float64/],
      [['train', '--threads', '3'], /--threads <n>' argument '3' is invalid/],
      [
        ['train', '--units', '1024', '--batch-size', '100000', '--samples', '100000'],
        /float32 engine needs about .* of WebAssembly memory for batches of 100000, more than its 4 GiB; lower --batch-size/,
      ],
      [['train', '--optimizer', 'sgd', '--adam-epsilon', '0.1'], /--adam-epsilon applies to --optimizer adam, not sgd/],
      [['train', '--activation', 'tanh'], /Allowed choices are softmax, linear, sigmoid, relu/],
      [['train', '--clipnorm', '0'], /--clipnorm <x>' argument '0' is invalid/],
      [['doctor', '--burst', '0'], /--burst <batches>' argument '0' is invalid/],
      [['train', '--preset', 'fast'], /Allowed choices are original, solve\./],
      [['train', '--encoding', 'binary'], /Allowed choices are scalar, onehot/],
      [['evaluate', '--samples', '0'], /--samples <n>' argument '0' is invalid/],
      // Issue #32: flags that describe a model to build mean nothing beside a model to read.
      [
        ['doctor', '--model', 'm', '--activation', 'softmax'],
        /^seq-tag: --activation does not apply with --model: the doctor checks that model as it is, with its own configuration; drop --activation/,
      ],
      [['doctor', '--model', 'm', '--no-bidirectional'], /^seq-tag: --no-bidirectional does not apply with --model/],
      [['doctor', '--model', 'm', '--preset', 'solve'], /^seq-tag: --preset does not apply with --model/],
      [
        ['train', '--model', 'tagger.keras', '--epochs', '1'],
        /^seq-tag: train takes --model-dir \(the folder to save the new model in\), not --model tagger\.keras: to retrain a model saved by Keras or TensorFlow\.js, use train --from tagger\.keras; to check or score a saved model, use seq-tag doctor or evaluate --model$/,
      ],
    ];
    for (const [args, pattern] of usage) {
      it(`${args.join(' ')} → exit 2`, async () => assertCleanFailure(await seqTag(args), 2, pattern));
    }

    it('commands seq-tag prints for copying are as the user types them: npx seq-tag when started by npx (issue #32)', async () => {
      assert.equal(asTyped('Next: seq-tag train --preset solve', { npm_command: 'exec' }), 'Next: npx seq-tag train --preset solve');
      assert.equal(asTyped('Next: seq-tag train --preset solve', { npm_command: 'test' }), 'Next: seq-tag train --preset solve');
      const prose = 'seq-tag 0.1.0 · seq-tag never unpickles; a seq-tag folder; seq-tag: error';
      assert.equal(asTyped(prose, { npm_command: 'exec' }), prose);
      const run = await seqTag(['train', '--model', 'x'], { npm_command: 'exec' });
      assert.match(run.stderr, /use npx seq-tag doctor or evaluate --model$/m);
    });

    it('train --model writes nothing; doctor --help lists the flags of a model to build under their own heading', async () => {
      const dir = tempDir();
      assert.equal((await seqTag(['train', '--model', join(dir, 'tagger.keras'), '--epochs', '1'])).status, 2);
      assert.deepEqual(readdirSync(dir), []);
      const help = (await seqTag(['doctor', '--help'])).stdout;
      const [options, build] = help.split('Without --model, the model to build and check (as train builds it):');
      assert.match(options, /--model <path>[\s\S]*--burst <batches>[\s\S]*--seed <n>/);
      assert.doesNotMatch(options, /--activation|--epochs|--lr /);
      assert.match(build, /--activation[\s\S]*--epochs[\s\S]*--lr /);
    });

    it('predict with a missing model folder → exit 1, says to train first', async () => {
      assertCleanFailure(await seqTag(['predict', '--model-dir', join(tempDir(), 'absent'), '--backend', 'cpu']), 1, /no model at .*seq-tag train --model-dir/);
    });

    it('predict with a corrupt model folder → exit 1', async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'model.json'), '{ not json');
      assertCleanFailure(await seqTag(['predict', '--model-dir', dir, '--backend', 'cpu']), 1, /unreadable \(model\.json is not valid JSON\)/);
    });

    it('train into an unwritable --model-dir → exit 1 before any training', async () => {
      const file = join(tempDir(), 'a-file');
      writeFileSync(file, '');
      const run = await seqTag(['train', ...TINY, '--model-dir', join(file, 'model')]);
      assertCleanFailure(run, 1, /cannot use --model-dir .*a-file is a file; choose a folder path/);
      assert.equal(run.stdout, '');
    });

    it('train refuses to replace a folder that is not a model', async () => {
      const dir = tempDir();
      mkdirSync(join(dir, 'photos'));
      assertCleanFailure(
        await seqTag(['train', ...TINY, '--model-dir', dir]),
        1,
        /holds other files \(photos\) and no seq-tag model; seq-tag will not write there/,
      );
    });
  });
});
