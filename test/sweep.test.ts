import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { gridCombinations, parseGridAxis } from '../src/sweep/grid.js';
import { addExperimentOptions } from '../src/cli/options.js';
import { ORIGINAL_EXPERIMENT } from '../src/config/config.js';
import { UserError } from '../src/errors.js';
import type { Evaluation } from '../src/task/metrics.js';
import { RESULTS_FILE, REJECTED_FILE, SweepFolder } from '../src/sweep/folder.js';
import { expandRuns, type RunRecord, type RunSpec } from '../src/sweep/records.js';
import { FLOOR_MARGIN, runSweep, summarize, verdictFor, WorkerPool } from '../src/sweep/sweep.js';
import { renderSweepTable } from '../src/report/render.js';
import { VERSION } from '../src/version.js';
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
  config: { ...ORIGINAL_EXPERIMENT, seed },
  seqTagVersion: 'test',
  engine: 'test',
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
    const s = Object.fromEntries(summarize(records, (l) => activations[l], 'nan').map((x) => [x.label, x]));
    assert.equal(s.nan.divergedEpoch1, 1);
    assert.equal(s.nan.verdict, 'diverges (NaN) in every run', 'the baseline itself fixes nothing');
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
    assert.equal(s.floor.verdict, 'fixes the NaN, but learns nothing: loss at the floor (predicts the base rate)');
    assert.equal(s.solved.verdict, 'fixes the NaN and learns (exact-match 99.0%)');
    assert.equal(s.slow.verdict, 'fixes the NaN, but loss still above the floor (not learned yet)');
  });
});

/** A stand-in worker: answers instantly with a whole outcome; dies on the run labelled "crash" with seed 2, and answers "liar" runs with `null`. */
function fakeWorker(_dir?: string): string {
  const path = join(tempDir(), 'fake-worker.mjs');
  writeFileSync(
    path,
    `process.on('message', ({ spec }) => {
      if (spec.label === 'crash' && spec.seed === 2) { console.error('boom: out of memory'); process.exit(3); }
      if (spec.label === 'liar') return process.send(null);
      const epochs = Array.from({ length: spec.config.epochs }, (_, k) => ({ epoch: k + 1, loss: 0.6, seconds: 0.01 }));
      const evaluation = { sequences: 1000, loss: 0.6, floor: 0.5, tokenAccuracy: 0.8, baselineAccuracy: 0.8, exactMatch: 0, precision: 0, recall: 0, f1: 0, recallFirst: 0, recallSecond: 0 };
      process.send({ status: 'ok', epochs, evaluation, seconds: process.pid });
    });`,
  );
  return path;
}

const CONFIGS = [
  { label: 'a', config: { ...ORIGINAL_EXPERIMENT, epochs: 2 } },
  { label: 'crash', config: { ...ORIGINAL_EXPERIMENT, units: 8, epochs: 2 } },
];

/** Runs `specs` into `dir` as the sweep command does: claim the folder, read what is there, run the rest, release. */
async function sweepInto(
  dir: string,
  specs: RunSpec[],
  workerPath: string,
  configs = CONFIGS,
  onRecord?: (r: RunRecord, done: number, total: number, resumed: boolean) => void,
) {
  const folder = await SweepFolder.open(dir, configs);
  try {
    const stored = await folder.readRecords();
    return { stored, ...(await runSweep(specs, folder, stored.records, { jobs: 2, backend: 'cpu', workerPath, onRecord })) };
  } finally {
    await folder.release();
  }
}

