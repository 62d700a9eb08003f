/**
 * Issue #21, `predict --input FILE|-` and repeated `--digits`: every sequence given is tagged (one
 * result per line, text or JSONL), the same tags as `--digits` gives; what is not a sequence is one line.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { oneLine, SEQ_TAG_COMMAND, seqTag, tempDir, type Run } from './helpers.js';
import { BadSequenceLine, sequenceBatches } from '../src/task/sequences-file.js';

function withStdin(args: string[], input: string): Run {
  const r = spawnSync(SEQ_TAG_COMMAND[0], [SEQ_TAG_COMMAND[1], ...args], { input, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('predict --input and several --digits', () => {
  const dir = tempDir();
  const model = join(dir, 'm');
  const file = join(dir, 'seqs.txt');
  const SEQUENCES = ['4 0 2 8 5 6 1 3 3 7', '1,2,3,4,5,6,7,8,9,9', '0123456700'];
  before(async () => {
    assert.equal(
      (await seqTag(['train', '--samples', '200', '--epochs', '2', '--encoding', 'onehot', '--seed', '4', '--backend', 'cpu', '--model-dir', model])).status,
      0,
    );
    writeFileSync(file, `# three sequences\n${SEQUENCES[0]}\n\n${SEQUENCES[1]}\r\n${SEQUENCES[2]}\n`);
  });

  it('tags every line of a file, one tab-separated result per line, as --digits tags them', async () => {
    const run = await seqTag(['predict', '--model', model, '--input', file, '--backend', 'cpu']);
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(run.stderr, /: 3 sequences of .*seqs\.txt\n$/);
    const typed = JSON.parse((await seqTag(['predict', '--model', model, '--backend', 'cpu', '--json', ...SEQUENCES.flatMap((s) => ['--digits', s])])).stdout);
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

  it('what is not a file of sequences is one line naming it', async () => {
    writeFileSync(join(dir, 'bad.txt'), `${SEQUENCES[0]}\n1 2 3\n`);
    oneLine(
      await seqTag(['predict', '--model', model, '--input', join(dir, 'bad.txt')]),
      1,
      /--input .*bad\.txt: line 2 \("1 2 3"\) is not a sequence of 10 digits 0-9/,
    );
    oneLine(await seqTag(['predict', '--model', model, '--input', '/dev/zero']), 1, /--input \/dev\/zero is not a regular file/);
    mkdirSync(join(dir, 'folder'));
    oneLine(await seqTag(['predict', '--model', model, '--input', join(dir, 'folder')]), 1, /is not a regular file \(a folder\)/);
    oneLine(await seqTag(['predict', '--model', model, '--input', join(dir, 'missing.txt')]), 1, /cannot be read: no such file or folder/);
    oneLine(
      await seqTag(['predict', '--model', model, '--input', file, '--digits', '4028561337']),
      2,
      /give one of --digits, --data and --input, not --digits and --input/,
    );
  });
});

describe('predict --input streams (issue #31)', () => {
  /** `total` bytes of `line` repeated, a mebibyte at a time, like a file read by fileChunks. */
  async function* repeated(line: string, total: number): AsyncGenerator<Uint8Array> {
    const text = Buffer.from(line.repeat(Math.ceil(2 ** 20 / line.length)));
    for (let sent = 0; sent < total; sent += text.length) yield text.subarray(0, Math.min(text.length, total - sent));
  }

  it('255 MiB of newlines: nothing to tag, read at once, memory flat', async () => {
    const before = process.memoryUsage().rss;
    let batches = 0;
    for await (const _ of sequenceBatches(repeated('\n', 255 * 2 ** 20), 1000)) batches++;
    assert.equal(batches, 0);
    assert.ok(process.memoryUsage().rss - before < 100 * 2 ** 20, 'no line is kept');
  });

  it('8 MiB of valid lines: batches of 1,000 in order, each line once, memory bounded by a batch', async () => {
    const line = '4 0 2 8 5 6 1 3 3 7\n';
    const total = 8 * 2 ** 20 - ((8 * 2 ** 20) % line.length);
    const before = process.memoryUsage().rss;
    let n = 0;
    let peak = 0;
    for await (const batch of sequenceBatches(repeated(line, total), 1000)) {
      assert.ok(batch.n === 1000 || n + batch.n === total / line.length);
      assert.deepEqual(Array.from(batch.digits.subarray(0, 10)), [4, 0, 2, 8, 5, 6, 1, 3, 3, 7]);
      n += batch.n;
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    assert.equal(n, total / line.length);
    assert.ok(peak - before < 200 * 2 ** 20, `grew ${((peak - before) / 2 ** 20).toFixed(0)} MiB`);
  });

  it('lines split across chunks, CRLF, comments, a last line without newline, and an endless line', async () => {
    const chunks = ['# head\r\n4 0 2 8 5', ' 6 1 3 3 7\r\n\n  \n012345', '6700'].map((t) => Buffer.from(t));
    const read = async (parts: Uint8Array[]) => {
      const rows: number[][] = [];
      for await (const b of sequenceBatches(
        (async function* () {
          yield* parts;
        })(),
        2,
      ))
        for (let k = 0; k < b.n; k++) rows.push(Array.from(b.digits.subarray(k * 10, k * 10 + 10)));
      return rows;
    };
    assert.deepEqual(await read(chunks), [
      [4, 0, 2, 8, 5, 6, 1, 3, 3, 7],
      [0, 1, 2, 3, 4, 5, 6, 7, 0, 0],
    ]);
    const endless = [Buffer.from('0123456789\n'), ...Array.from({ length: 5 }, () => Buffer.alloc(2 ** 20, 0x37))];
    await assert.rejects(read(endless), (err: unknown) => err instanceof BadSequenceLine && err.line === 2);
  });

  it('results come as their batch is read, before the input ends; a bad line after good ones keeps their results', async () => {
    const dir = tempDir();
    const model = join(dir, 'm');
    assert.equal((await seqTag(['train', '--samples', '64', '--epochs', '1', '--seed', '4', '--backend', 'cpu', '--model-dir', model])).status, 0);
    const child = spawn(SEQ_TAG_COMMAND[0], [SEQ_TAG_COMMAND[1], 'predict', '--model', model, '--input', '-', '--backend', 'cpu']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.write('4 0 2 8 5 6 1 3 3 7\n'.repeat(1000));
    const deadline = Date.now() + 30_000;
    while (out.split('\n').length < 1001 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(out.split('\n').length, 1001, 'the first 1,000 results arrived while stdin was still open');
    child.stdin.end('1 2 3\n');
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 1);
    const bad = withStdin(['predict', '--model', model, '--input', '-', '--backend', 'cpu'], '4 0 2 8 5 6 1 3 3 7\n0123456700\nnot digits\n');
    assert.equal(bad.stdout.trim().split('\n').length, 2);
    oneLine(bad, 1, /--input -: line 3 \("not digits"\) is not a sequence of 10 digits 0-9 \(the 2 lines before it are tagged above\)/);
  });
});
