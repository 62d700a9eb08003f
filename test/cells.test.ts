/**
 * --cell gru and --layers N (issue #34): stacked GRU or LSTM layers on tf.layers, for the digit task
 * and for text; the fused engine stacks a tagger's LSTM layers and refuses GRU in one line; a model
 * of them saves, reads back and exports to Keras with the same outputs.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { oneLine, seqTag, tempDir } from './helpers.js';

const SMALL = ['--units', '4', '--samples', '64', '--epochs', '2', '--seed', '1', '--backend', 'wasm'];
type Predicted = { predictions: { probabilities: number[][] }[] };
const probabilities = (stdout: string) => (JSON.parse(stdout) as Predicted).predictions.flatMap((p) => p.probabilities.flat());

describe('--cell gru and --layers N', () => {
  it('run on tf.layers: the header says what runs, the model reads back and exports to Keras with the same outputs', async () => {
    const dir = tempDir();
    const model = join(dir, 'gru');
    const run = await seqTag(['train', '--cell', 'gru', '--layers', '2', '--bidirectional', '--lstm', 'layers', ...SMALL, '--model-dir', model]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^scalar input → GRU 4 × 2 directions × 2 layers → Dense\(2, softmax\) · .* · layers engine, float32 \(tfjs\)$/m);
    assert.match(run.stdout, /^bidirectional_2 \(Bidirectional\) /m);
    const digits = ['--digits', '4 3 1 8 5 2 6 7 7 0', '--digits', '1 2 3 4 5 6 7 8 9 1', '--json'];
    const saved = await seqTag(['predict', '--model', model, ...digits]);
    assert.equal((await seqTag(['export', '--model', model, '--to', join(dir, 'gru.keras')])).status, 0);
    const exported = await seqTag(['predict', '--model', join(dir, 'gru.keras'), ...digits]);
    assert.deepEqual(probabilities(exported.stdout), probabilities(saved.stdout));
    assert.match(JSON.parse(exported.stdout).model.architecture, /^Bidirectional\(GRU 4\) → Bidirectional\(GRU 4\) → TimeDistributed\(Dense\(2, softmax\)\)$/);
  });

  it('the same seed gives the same losses; one LSTM layer is the model it always was', async () => {
    const dir = tempDir();
    const losses = async (args: string[], name: string) =>
      (JSON.parse((await seqTag(['train', ...args, ...SMALL, '--json', '--model-dir', join(dir, name)])).stdout) as { epochs: { loss: number }[] }).epochs.map(
        (e) => e.loss,
      );
    const stacked = ['--layers', '3', '--lstm', 'layers'];
    assert.deepEqual(await losses(stacked, 'a'), await losses(stacked, 'b'));
    assert.deepEqual(await losses(['--lstm', 'layers', '--layers', '1', '--cell', 'lstm'], 'c'), await losses(['--lstm', 'layers'], 'd'));
    assert.notDeepEqual(await losses(stacked, 'e'), await losses(['--lstm', 'layers'], 'f'));
  });

  it("on text too, where the fused engine runs GRU and stacked layers; the digit task's are refused there in one line", async () => {
    const train = join(tempDir(), 't.txt');
    writeFileSync(train, 'The/DT dog/NN barks/VBZ ./.\nA/DT cat/NN sleeps/VBZ ./.\n');
    const run = await seqTag(['train', '--data', train, '--cell', 'gru', '--lstm', 'layers', ...SMALL, '--model-dir', join(tempDir(), 'm')]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Embedding 64 \(mask_zero\) → GRU 4 → Dense\(4, softmax\)/m);
    oneLine(
      await seqTag(['train', '--cell', 'gru', ...SMALL]),
      2,
      /^seq-tag: the fused engine computes the digit task's one LSTM layer: --cell gru runs on tf\.layers, add --lstm layers \(a text tagger, --data, runs them fused\)$/,
    );
    oneLine(
      await seqTag(['train', '--layers', '2', ...SMALL]),
      2,
      /^seq-tag: the fused engine computes the digit task's one LSTM layer: --layers 2 runs on tf\.layers/,
    );
    const stacked = await seqTag(['train', '--data', train, '--layers', '2', '--bidirectional', ...SMALL, '--model-dir', join(tempDir(), 's')]);
    assert.equal(stacked.status, 0, stacked.stderr);
    assert.match(stacked.stdout, /LSTM 4 × 2 directions × 2 layers .*fused engine/s);
    const gru = await seqTag(['train', '--data', train, '--cell', 'gru', ...SMALL, '--model-dir', join(tempDir(), 'g')]);
    assert.equal(gru.status, 0, gru.stderr);
    assert.match(gru.stdout, /GRU 4 .*fused engine/s);
    oneLine(
      await seqTag(['train', '--data', train, '--cell', 'gru', '--dropout', '0.2', ...SMALL]),
      2,
      /--dropout is drawn for LSTM layers; --cell gru trains without dropout here/,
    );
    oneLine(await seqTag(['train', '--layers', '0', ...SMALL]), 2, /--layers.*expected a whole number from 1 to 8/);
  });
});
