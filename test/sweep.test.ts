import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { gridCombinations, parseGridAxis } from '../src/cli/sweep.js';
import { addExperimentOptions } from '../src/cli/options.js';
import { ORIGINAL_EXPERIMENT } from '../src/model/config.js';
import { UserError } from '../src/errors.js';
import type { Evaluation } from '../src/task/metrics.js';
import { expandRuns, readRecords, RESULTS_FILE, runSweep, summarize, type RunRecord } from '../src/sweep/sweep.js';
import { seqTag, tempDir } from './helpers.js';

const prototype = () => addExperimentOptions(new Command());

function rejectsGrid(spec: string, pattern: RegExp): void {
  assert.throws(
    () => parseGridAxis(spec, prototype()),
    (err: unknown) => err instanceof UserError && err.exitCode === 2 && pattern.test(err.message),
  );
}

describe('grid specs', () => {
  it("parses values with the train flags' own parsers", () => {
    const act = parseGridAxis('activation=linear,softmax', prototype());
    assert.deepEqual([act.attribute, act.values.map((v) => v.value)], ['activation', ['linear', 'softmax']]);
    const bn = parseGridAxis('batch-norm=off,on', prototype());
    assert.deepEqual([bn.attribute, bn.values.map((v) => v.value)], ['batchNorm', [false, true]]);
    const lr = parseGridAxis('lr=0.001,1e-4', prototype());
    assert.deepEqual(
      lr.values.map((v) => v.value),
      [0.001, 0.0001],
    );
    const guard = parseGridAxis('nan-guard=on,off', prototype());
    assert.deepEqual([guard.attribute, guard.values.map((v) => v.value)], ['nanGuard', [true, false]]);
  });

  it('rejects unknown flags, bad values and empty lists before anything runs', () => {
    rejectsGrid('colour=red', /'colour' is not a train flag that can vary; use one of .*activation/);
    rejectsGrid('activation=tanh', /'tanh' is not one of softmax, linear, sigmoid, relu/);
    rejectsGrid('units=0,16', /'0' is invalid for --units/);
    rejectsGrid('batch-norm=maybe', /'maybe' is not on or off/);
    rejectsGrid('activation=', /empty value/);
    rejectsGrid('activation=linear,,softmax', /empty value/);
    rejectsGrid('activation', /expected flag=value1,value2/);
    rejectsGrid('seed=1,2', /'seed' is not a train flag that can vary/);
    rejectsGrid('lr=0.1,0.1', /'0\.1' and '0\.1' are the same value; list it once/);
    rejectsGrid('lr=0.001,1e-3', /'0\.001' and '1e-3' are the same value/);
    rejectsGrid('epochs=1,01', /'1' and '01' are the same value/);
    assert.throws(
      () => gridCombinations([parseGridAxis('activation=softmax', prototype()), parseGridAxis('activation=linear', prototype())]),
      /--grid activation is given twice; put all its values in one: --grid activation=v1,v2/,
    );
  });

  it('crosses the axes in order', () => {
    const combos = gridCombinations([parseGridAxis('activation=linear,softmax', prototype()), parseGridAxis('batch-norm=off,on', prototype())]);
    assert.deepEqual(
      combos.map((c) => c.label),
      ['activation=linear batch-norm=off', 'activation=linear batch-norm=on', 'activation=softmax batch-norm=off', 'activation=softmax batch-norm=on'],
    );
    assert.deepEqual(combos[1].overrides, { activation: 'linear', batchNorm: true });
  });
});

const evaluation = (exact: number, floor = 0.5004): Evaluation => ({
  sequences: 1000,
  loss: 0.1,
  floor,
  tokenAccuracy: 0.99,
  baselineAccuracy: 0.8,
  exactMatch: exact,
  precision: 1,
  recall: 1,
  f1: 0.99,
  recallFirst: 1,
  recallSecond: 1,
});
const record = (label: string, seed: number, over: Partial<RunRecord>): RunRecord => ({
  key: `${label}|${seed}`,
  label,
  seed,
  status: 'ok',
  epochs: [],
  seconds: 1,
  ...over,
});
const epochs = (...losses: number[]) => losses.map((loss, k) => ({ epoch: k + 1, loss, seconds: 0.1 }));