describe('runSweep', () => {
  const specs = expandRuns(CONFIGS, [1, 2, 3]);

  it('appends every finished run to results.jsonl with its whole configuration, reports a crashed worker as a failed run, and resumes', async () => {
    const dir = tempDir();
    const workerPath = fakeWorker(dir);
    const seen: [string, number, boolean][] = [];
    const { records } = await sweepInto(dir, specs, workerPath, CONFIGS, (r, done, _total, resumed) => void seen.push([r.key, done, resumed]));
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
    const first = JSON.parse(lines[0]) as RunRecord;
    assert.deepEqual(first.config, specs.find((s) => s.key === first.key)!.config, 'every flag-table value is in the record');
    assert.equal(first.seqTagVersion, VERSION);
    assert.match(first.engine, /^fused engine, float32/);

    // Finished runs are skipped; the failed one reruns.
    const again: boolean[] = [];
    const { records: second } = await sweepInto(dir, specs, workerPath, CONFIGS, (_r, _d, _t, resumed) => void again.push(resumed));
    assert.equal(again.filter(Boolean).length, 5, 'five runs resumed from the file');
    assert.equal(second.find((r) => r.label === 'crash' && r.seed === 2)!.status, 'failed', 'the crash happens again');
  });

  it("a worker's answer that is not a whole outcome is recorded as a failed run saying why, never as data", async () => {
    const dir = tempDir();
    const configs = [{ label: 'liar', config: ORIGINAL_EXPERIMENT }];
    const { records } = await sweepInto(dir, expandRuns(configs, [1]), fakeWorker(dir), configs);
    assert.equal(records[0].status, 'failed');
    assert.match(records[0].error!, /the worker's result was refused: not a run outcome \(record: /);
  });

  it('a torn last line is cut off, and bad or repeated lines are moved aside with their line numbers; their runs are done again', async () => {
    const dir = tempDir();
    const workerPath = fakeWorker(dir);
    const file = join(dir, RESULTS_FILE);
    const few = specs.filter((s) => s.label === 'a');
    await sweepInto(dir, few, workerPath);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    // Line 2: only a key (what a forged queue result once became); line 3: run 1 again; then a torn line.
    const keyOnly = JSON.stringify({ key: JSON.parse(lines[1]).key });
    writeFileSync(file, `${lines[0]}\n${keyOnly}\n${lines[0]}\n${lines[2].slice(0, 30)}`);
    const { stored, records } = await sweepInto(dir, few, workerPath);
    assert.equal(stored.tornTail, true);
    assert.deepEqual(
      stored.rejected.map((r) => r.line),
      [2, 3],
    );
    assert.match(stored.rejected[0].why, /^status: /);
    // Workers finish in any order: the repeated line is whichever run line 1 holds.
    assert.equal(stored.rejected[1].why, `a second record of run a · seed ${JSON.parse(lines[0]).seed}`);
    assert.equal(records.length, 3);
    const after = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(after.length, 3, 'one record per run');
    assert.equal(new Set(after.map((l) => JSON.parse(l).key)).size, 3);
    assert.equal(readFileSync(join(dir, REJECTED_FILE), 'utf8'), `${keyOnly}\n${lines[0]}\n`, 'the rejected lines are kept aside, not lost');
    const third = await sweepInto(dir, few, workerPath);
    assert.equal(third.stored.tornTail, false);
    assert.equal(third.stored.rejected.length, 0, 'reported once');
  });

  it("a pool's workers serve one sweep after another (a tune's rounds) and exit when it closes; a dead one is replaced", async () => {
    const workerPath = fakeWorker();
    const sweeps = async (pool?: WorkerPool) => {
      const pids = new Set<number>();
      for (const seeds of [[1, 2], [3], [4, 5, 6]]) {
        const dir = tempDir();
        const folder = await SweepFolder.open(dir, CONFIGS);
        try {
          const { records } = await runSweep(expandRuns(CONFIGS.slice(0, 1), seeds), folder, new Map(), { jobs: 2, backend: 'cpu', workerPath, pool });
          assert.ok(records.every((r) => r.status === 'ok'));
          for (const r of records) pids.add(r.seconds);
        } finally {
          await folder.release();
        }
      }
      return pids;
    };
    assert.equal((await sweeps()).size, 5, 'without a pool: two workers, one, then two, each sweep its own');
    const pool = new WorkerPool();
    const pids = await sweeps(pool);
    assert.equal(pids.size, 2, `with a pool: the same two workers throughout (${[...pids].join(', ')})`);
    // A crash in a pooled sweep fails that run only, and a new worker takes the rest.
    const dir = tempDir();
    const folder = await SweepFolder.open(dir, CONFIGS);
    const crashing = await runSweep(expandRuns(CONFIGS.slice(1), [1, 2, 3]), folder, new Map(), { jobs: 1, backend: 'cpu', workerPath, pool });
    await folder.release();
    assert.deepEqual(
      crashing.records.map((r) => r.status),
      ['ok', 'failed', 'ok'],
    );
    pool.close();
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let wait = 0; [...pids].some(alive) && wait < 100; wait++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual([...pids].filter(alive), [], 'closed: every worker has exited');
  });

  it('run keys change when any setting changes, so a changed sweep does not reuse old runs', () => {
    const [a] = expandRuns([{ label: 'x', config: ORIGINAL_EXPERIMENT }], [1]);
    const [b] = expandRuns([{ label: 'x', config: { ...ORIGINAL_EXPERIMENT, epochs: 3 } }], [1]);
    assert.notEqual(a.key, b.key);
  });
});

describe('seq-tag sweep (spawned)', () => {
  it('runs 2 configs × 2 seeds × 1 epoch: table, results.jsonl, summary and a valid SVG; a rerun resumes', async () => {
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
    const run = await seqTag(args);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /2 configurations × 2 seeds = 4 runs · 2 workers/);
    assert.equal((run.stdout.match(/^\[\d\/4\] /gm) ?? []).length, 4);
    assert.match(run.stdout, /^activation=linear +2 +100% +100% +— /m);
    assert.match(run.stdout, /^activation=softmax +2 +0% +0% +\d\.\d{4} \(/m);
    assert.match(run.stdout, /^activation=linear +diverges \(NaN\) in every run$/m);
    assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').length, 4);
    const svg = readFileSync(join(out, 'loss-curves.svg'), 'utf8');
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\s*$/);
    assert.match(svg, /activation=softmax/);
    assert.match(svg, /no-skill floor 0\.500/);
    assert.ok(existsSync(join(out, 'summary.json')));

    const rerun = await seqTag([...args, '--json']);
    assert.equal(rerun.status, 0, rerun.stderr);
    const doc = JSON.parse(rerun.stdout);
    assert.deepEqual(
      doc.configurations.map((c: { label: string; runs: number }) => [c.label, c.runs]),
      [
        ['activation=linear', 2],
        ['activation=softmax', 2],
      ],
    );
    assert.equal(doc.configurations[0].verdict, 'diverges (NaN) in every run', 'a grid has no baseline: nothing is called a fix');
    assert.deepEqual(doc.configurations[1].config, { ...ORIGINAL_EXPERIMENT, epochs: 1, samples: 64 });
    assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').length, 4, 'nothing ran again');
  });

  it('bad sweeps fail in one line before anything runs', async () => {
    const out = join(tempDir(), 'never');
    for (const [args, pattern] of [
      [['sweep', '--grid', 'colour=red'], /'colour' is not a train flag/],
      [['sweep', '--grid', 'activation='], /empty value/],
      [['sweep'], /say what to sweep/],
      [['sweep', '--answers', '--grid', 'lr=0.1'], /use it or --grid, not both/],
      [['sweep', '--grid', 'lr=0.1', '--seed', '3'], /use --seeds and --first-seed instead of --seed/],
      [['sweep', '--grid', 'lstm=fused,turbo'], /'turbo' is not one of fused, layers/],
    ] as const) {
      const run = await seqTag([...args, '--out', out]);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
      assert.equal(run.stderr.trim().split('\n').length, 1);
      assert.ok(!existsSync(out), 'nothing was created');
    }
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    const run = await seqTag(['sweep', '--grid', 'lr=0.1', '--out', join(file, 'out')]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^seq-tag: cannot use --out .*: .*a-file is a file; choose a folder path\n$/);
  });
});

