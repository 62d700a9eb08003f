/**
 * Issue #21, `predict --input FILE|-` and repeated `--digits`: every sequence given is tagged (one
 * result per line, text or JSONL), the same tags as `--digits` gives; what is not a sequence is one line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { oneLine, SEQ_TAG_COMMAND, seqTag, tempDir, type Run } from './helpers.js';

function withStdin(args: string[], input: string): Run {
  const r = spawnSync(SEQ_TAG_COMMAND[0], [SEQ_TAG_COMMAND[1], ...args], { input, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('predict --input and several --digits', () => {
  const dir = tempDir();
  const model = join(dir, 'm');
  const file = join(dir, 'seqs.txt');
  const SEQUENCES = ['4 0 2 8 5 6 1 3 3 7', '1,2,3,4,5,6,7,8,9,9', '0123456700'];
  before(() => {
    assert.equal(
      seqTag(['train', '--samples', '200', '--epochs', '2', '--encoding', 'onehot', '--seed', '4', '--backend', 'cpu', '--model-dir', model]).status,
      0,
    );
    writeFileSync(file, `# three sequences\n${SEQUENCES[0]}\n\n${SEQUENCES[1]}\r\n${SEQUENCES[2]}\n`);
  });

  it('tags every line of a file, one tab-separated result per line, as --digits tags them', () => {
    const run = seqTag(['predict', '--model', model, '--input', file, '--backend', 'cpu']);
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(run.stderr, /: 3 sequences of .*seqs\.txt\n$/);
    const typed = JSON.parse(seqTag(['predict', '--model', model, '--backend', 'cpu', '--json', ...SEQUENCES.flatMap((s) => ['--digits', s])]).stdout);
    assert.equal(typed.predictions.length, 3, 'every --digits is tagged');
    lines.forEach((line, k) => {
      const [digits, tags] = line.split('\t');
      assert.deepEqual(digits.split(' ').map(Number), typed.predictions[k].digits);
      assert.deepEqual(tags.split(' ').map(Number), typed.predictions[k].predicted);
    });
  });

  it('reads stdin with -, and writes JSONL with --json: digits, tags, truth, probabilities', () => {
    const run = withStdin(['predict', '--model', model, '--input', '-', '--json', '--backend', 'cpu'], SEQUENCES.join('\n'));
    assert.equal(run.status, 0, run.stderr);
    const rows = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[0].truth, [0, 0, 0, 0, 0, 0, 0, 1, 1, 0]);
    for (const row of rows) {
      assert.equal(row.probs.length, 10);
      assert.deepEqual(
        row.predicted,
        row.probs.map((p: number) => (p > 0.5 ? 1 : 0)),
      );
    }
    const text = withStdin(['predict', '--model', model, '--input', '-', '--probs', '--backend', 'cpu'], SEQUENCES.join('\n'));
    assert.equal(text.stdout.trim().split('\n')[0].split('\t').length, 3, 'digits, tags, probabilities');
  });

  it('tags a large input in batches of 1,000, every line once, in order', () => {
    const many = Array.from({ length: 2_001 }, (_, k) => SEQUENCES[k % 3]).join('\n');
    const run = withStdin(['predict', '--model', model, '--input', '-', '--backend', 'wasm'], many);
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 2_001);
    for (const k of [999, 1000, 1001, 2000]) assert.equal(lines[k], lines[k % 3], `line ${k + 1}`);
  });

  it('what is not a file of sequences is one line naming it', () => {
    writeFileSync(join(dir, 'bad.txt'), `${SEQUENCES[0]}\n1 2 3\n`);
    oneLine(
      seqTag(['predict', '--model', model, '--input', join(dir, 'bad.txt')]),
      1,
      /--input .*bad\.txt: line 2 \("1 2 3"\) is not a sequence of 10 digits 0-9/,
    );
    oneLine(seqTag(['predict', '--model', model, '--input', '/dev/zero']), 1, /--input \/dev\/zero is not a regular file/);
    mkdirSync(join(dir, 'folder'));
    oneLine(seqTag(['predict', '--model', model, '--input', join(dir, 'folder')]), 1, /is not a regular file \(a folder\)/);
    oneLine(seqTag(['predict', '--model', model, '--input', join(dir, 'missing.txt')]), 1, /cannot be read: no such file or folder/);
    oneLine(
      seqTag(['predict', '--model', model, '--input', file, '--digits', '4028561337']),
      2,
      /give one of --digits, --data and --input, not --digits and --input/,
    );
  });
});