describe('aggregation', () => {
  it('counts divergence rates, takes medians and names each verdict', () => {
    const activations: Record<string, 'linear' | 'softmax'> = {
      nan: 'linear',
      some: 'linear',
      bn: 'linear',
      floor: 'softmax',
      solved: 'softmax',
      slow: 'softmax',
    };
    const records = [
      record('nan', 1, { status: 'diverged', divergence: { epoch: 1, batch: 1, loss: NaN, symptom: 'nan' } }),
      record('nan', 2, { status: 'diverged', divergence: { epoch: 1, batch: 2, loss: 16.1181, symptom: 'clip-bound' } }),
      record('some', 1, { status: 'diverged', divergence: { epoch: 3, batch: 1, loss: NaN, symptom: 'nan' } }),
      record('some', 2, { epochs: epochs(0.7, 0.6), evaluation: evaluation(0) }),
      record('some', 3, { status: 'failed', error: 'worker exited with code 3' }),
      record('bn', 1, { epochs: epochs(2, 0.9), evaluation: evaluation(0) }),
      record('bn', 2, { epochs: epochs(2, 0.8), evaluation: evaluation(0) }),
      record('bn', 3, { epochs: epochs(2, 1.2), evaluation: evaluation(0) }),
      record('floor', 1, { epochs: epochs(0.6, 0.5011), evaluation: evaluation(0) }),
      record('solved', 1, { epochs: epochs(0.4, 0.01), evaluation: evaluation(0.99) }),
      record('slow', 1, { epochs: epochs(0.9, 0.7), evaluation: evaluation(0) }),
    ];
    const s = Object.fromEntries(summarize(records, (l) => activations[l]).map((x) => [x.label, x]));
    assert.equal(s.nan.divergedEpoch1, 1);
    assert.equal(s.nan.verdict, 'does not fix the NaN');
    assert.equal(s.nan.finalLoss, null);
    assert.equal(s.some.failed, 1);
    assert.equal(s.some.divergedAny, 0.5);
    assert.equal(s.some.divergedEpoch1, 0);
    assert.equal(s.some.verdict, 'fixes the NaN in only 1 of 2 runs');
    assert.deepEqual(s.bn.finalLoss, { median: 0.9, min: 0.8, max: 1.2 });
    assert.equal(s.bn.verdict, 'hides the NaN; loss worse than predicting the base rate');
    assert.deepEqual(s.bn.curve, [
      { epoch: 1, median: 2, min: 2, max: 2 },
      { epoch: 2, median: 0.9, min: 0.8, max: 1.2 },
    ]);
    assert.equal(s.floor.verdict, 'no NaN, but learns nothing: loss at the floor (predicts the base rate)');
    assert.equal(s.solved.verdict, 'fixes the NaN and learns (exact-match 99.0%)');
    assert.equal(s.slow.verdict, 'no NaN, but loss still above the floor (not learned yet)');
  });
});

/** A stand-in worker: answers instantly, and dies on the run labelled "crash" with seed 2. */
function fakeWorker(dir: string): string {
  const path = join(dir, 'fake-worker.mjs');
  writeFileSync(
    path,
    `process.on('message', ({ spec }) => {
      if (spec.label === 'crash' && spec.seed === 2) { console.error('boom: out of memory'); process.exit(3); }
      process.send({ key: spec.key, label: spec.label, seed: spec.seed, status: 'ok', epochs: [{ epoch: 1, loss: 0.6, seconds: 0.01 }], seconds: 0.01 });
    });`,
  );
  return path;
}

