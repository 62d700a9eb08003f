import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, before } from 'node:test';
import { hangingIndent, isCommandLine, wrapLine, wrapText, columnsFor } from '../src/report/wrap.js';
import { leadingEpochsToClip, terminalLossChart } from '../src/report/charts.js';
import { seqTag, tempDir } from './helpers.js';

const WIDTHS = [60, 80, 100];
const CHUNKS = new URL('../../test/fixtures/corpus/chunks-dev.conll', import.meta.url).pathname;
const words = (text: string) => text.split(/\s+/).filter(Boolean);
/** Code points, not UTF-16 units: "→" and "█" are one column each. */
/** The longest line, leaving out commands to copy, which run past the width rather than break (issue #32). */
const longest = (text: string) => Math.max(...text.split('\n').map((l) => (isCommandLine(l) ? 0 : [...l].length)));

describe('wrapping at word boundaries', () => {
  it('keeps every word, in order, and fits each line', () => {
    const line = `  ✓ gradient global norm   ${'alpha beta gamma delta '.repeat(8)}end`;
    const wrapped = wrapLine(line, 40);
    assert.deepEqual(words(wrapped), words(line));
    assert.ok(longest(wrapped) <= 40, wrapped);
    assert.ok(wrapped.split('\n').length > 2);
  });

  it('starts continuations under the label, or 6 columns in when the label is past 60% of the width', () => {
    const line = `  ✓ short title   ${'word '.repeat(30)}`;
    assert.equal(hangingIndent(line, 80), 18);
    const [, second] = wrapLine(line, 80).split('\n');
    assert.match(second, /^ {18}word/);
    assert.equal(hangingIndent(`${' '.repeat(50)}fix: x`, 60), 6);
    assert.equal(hangingIndent('   no label here at all', 80), 3);
  });

  it('cuts a word wider than the width instead of overflowing, and leaves short lines and colour alone', () => {
    const wrapped = wrapText(`path: ${'x'.repeat(150)}`, 60);
    assert.ok(longest(wrapped) <= 60, wrapped);
    assert.equal(words(wrapped).join('').length, `path:${'x'.repeat(150)}`.length);
    const coloured = `\x1b[32m✓\x1b[39m ${'a '.repeat(38)}`.trimEnd();
    assert.equal(wrapText(coloured, 80), coloured);
  });

  it('takes the terminal width, else COLUMNS, else 80', () => {
    assert.equal(columnsFor({ isTTY: true, columns: 132 }, { COLUMNS: '60' }), 132);
    assert.equal(columnsFor({ isTTY: false }, { COLUMNS: '60' }), 60);
    assert.equal(columnsFor({ isTTY: false }, { COLUMNS: 'wide' }), 80);
    assert.equal(columnsFor({}, {}), 80);
  });
});

