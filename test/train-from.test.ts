/**
 * Retrain the user's own model (issue #34): `train --from FILE` continues a Keras file's training
 * (or, with --reinit, its architecture from fresh weights) with its compile settings; --fix applies
 * the doctor's fix for its loss and head; the result is written back as a Keras file that reads back
 * with the same scores. The fixtures are Keras 3.15.1's (test/fixtures/keras/make_taggers.py);
 * scripts/keras_retrain_check.py checks a result in Keras itself (not part of npm test).
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { oneLine, seqTag, tempDir } from './helpers.js';
import { loadModel } from '../src/model/store.js';
import { exportModel } from '../src/model/export.js';
import { retrain, train as trainApi } from '../src/index.js';
import { defaultTarget } from '../src/cli/train-from.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/keras/', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);
const POS = fixture('pos.npz');
const LINEAR = fixture('pos-linear.keras');
/** What train --from --json and evaluate --json print, as far as these tests read them. */
interface Printed {
  fix?: { head?: string; what: string };
  saved: boolean;
  format: string;
  epochs: { epoch: number; loss: number; validation?: object }[];
  evaluation: { loss: number; tokenAccuracy: number };
}
const json = (stdout: string) => JSON.parse(stdout) as Printed;

/** train --from the healthy tagger on pos.npz, one epoch, seed 1, written to `to`. */
const fromTagger = (to: string, ...flags: string[]) =>
  seqTag(['train', '--from', fixture('pos-tagger.keras'), '--data', POS, '--epochs', '1', '--seed', '1', '--to', to, ...flags]);