describe('runSweep', () => {
  const specs = expandRuns(
    [
      { label: 'a', config: ORIGINAL_EXPERIMENT },
      { label: 'crash', config: { ...ORIGINAL_EXPERIMENT, units: 8 } },
    ],
    [1, 2, 3],
  );

  it('appends every finished run to results.jsonl, reports a crashed worker as a failed run, and resumes', async () => {
    const dir = tempDir();
    const workerPath = fakeWorker(dir);
    const seen: [string, number, boolean][] = [];
    const { records } = await runSweep(specs, {
      jobs: 2,
      outDir: dir,
      backend: 'cpu',
      workerPath,
      onRecord: (r, done, _total, resumed) => void seen.push([r.key, done, resumed]),
    });
    assert.equal(records.length, 6);
    const failed = records.filter((r) => r.status === 'failed');
    assert.deepEqual(
      failed.map((r) => [r.label, r.seed]),
      [['crash', 2]],
    );
    assert.match(failed[0].error!, /worker exited with code 3: boom: out of memory/);
    assert.deepEqual(
      seen.map((s) => s[1]),
      [1, 2, 3, 4, 5, 6],
    );
    const lines = readFileSync(join(dir, RESULTS_FILE), 'utf8').trim().split('\n');
    assert.equal(lines.length, 6);

    // Finished runs are skipped; the failed one reruns.
    const again: boolean[] = [];
    const { records: second } = await runSweep(specs, {
      jobs: 2,
      outDir: dir,
      backend: 'cpu',
      workerPath,
      onRecord: (_r, _d, _t, resumed) => void again.push(resumed),
    });
    assert.equal(again.filter(Boolean).length, 5, 'five runs resumed from the file');
    assert.equal(second.find((r) => r.label === 'crash' && r.seed === 2)!.status, 'failed', 'the crash happens again');
  });

  it('a torn last line from an older crash is reported, cut off, and its run done again', async () => {
    const dir = tempDir();
    const workerPath = fakeWorker(dir);
    const file = join(dir, RESULTS_FILE);
    const few = specs.filter((s) => s.label === 'a');
    await runSweep(few, { jobs: 1, outDir: dir, backend: 'cpu', workerPath });
    const whole = readFileSync(file, 'utf8');
    const lines = whole.trim().split('\n');
    // As an older seq-tag left it: the last record half-written, no newline.
    writeFileSync(file, `${lines.slice(0, 2).join('\n')}\n${lines[2].slice(0, 30)}`);
    const stored = await readRecords(file);
    assert.equal(stored.tornTail, true);
    assert.equal(stored.records.size, 2);
    assert.equal(readFileSync(file, 'utf8'), `${lines.slice(0, 2).join('\n')}\n`, 'the torn line is cut off');
    const again = await runSweep(few, { jobs: 1, outDir: dir, backend: 'cpu', workerPath });
    assert.equal(again.records.length, 3);
    const after = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(after.length, 3);
    for (const line of after) JSON.parse(line);
    assert.equal((await readRecords(file)).tornTail, false);
  });

  it('run keys change when any setting changes, so a changed sweep does not reuse old runs', () => {
    const [a] = expandRuns([{ label: 'x', config: ORIGINAL_EXPERIMENT }], [1]);
    const [b] = expandRuns([{ label: 'x', config: { ...ORIGINAL_EXPERIMENT, epochs: 3 } }], [1]);
    assert.notEqual(a.key, b.key);
  });
});

describe('seq-tag sweep (spawned)', () => {
  it('runs 2 configs × 2 seeds × 1 epoch: table, results.jsonl, summary and a valid SVG; a rerun resumes', () => {
    const out = join(tempDir(), 'sweep');
    const args = [
      'sweep',
      '--grid',
      'activation=linear,softmax',
      '--seeds',
      '2',
      '--epochs',
      '1',
      '--samples',
      '64',
      '--jobs',
      '2',
      '--backend',
      'cpu',
      '--out',
      out,
    ];
    const run = seqTag(args);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /2 configurations × 2 seeds = 4 runs · 2 workers/);
    assert.equal((run.stdout.match(/^\[\d\/4\] /gm) ?? []).length, 4);
    assert.match(run.stdout, /^activation=linear +2 +100% +100% +— /m);
    assert.match(run.stdout, /^activation=softmax +2 +0% +0% +\d\.\d{4} \(/m);
    assert.match(run.stdout, /^activation=linear +does not fix the NaN$/m);
    assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').length, 4);
    const svg = readFileSync(join(out, 'loss-curves.svg'), 'utf8');
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\s*$/);
    assert.match(svg, /activation=softmax/);
    assert.match(svg, /no-skill floor 0\.500/);
    assert.ok(existsSync(join(out, 'summary.json')));

    const rerun = seqTag([...args, '--json']);
    assert.equal(rerun.status, 0, rerun.stderr);
    const doc = JSON.parse(rerun.stdout);
    assert.deepEqual(
      doc.configurations.map((c: { label: string; runs: number }) => [c.label, c.runs]),
      [
        ['activation=linear', 2],
        ['activation=softmax', 2],
      ],
    );
    assert.equal(doc.configurations[0].verdict, 'does not fix the NaN');
    assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').length, 4, 'nothing ran again');
  });

  it('bad sweeps fail in one line before anything runs', () => {
    const out = join(tempDir(), 'never');
    for (const [args, pattern] of [
      [['sweep', '--grid', 'colour=red'], /'colour' is not a train flag/],
      [['sweep', '--grid', 'activation='], /empty value/],
      [['sweep'], /say what to sweep/],
      [['sweep', '--answers', '--grid', 'lr=0.1'], /use it or --grid, not both/],
      [['sweep', '--grid', 'lr=0.1', '--seed', '3'], /use --seeds and --first-seed instead of --seed/],
      [['sweep', '--grid', 'lstm=fused,turbo'], /'turbo' is not one of fused, layers/],
    ] as const) {
      const run = seqTag([...args, '--out', out]);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
      assert.equal(run.stderr.trim().split('\n').length, 1);
      assert.ok(!existsSync(out), 'nothing was created');
    }
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    const run = seqTag(['sweep', '--grid', 'lr=0.1', '--out', join(file, 'out')]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^seq-tag: cannot use --out .*: .*a-file is a file; choose a folder path\n$/);
  });
});