describe('the verdict rule, on crafted summaries', () => {
  const base = {
    label: 'x',
    probabilisticHead: true,
    runs: 3,
    failed: 0,
    divergedEpoch1: 0,
    divergedAny: 0,
    floor: 0.5004,
    tokenAccuracy: 0.9,
    f1: 0.5,
    secondsPerRun: 1,
  };
  const loss = (median: number) => ({ median, min: median - 0.001, max: median + 0.001 });

  it('"fixes the NaN" only where the baseline had NaN', () => {
    const healthy = { ...base, finalLoss: loss(0.3), exactMatch: 0.5 };
    assert.equal(verdictFor(healthy, true), 'fixes the NaN and learns (exact-match 50.0%)');
    assert.equal(verdictFor(healthy, false), 'no NaN and learns (exact-match 50.0%)');
    assert.equal(verdictFor({ ...healthy, divergedAny: 1 }, false), 'diverges (NaN) in every run');
    assert.equal(verdictFor({ ...healthy, divergedAny: 1 / 3 }, false), 'diverges in 1 of 3 runs');
  });

  it('"learns" needs a loss at least the margin below the floor and exact-match above 0', () => {
    const at = (median: number, exactMatch: number) => verdictFor({ ...base, finalLoss: loss(median), exactMatch }, false);
    assert.equal(at(0.5004 - FLOOR_MARGIN - 0.0001, 0.01), 'no NaN and learns (exact-match 1.0%)');
    assert.equal(at(0.4883, 0.01), 'no NaN, but learns nothing: loss at the floor (predicts the base rate)', 'within the margin');
    assert.equal(at(0.4779, 0), 'no NaN; loss below the floor, but no sequence fully right (exact-match 0.0%)');
    assert.equal(at(0.4779, 0.002), 'no NaN and learns (exact-match 0.2%)');
    assert.equal(at(0.5004 + FLOOR_MARGIN + 0.0001, 0), 'no NaN, but loss still above the floor (not learned yet)');
  });

  it("the table shows the loss range at the median's precision, so the median is never outside it", () => {
    const [s] = summarize(
      [0.49955, 0.4996, 0.49965].map((l, k) => record('r', k + 1, { epochs: epochs(l), evaluation: evaluation(0) })),
      () => 'softmax',
    );
    const row = renderSweepTable([s], 0.5004).split('\n')[2];
    const [, median, min, max] = /(\d\.\d{4}) \((\d\.\d{4})–(\d\.\d{4})\)/.exec(row)!.map(Number);
    assert.ok(min <= median && median <= max, row);
    assert.match(renderSweepTable([s], 0.5004), /"learns": median final loss at least 0\.02 below the floor and exact-match above 0%/);
  });
});