describe('commands to copy are never broken across lines (issue #32)', () => {
  const commands = [
    'seq-tag train --preset solve',
    'seq-tag train --units 16 --lr 0.00358 --samples 6000 --validation-split 0.2 --epochs 12 --encoding onehot --bidirectional --seed 7',
    'npx seq-tag doctor --model /a/rather/long/path/to/a/model/folder/that/will/not/fit/in/sixty/columns',
  ];
  for (const columns of [40, 60, 80]) {
    it(`at ${columns} columns: each command is on one line, whole, and pastes as typed`, () => {
      for (const command of commands) {
        const line = `  ✗ loss vs the no-skill floor  the burst ended at 0.533; fix: ${command} (bidirectional LSTM 16 on one-hot digits, measured with seed 1)`;
        const wrapped = wrapLine(line, columns);
        assert.ok(
          wrapped.split('\n').some((l) => l.includes(command)),
          `${command} split at ${columns}:\n${wrapped}`,
        );
        // Every other line still fits; the words around the command are all kept.
        for (const l of wrapped.split('\n')) if (!l.includes(command)) assert.ok([...l].length <= columns, l);
        assert.equal(wrapped.replace(/\s+/g, ' ').trim(), line.replace(/\s+/g, ' ').trim());
      }
    });
  }
  it('a unit stays with its number', () => {
    const line = '[2/4] activation=linear · seed 1: diverged at epoch 1, batch 1 (loss nan) · 0.1 s';
    assert.equal(wrapLine(line, 80), '[2/4] activation=linear · seed 1: diverged at epoch 1, batch 1 (loss nan) ·\n0.1 s');
    assert.equal(wrapLine('peak memory of the run: 116 MB, 24 GiB free', 30), 'peak memory of the run:\n116 MB, 24 GiB free');
  });

  it('a command ends at the first word that is not a flag or its value', () => {
    const wrapped = wrapLine(`Next: seq-tag train --preset solve (bidirectional LSTM 16 on one-hot digits: 98.6% exact-match, measured with seed 1)`, 40);
    assert.match(wrapped, /^Next: seq-tag train --preset solve$/m);
    assert.match(wrapped, /^\(bidirectional LSTM 16 on one-hot$/m);
  });
});

describe('the loss chart when epoch 1 dominates', () => {
  const losses = [0.6761, 0.5358, 0.5173, 0.5155, 0.5138, 0.5124, 0.5112, 0.5101, 0.5091, 0.5082, 0.5074, 0.5066];
  it('clips the first epochs off the axis and says so on the chart', () => {
    assert.equal(leadingEpochsToClip(losses, 0.5004), 2);
    const chart = terminalLossChart(losses, 0.5004, 80);
    assert.match(chart, /axis clipped: epochs 1, 2 at 0\.6761, 0\.5358 above it/);
    assert.match(chart, /^0\.5173┤/m, 'the axis starts at epoch 3');
    // The rest of the curve spreads over several rows instead of one.
    assert.ok(chart.split('\n').filter((l) => /┤.*[━┗┓]/.test(l)).length >= 4, chart);
  });

  it('never clips epochs below the axis top: a solved run falling under the floor keeps them (issue #32)', () => {
    // The floor 0.5004 tops the axis; epochs 1-4 (0.4915 … 0.0043) lie under it, so none is "above it".
    const solved = [0.4915, 0.1977, 0.0165, 0.0043, 0.0021, 0.0015, 0.0011, 0.0009, 0.0008, 0.0007, 0.0006, 0.0005];
    assert.equal(leadingEpochsToClip(solved, 0.5004), 0);
    assert.doesNotMatch(terminalLossChart(solved, 0.5004, 80), /clipped/);
    // Above the floor but under a later epoch: not above the axis either.
    assert.equal(leadingEpochsToClip([0.6, 0.55, 0.7, 0.52, 0.51, 0.5], 0.3), 0);
  });

  it('leaves a curve that falls evenly whole', () => {
    const even = Array.from({ length: 10 }, (_, k) => 0.7 - 0.02 * k);
    assert.equal(leadingEpochsToClip(even, 0.5), 0);
    assert.doesNotMatch(terminalLossChart(even, 0.5, 80), /clipped/);
  });
});

describe('every screen fits 60, 80 and 100 columns (train, predict, evaluate, doctor, sweep, export, tune)', () => {
  const root = tempDir();
  const model = join(root, 'model');
  let wide: string;
  before(async () => {
    const trained = await seqTag(['train', '--epochs', '3', '--samples', '200', '--seed', '1', '--model-dir', model, '--backend', 'cpu']);
    assert.equal(trained.status, 0, trained.stderr);
    wide = (await seqTag(['doctor', '--model', model, '--backend', 'cpu'])).stdout;
  });

  const screens = (dir: string): string[][] => [
    ['train', '--epochs', '4', '--samples', '200', '--seed', '2', '--validation-split', '0.25', '--model-dir', join(dir, 'm'), '--backend', 'cpu'],
    ['train', '--activation', 'linear', '--epochs', '2', '--samples', '200', '--model-dir', join(dir, 'nan'), '--backend', 'cpu'],
    ['predict', '--model', model, '--n', '3', '--backend', 'cpu'],
    ['evaluate', '--model', model, '--samples', '200', '--backend', 'cpu'],
    ['doctor', '--model', model, '--backend', 'cpu'],
    [
      'sweep',
      '--grid',
      'activation=softmax,linear',
      '--seeds',
      '1',
      '--samples',
      '100',
      '--epochs',
      '2',
      '--jobs',
      '1',
      '--backend',
      'cpu',
      '--out',
      join(dir, 'sweep'),
    ],
    ['export', '--model', model, '--to', join(dir, 'model.keras')],
    ['train', '--help'],
    // A tagger on text (issue #34): its header, per-tag and entity tables, tagged sentences (wasm: tf.layers is 3× faster there).
    [
      'train',
      '--data',
      CHUNKS,
      '--test-data',
      CHUNKS,
      '--units',
      '4',
      '--embedding-dim',
      '4',
      '--epochs',
      '1',
      '--max-length',
      '24',
      '--model-dir',
      join(dir, 'text'),
      '--backend',
      'wasm',
    ],
    ['evaluate', '--model', join(dir, 'text'), '--data', CHUNKS, '--backend', 'wasm'],
    ['predict', '--model', join(dir, 'text'), '--data', CHUNKS, '--n', '2', '--backend', 'wasm'],
    ['doctor', '--model', join(dir, 'text'), '--data', CHUNKS, '--backend', 'wasm'],
    [
      'tune',
      '--space',
      'lr=1e-3..1e-2:log',
      '--space',
      'units=8..32',
      '--trials',
      '3',
      '--jobs',
      '1',
      '--samples',
      '100',
      '--epochs',
      '2',
      '--seed',
      '1',
      '--backend',
      'cpu',
      '--out',
      join(dir, 'tune'),
    ],
  ];

  for (const columns of WIDTHS) {
    it(`at ${columns} columns`, async () => {
      const dir = tempDir();
      const outputs = [];
      for (const args of screens(dir)) outputs.push(await seqTag(args, { COLUMNS: String(columns) }));
      outputs.forEach(({ stdout, stderr }, k) => {
        const command = screens(dir)[k].slice(0, 2).join(' ');
        assert.ok(stdout.length > 0, `${command} printed nothing`);
        assert.ok(longest(stdout) <= columns, `${command} at ${columns}:\n${stdout}`);
        assert.ok(longest(stderr) <= columns, `${command} at ${columns} (stderr):\n${stderr}`);
      });
      // Wrapping moves words, never drops or splits one: doctor is deterministic, so its words match the unwrapped screen's.
      assert.deepEqual(words(outputs[4].stdout), words(wide));
    });
  }
});