describe('train --from: a user-trained Keras tagger, retrained and written back', () => {
  it("the seed's bug in a user's file: NaN weights need --reinit; without --fix NaN at batch 1, nothing written; with --fix it learns, and the file reads back the same", async () => {
    const dir = tempDir();
    oneLine(await seqTag(['train', '--from', LINEAR, '--data', POS]), 1, /pos-linear\.keras hold NaN or Infinity \(9 of its tensors.*add --reinit.*and --fix/);

    const bare = join(dir, 'bare.keras');
    const diverged = await seqTag(['train', '--from', LINEAR, '--reinit', '--data', POS, '--seed', '3', '--epochs', '2', '--to', bare]);
    assert.equal(diverged.status, 3, diverged.stderr);
    assert.match(diverged.stdout, /NaN guard: training stopped: loss nan at epoch 1, batch 1\nnothing was written to .*bare\.keras; see why with:/);
    assert.match(diverged.stdout, /applied by adding --fix/);
    assert.equal(existsSync(bare), false);

    const fixed = join(dir, 'fixed.keras');
    const args = [
      'train',
      '--from',
      LINEAR,
      '--fix',
      '--reinit',
      '--data',
      POS,
      '--test-data',
      POS,
      '--validation-split',
      '0.2',
      '--seed',
      '3',
      '--epochs',
      '3',
    ];
    const run = await seqTag([...args, '--to', fixed, '--json']);
    assert.equal(run.status, 0, run.stderr);
    const out = json(run.stdout);
    assert.deepEqual(out.fix, { head: 'softmax', what: 'output activation linear → softmax (Keras: Dense(6, activation="softmax"))' });
    assert.equal(out.saved, true);
    assert.equal(out.format, 'keras');
    assert.equal(out.epochs.length, 3);
    assert.ok(
      out.epochs.every((e: { loss: number; validation?: object }) => Number.isFinite(e.loss) && e.validation),
      'finite losses, validated',
    );
    assert.ok(out.evaluation.loss < out.epochs[0].loss, 'it learns');

    // Read back: a softmax head, and the same loss on the same data as the run scored (the export loses nothing).
    const back = await loadModel(fixed);
    assert.equal(back.description.head, 'softmax');
    assert.equal(back.compile?.loss, 'categorical_crossentropy');
    back.model.dispose();
    const scored = await seqTag(['evaluate', '--model', fixed, '--data', POS, '--json']);
    assert.equal(scored.status, 0, scored.stderr);
    assert.ok(Math.abs(json(scored.stdout).evaluation.loss - out.evaluation.loss) < 1e-6);
    assert.equal(json(scored.stdout).evaluation.tokenAccuracy, out.evaluation.tokenAccuracy);

    // The same seed gives the same losses; the text shows the fix, the held-out data and where it went.
    const again = await seqTag([...args, '--to', join(dir, 'again.keras')]);
    assert.equal(again.status, 0, again.stderr);
    for (const e of out.epochs) assert.match(again.stdout, new RegExp(`epoch ${e.epoch}/3  loss ${e.loss.toFixed(4)}`));
    assert.match(again.stdout, /fix \(--fix\): output activation linear → softmax/);
    assert.match(again.stdout, /training fresh weights from its initialisers \(--reinit, seed 3\)/);
    assert.match(again.stdout, /held-out evaluation \(--test-data .*pos\.npz\)/);
    assert.match(again.stdout, /saved to .*again\.keras \(a Keras 3 \.keras file\)\nnext: seq-tag evaluate --model /);
    // An existing target is kept unless --force.
    oneLine(await seqTag([...args, '--to', fixed]), 2, /fixed\.keras exists; give another --to, or add --force/);
  });

  it('a healthy file continues from its own weights (nothing to fix), a fresh one starts over; optimizer flags replace the file’s and are written', async () => {
    const dir = tempDir();
    const own = await fromTagger(join(dir, 'a.keras'), '--fix', '--json');
    const fresh = await fromTagger(join(dir, 'b.keras'), '--reinit', '--json');
    assert.equal(own.status, 0, own.stderr);
    assert.equal(json(own.stdout).fix, undefined);
    // Keras trained it 8 epochs with Adam(0.01): its first epoch here starts far below fresh weights' (log 6 = 1.79).
    assert.ok(json(own.stdout).epochs[0].loss < 0.5 * json(fresh.stdout).epochs[0].loss, 'its own weights are used');
    const text = await fromTagger(join(dir, 'c.keras'), '--fix');
    assert.match(text.stdout, /fix \(--fix\): nothing to fix in its loss and head/);
    assert.match(text.stdout, /training its own weights · categorical_crossentropy \(the file's\) · Adam \(lr 0\.01/);

    const sgd = await fromTagger(join(dir, 'd.keras'), '--optimizer', 'sgd', '--lr', '0.05');
    assert.equal(sgd.status, 0, sgd.stderr);
    assert.match(sgd.stdout, /· sgd \(lr 0\.05\) \(set by the flags\) ·/);
    const written = await loadModel(join(dir, 'd.keras'));
    assert.deepEqual([written.compile?.optimizer?.name, written.compile?.optimizer?.lr], ['sgd', 0.05]);
    written.model.dispose();
  });

  it("a file's Embedding tagger trains on the fused engine as on tf.layers; other models, losses and optimizers on tf.layers; --lstm chooses", async () => {
    const dir = tempDir();
    const run = async (...flags: string[]) => {
      const args = ['train', '--from', LINEAR, '--fix', '--reinit', '--data', POS, '--validation-split', '0.2', '--epochs', '2', '--seed', '1'];
      const done = await seqTag([...args, '--to', join(dir, `${flags.join('') || 'default'}.keras`), ...flags, '--json']);
      assert.equal(done.status, 0, done.stderr);
      return json(done.stdout) as Printed & { config: { lstm: string } };
    };
    const [fused, layers] = [await run(), await run('--lstm', 'layers')];
    assert.deepEqual([fused.config.lstm, layers.config.lstm], ['fused', 'layers']);
    // Adam in float64 on the fused engine, float32 in tfjs: the same curve, not the same bits.
    fused.epochs.forEach((e, k) => {
      assert.ok(Math.abs(e.loss - layers.epochs[k].loss) < 1e-5, `epoch ${k + 1}: ${e.loss} vs ${layers.epochs[k].loss}`);
      const [v, w] = [(e.validation as { loss: number }).loss, (layers.epochs[k].validation as { loss: number }).loss];
      assert.ok(Math.abs(v - w) < 1e-4, `epoch ${k + 1} validation: ${v} vs ${w}`);
    });
    assert.ok(Math.abs(fused.evaluation.loss - layers.evaluation.loss) < 1e-4);
    assert.match((await fromTagger(join(dir, 'h.keras'))).stdout, /· 1 epoch · fused engine, float32 \((?:WebAssembly SIMD|native [\w-]+), 1 thread\)\n/);
    // A model the fused engine does not compute runs on tf.layers, and --lstm fused is refused for it.
    const schedule = ['train', '--from', fixture('adamw-schedule.keras'), '--epochs', '1', '--seed', '1'];
    assert.match((await seqTag([...schedule, '--to', join(dir, 's.keras')])).stdout, /· layers engine, float32 \(tfjs\)\n/);
    oneLine(
      await seqTag([...schedule, '--to', join(dir, 't.keras'), '--lstm', 'fused']),
      2,
      /--lstm fused cannot train this model as Keras would: it is not Embedding/,
    );
    oneLine(
      await seqTag(['train', '--from', fixture('pos-tagger.keras'), '--data', POS, '--lstm', 'layers', '--dtype', 'float64', '--to', join(dir, 'u.keras')]),
      2,
      /--dtype float64 needs the fused engine, which does not train this model: drop --dtype/,
    );
  });

  it('a softmax head under from_logits=True: --fix drops from_logits, and the file is written without it', async () => {
    const dir = tempDir();
    const loaded = await loadModel(fixture('seed-softmax.keras'));
    const doubled = join(dir, 'doubled');
    await exportModel({ ...loaded, compile: { ...loaded.compile!, fromLogits: true, keras: undefined } }, doubled);
    loaded.model.dispose();
    const out = join(dir, 'out.keras');
    const run = await seqTag(['train', '--from', doubled, '--fix', '--epochs', '1', '--samples', '64', '--seed', '1', '--to', out]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /fix \(--fix\): categorical_crossentropy without from_logits on the softmax head \(Keras: from_logits=False\)/);
    assert.match(run.stdout, /held-out evaluation \(1,000 unseen generated sequences\)/);
    const back = await loadModel(out);
    assert.equal(back.compile?.fromLogits, false);
    back.model.dispose();
  });

  it("the seed's own model (digit task, no --data): fixed, it settles at the label entropy, and says why and what next", async () => {
    const run = await seqTag([
      'train',
      '--from',
      fixture('seed-linear.keras'),
      '--fix',
      '--reinit',
      '--epochs',
      '2',
      '--samples',
      '300',
      '--seed',
      '2',
      '--to',
      join(tempDir(), 's.keras'),
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /300 generated sequences × 10/);
    assert.match(run.stdout, /floor 0\.500\d \(entropy of the labels\)/);
    assert.match(run.stdout, /why, and next: a left-to-right model cannot tag the first occurrence/);
  });

  it("the doctor's fix line names the seq-tag command, and that command runs", async () => {
    const doctor = await seqTag(['doctor', '--model', LINEAR, '--data', POS], { COLUMNS: '300' });
    const named = doctor.stdout.match(/or retrain the file with the softmax head here:\s+(seq-tag train --from \S+ --fix --reinit --data \S+)/);
    assert.ok(named, doctor.stdout);
    const args = named[1].split(' ').slice(1);
    assert.deepEqual(args.slice(0, 6), ['train', '--from', LINEAR, '--fix', '--reinit', '--data']);
    const run = await seqTag([...args, '--epochs', '1', '--to', join(tempDir(), 'f.keras')]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(defaultTarget('/a/tagger.h5', true), '/a/tagger.fixed.keras');
    assert.equal(defaultTarget('tfjs-folder/', false), 'tfjs-folder.retrained.keras');
  });

  it('flags that do not apply, data it cannot read, a seq-tag folder: one line each, nothing written', async () => {
    const to = join(tempDir(), 'x.keras');
    const from = ['train', '--from', LINEAR, '--reinit', '--to', to];
    oneLine(await seqTag(['train', '--fix']), 2, /^seq-tag: --fix needs --from FILE/);
    oneLine(await seqTag([...from, '--data', POS, '--units', '8']), 2, /--units does not apply with --from: the file brings its own model/);
    oneLine(await seqTag([...from, '--data', POS, '--preset', 'solve']), 2, /--preset does not apply with --from/);
    oneLine(await seqTag([...from, '--data', POS, '--resume']), 2, /--resume does not apply with --from/);
    oneLine(await seqTag([...from, '--data', POS, '--samples', '10']), 2, /--samples sizes the generated task/);
    const conllu = join(tempDir(), 'c.conllu');
    writeFileSync(conllu, '1\tA\ta\tDET\tDT\t_\t0\troot\t_\t_\n\n');
    oneLine(await seqTag([...from, '--data', conllu]), 2, /--data .*c\.conllu: a model read with --from takes its data as \.npz/);
    oneLine(await seqTag([...from]), 1, /pos-linear\.keras is not a model of the digit task .*--data FILE\.npz/);
    oneLine(
      await seqTag(['train', '--model', LINEAR]),
      2,
      /to retrain a model saved by Keras or TensorFlow\.js, use train --from .*pos-linear\.keras; to check/,
    );
    const folder = tempDir();
    const made = await trainApi({ samples: 32, epochs: 1, seed: 1, modelDir: folder });
    made.model.dispose();
    oneLine(
      await seqTag(['train', '--from', folder, '--to', to]),
      2,
      /is a model seq-tag trained: --from retrains a file from Keras or TensorFlow\.js; continue .*--resume/,
    );
    assert.equal(existsSync(to), false);
  });

  it('the API: retrain({ from, data, fix, reinit, to }) returns the model and scores, writes the file, and leaks no tensors', async () => {
    const to = join(tempDir(), 'api.keras');
    const before = tf.memory().numTensors;
    const result = await retrain({ from: LINEAR, data: POS, fix: true, reinit: true, epochs: 1, seed: 4, to });
    assert.equal(result.saved, true);
    assert.equal(result.fix?.head, 'softmax');
    assert.ok(result.evaluation && Number.isFinite(result.evaluation.loss));
    assert.ok(existsSync(to));
    result.model.dispose();
    assert.equal(tf.memory().numTensors, before);
    await assert.rejects(retrain({ from: LINEAR, data: POS }), /add --reinit/);
    assert.equal(tf.memory().numTensors, before);
  });
});
