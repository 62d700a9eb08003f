/**
 * Issue #20, `seq-tag tune`: the TPE sampler and the median rule on synthetic objectives whose
 * optimum is known, the search space's parsing, and the command end to end on tiny budgets: on the
 * local pool, resumed, and through a real Redis queue with a worker process.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Command } from 'commander';
import { addExperimentOptions, configFromFlags, givenOn, type ExperimentFlags } from '../src/cli/options.js';
import { commandLine } from '../src/config/hyperparameters.js';
import { SOLVE_EXPERIMENT, type Config } from '../src/config/config.js';
import { rngFor } from '../src/shared/random.js';
import { medianRule, shouldPrune } from '../src/sweep/pruner.js';
import { parseSpace, type Point } from '../src/tune/space.js';
import { belowCount, normalCdf, Parzen, startupPoints, suggest, TPE, type Observation } from '../src/tune/tpe.js';
import { runKey, type RunRecord, type RunSpec } from '../src/sweep/records.js';
import { tune, type TuneSetup } from '../src/tune/tune.js';
import { sessionOf } from './tfevents-reader.js';
import { estimateCost } from '../src/training/cost.js';
import { validateSpec } from '../src/cli/worker.js';
import { median } from '../src/sweep/sweep.js';
import { killGroup, seqTag, startSeqTag, tempDir, type Run } from './helpers.js';
import { searchPlan } from '../src/cli/tune.js';
import { verdict } from '../src/task/metrics.js';
import { startRedis, until, type RedisServer } from './redis.js';

const prototype = () => addExperimentOptions(new Command());
const SPACE = parseSpace(['lr=1e-4..1e-1:log', 'units=4..128', 'encoding=scalar,onehot'], prototype());

/** A known function of the space: 0 at lr = 10^-2.5, units = 64, one-hot; each term ≥ 0. */
function bowl(p: Point): number {
  return (Math.log10(p.lr as number) + 2.5) ** 2 + (((p.units as number) - 64) / 64) ** 2 + (p.encoding === 'onehot' ? 0 : 1);
}

function search(seed: number, trials: number, sampler: 'tpe' | 'random'): number {
  const history: Observation[] = [];
  for (let n = 1; n <= trials; n++) {
    // Random search is TPE kept in its start-up phase: the history it is shown is always short.
    const point = suggest(SPACE, sampler === 'tpe' ? history : [], rngFor(seed, `trial-${n}`));
    history.push({ point, value: bowl(point) });
  }
  return Math.min(...history.map((h) => h.value));
}

describe('TPE', () => {
  it('on a known bowl, beats random search with the same budget, seed after seed (Bergstra et al. 2011, fig. 4)', () => {
    const seeds = Array.from({ length: 20 }, (_, k) => k + 1);
    const tpe = seeds.map((s) => search(s, 60, 'tpe'));
    const random = seeds.map((s) => search(s, 60, 'random'));
    assert.ok(median(tpe) < median(random) / 3, `median best: TPE ${median(tpe)}, random ${median(random)}`);
    assert.ok(tpe.filter((v, k) => v < random[k]).length >= 15, 'TPE better in at least 15 of 20 seeds');
    assert.ok(median(tpe) < 0.05, `TPE's median best ${median(tpe)} is near the optimum 0`);
  });

  it('starts from a Latin hypercube: one point in each tenth of every range, each listed value equally often', () => {
    for (const seed of [1, 2, 3]) {
      const points = startupPoints(SPACE, rngFor(seed, 'tune-startup'));
      assert.equal(points.length, 10);
      const strata = points.map((p) => Math.floor(((Math.log10(p.lr as number) + 4) / 3) * 10)).sort((a, b) => a - b);
      assert.deepEqual(strata, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], `lr strata, seed ${seed}`);
      assert.equal(points.filter((p) => p.encoding === 'onehot').length, 5);
    }
    // Two on/off lists: every combination appears in nearly every start (independent draws miss one in 1 of 18).
    const dims = parseSpace(['bidirectional=on,off', 'encoding=scalar,onehot'], prototype());
    const missing = Array.from({ length: 200 }, (_, s) => startupPoints(dims, rngFor(s, 'tune-startup'))).filter(
      (points) => !points.some((p) => p.bidirectional === true && p.encoding === 'onehot'),
    ).length;
    assert.ok(missing <= 3, `${missing} of 200 starts without bidirectional one-hot`);
  });

  it('proposes only values the flags accept: in range, whole numbers for --units, listed words', () => {
    const history: Observation[] = [];
    for (let n = 1; n <= 40; n++) {
      const p = suggest(SPACE, history, rngFor(3, `t${n}`));
      assert.ok((p.lr as number) >= 1e-4 && (p.lr as number) <= 1e-1, `lr ${p.lr}`);
      assert.ok(Number.isInteger(p.units) && (p.units as number) >= 4 && (p.units as number) <= 128, `units ${p.units}`);
      assert.ok(['scalar', 'onehot'].includes(p.encoding as string));
      assert.equal(Number((p.lr as number).toPrecision(4)), p.lr, 'four significant digits, as the command shows it');
      history.push({ point: p, value: bowl(p) });
    }
  });

  it('splits the best γ(n) = min(⌈0.1 n⌉, 25) from the rest, as Optuna does', () => {
    assert.deepEqual([10, 11, 40, 250, 251, 1000].map(belowCount), [1, 2, 4, 25, 25, 25]);
    assert.equal(TPE.startup, 10);
  });

  it('its Parzen estimator is a density on its range (integrates to 1) and peaks at its points', () => {
    const p = new Parzen([0.2, 0.25, 0.9], 0, 1);
    let integral = 0;
    for (let x = 0.0005; x < 1; x += 0.001) integral += Math.exp(p.logDensity(x)) * 0.001;
    assert.ok(Math.abs(integral - 1) < 0.01, `integral ${integral}`);
    assert.ok(p.logDensity(0.22) > p.logDensity(0.6));
    assert.ok(Math.abs(normalCdf(1.96) - 0.975) < 1e-4 && Math.abs(normalCdf(-1) - 0.158655) < 1e-4);
    const rng = rngFor(1, 'parzen');
    for (let k = 0; k < 200; k++) {
      const x = p.sample(rng);
      assert.ok(x >= 0 && x <= 1);
    }
  });
});

/** A record with validation losses per epoch. */
function recordWith(losses: number[], epochs = losses.length, status: RunRecord['status'] = 'ok'): RunRecord {
  return {
    status,
    epochs: losses.map((loss, k) => ({ epoch: k + 1, loss, seconds: 0, validation: { loss, tokenAccuracy: 0, exactMatch: 0 } })),
    seconds: 0,
    key: '',
    label: '',
    seed: 1,
    config: { epochs } as Config,
    seqTagVersion: '',
    engine: '',
  };
}

describe('the search loop', () => {
  /** Runs no training: each trial's validation loss is a known function of its point. */
  function fakeRun(rounds: RunSpec[][]) {
    return async (specs: RunSpec[]) => {
      rounds.push(specs);
      const records = specs.map((spec) => ({
        ...recordWith([0.9, 0.5 + Math.abs(Math.log10(spec.config.lr) + 2.5)]),
        key: spec.key,
        label: spec.label,
        config: spec.config,
      }));
      return { records, interrupted: false };
    };
  }
  const setup: TuneSetup = {
    base: { ...SOLVE_EXPERIMENT, epochs: 2, validationSplit: 0.2 },
    seed: 5,
    dims: parseSpace(['lr=1e-4..1e-1:log', 'units=4..128'], prototype()),
    trials: 15,
    warmup: 1,
    parallel: 2,
  };

  it('runs the ten start-up points as one round, shortest first, then rounds of --jobs trials, each with the median rule once five completed', async () => {
    const rounds: RunSpec[][] = [];
    const { trials } = await tune(setup, [], { run: fakeRun(rounds) });
    assert.deepEqual(
      rounds.map((r) => r.length),
      [10, 2, 2, 1],
    );
    const costs = rounds[0].map((s) => estimateCost(s.config).seconds);
    assert.deepEqual(
      costs,
      [...costs].sort((a, b) => a - b),
      'shortest first',
    );
    assert.ok(rounds[0].every((s) => !s.prune) && rounds.slice(1).every((r) => r.every((s) => s.prune?.warmup === 1)));
    assert.deepEqual(
      trials.map((t) => t.number),
      Array.from({ length: 15 }, (_, k) => k + 1),
    );
    assert.ok(trials.every((t) => t.record.config.seed === 5 && t.record.config.epochs === 2));
  });

  it('stops, with the first reason, when every run of a round failed (it would loop forever); a round with one run left goes on', async () => {
    let calls = 0;
    const failing = async (specs: RunSpec[]) => {
      calls++;
      const records = specs.map((spec) => ({
        ...recordWith([], 0, 'failed'),
        key: spec.key,
        label: spec.label,
        config: spec.config,
        error: `bad data ${calls}`,
      }));
      return { records, interrupted: false };
    };
    const all = await tune(setup, [], { run: failing });
    assert.equal(calls, 1);
    assert.deepEqual([all.trials.length, all.interrupted, all.failed], [0, false, 'bad data 1']);
    // One run of each round failing (a worker crash) is left out and the search goes on to its budget.
    const rounds: RunSpec[][] = [];
    const ok = fakeRun(rounds);
    const some = await tune(setup, [], {
      run: async (specs) => {
        const result = await ok(specs);
        return { ...result, records: result.records.map((r, k) => (k === 0 && specs.length > 1 ? { ...r, status: 'failed' as const, error: 'crash' } : r)) };
      },
    });
    assert.equal(some.failed, undefined);
    assert.equal(some.trials.length, setup.trials);
  });

  it('goes on from the trials it is given, with the same start-up points', async () => {
    const first: RunSpec[][] = [];
    const whole = await tune({ ...setup, trials: 12 }, [], { run: fakeRun(first) });
    const again: RunSpec[][] = [];
    const resumed = await tune({ ...setup, trials: 12 }, whole.trials.slice(0, 4), { run: fakeRun(again) });
    assert.deepEqual(
      again.map((r) => r.length),
      [6, 2],
    );
    assert.deepEqual(
      resumed.trials.slice(0, 10).map((t) => t.point),
      whole.trials.slice(0, 10).map((t) => t.point),
    );
  });

  it('interrupted inside its first round (trials 3 and 6 missing, shortest first), goes on with those start-up points, not new ones (issue #31)', async () => {
    const whole = await tune({ ...setup, trials: 12 }, [], { run: fakeRun([]) });
    const again: RunSpec[][] = [];
    const kept = whole.trials.filter((t) => t.number !== 3 && t.number !== 6 && t.number <= 10);
    const resumed = await tune({ ...setup, trials: 12 }, kept, { run: fakeRun(again) });
    assert.deepEqual(again[0].map((s) => s.label).sort(), ['trial 3', 'trial 6']);
    const byNumber = (trials: typeof whole.trials) => [...trials].sort((a, b) => a.number - b.number).map((t) => [t.number, t.point]);
    assert.deepEqual(byNumber(resumed.trials).slice(0, 10), byNumber(whole.trials).slice(0, 10));
  });

  it('passes its --minutes deadline to every round, the first included', async () => {
    const deadlines: number[] = [];
    const run = fakeRun([]);
    const before = performance.now();
    await tune({ ...setup, trials: 12, minutes: 0.5 }, [], { run: (specs, startBy) => (deadlines.push(startBy), run(specs)) });
    assert.equal(deadlines.length, 2);
    assert.ok(deadlines.every((d) => d >= before + 30_000 && d <= performance.now() + 30_000));
    await tune({ ...setup, trials: 11 }, [], { run: (specs, startBy) => (deadlines.push(startBy), run(specs)) });
    assert.equal(deadlines.at(-1), Infinity);
  });

  it('--goal: a round in which a trial reaches the held-out exact-match ends the search, not as an interruption; given trials that reached it start none', async () => {
    const rounds: RunSpec[][] = [];
    // Trial 13's held-out exact-match is the first to reach 0.9; the pool leaves out what it had not started.
    const run = async (specs: RunSpec[]) => {
      rounds.push(specs);
      const records = specs
        .filter((spec) => spec.label !== 'trial 14')
        .map((spec) => ({
          ...recordWith([0.9, 0.5]),
          key: spec.key,
          label: spec.label,
          config: spec.config,
          evaluation: { exactMatch: spec.label === 'trial 13' ? 0.95 : 0.5 },
        }));
      return { records: records as RunRecord[], interrupted: specs.some((s) => s.label === 'trial 14') };
    };
    const result = await tune({ ...setup, trials: 30, goal: 0.9 }, [], { run });
    assert.deepEqual([result.goalReached, result.interrupted], [true, false]);
    assert.deepEqual(
      rounds.map((r) => r.length),
      [10, 2, 2],
    );
    assert.equal(result.trials.length, 13);
    const again: RunSpec[][] = [];
    const rerun = await tune({ ...setup, trials: 30, goal: 0.9 }, result.trials, { run: fakeRun(again) });
    assert.deepEqual([again.length, rerun.goalReached], [0, true]);
    const higher = await tune({ ...setup, trials: 16, goal: 0.99 }, result.trials, { run: fakeRun(again) });
    assert.deepEqual([again.length > 0, higher.goalReached], [true, false]);
  });
});

describe('the median rule', () => {
  it('waits for 5 completed trials, then stops a trial worse than the median at the same epoch, never in the warm-up', () => {
    const done = [0.5, 0.4, 0.3, 0.2, 0.1].map((v) => recordWith([v + 0.3, v + 0.2, v]));
    assert.equal(medianRule(done.slice(0, 4), 3, 1), undefined);
    assert.equal(medianRule([...done.slice(0, 4), recordWith([0.1, 0.1], 3, 'pruned')], 3, 1), undefined, 'pruned trials do not count');
    const rule = medianRule(done, 3, 1)!;
    assert.deepEqual(rule, { warmup: 1, thresholds: [0.6, 0.5, 0.3] });
    assert.equal(shouldPrune(rule, 1, 9), false, 'warm-up');
    assert.equal(shouldPrune(rule, 2, 0.51), true);
    assert.equal(shouldPrune(rule, 2, 0.5), false, 'at the median is not worse');
    assert.equal(shouldPrune(rule, 3, NaN), true);
  });

  it('on synthetic learning curves, stops the trials that end worse than the median and keeps those that end better', () => {
    // Curves loss = final + 1/epoch: their order never changes, so the rule must keep the better half only.
    const curve = (final: number) => Array.from({ length: 8 }, (_, k) => final + 1 / (k + 1));
    const done = [0.1, 0.2, 0.3, 0.4, 0.5].map((f) => recordWith(curve(f)));
    const rule = medianRule(done, 8, 2)!;
    const stoppedAt = (final: number) => curve(final).findIndex((loss, k) => shouldPrune(rule, k + 1, loss)) + 1;
    assert.deepEqual([0.05, 0.25, 0.3, 0.35, 0.9].map(stoppedAt), [0, 0, 0, 3, 3]);
  });
});

describe('a trial on the queue', () => {
  it('is accepted with its median rule, and refused with a malformed one', () => {
    const config = { ...SOLVE_EXPERIMENT, validationSplit: 0.2, seed: 3 } as Config;
    const spec = { key: runKey('trial 11', config), label: 'trial 11', seed: 3, config, prune: { warmup: 3, thresholds: [0.5, 0.4, Infinity] } };
    assert.deepEqual(validateSpec(spec).prune, spec.prune);
    assert.throws(() => validateSpec({ ...spec, prune: { warmup: -1, thresholds: [] } }), /prune\.warmup/);
    assert.throws(() => validateSpec({ ...spec, prune: { warmup: 1, thresholds: ['x'] } }), /prune\.thresholds/);
    assert.throws(() => validateSpec({ ...spec, prune: { warmup: 1, thresholds: [], run: 'rm -rf /' } }), /prune/);
  });
});

describe('--space', () => {
  it('reads ranges (log, whole numbers) and lists, each value checked by its flag', () => {
    const dims = parseSpace(['lr=1e-4..3e-2:log', 'units=8..128', 'bidirectional=on,off', 'encoding=scalar,onehot', 'lr-factor=0.1..0.9'], prototype());
    assert.deepEqual(
      dims.map((d) => (d.kind === 'range' ? [d.attribute, d.low, d.high, d.log, d.integer] : [d.attribute, d.choices.map((c) => c.value)])),
      [
        ['lr', 1e-4, 3e-2, true, false],
        ['units', 8, 128, false, true],
        ['bidirectional', [true, false]],
        ['encoding', ['scalar', 'onehot']],
        ['lrFactor', 0.1, 0.9, false, false],
      ],
    );
  });

  it('refuses, in words, what is not a search', () => {
    const refused: [string[], RegExp][] = [
      [['units=128..8'], /from low to high/],
      [['lr=0..1:log'], /--lr|above 0/],
      [['units=4'], /one value is not a search/],
      [['encoding=scalar..onehot'], /takes words, not a range/],
      [['units=4..5000'], /invalid for --units/],
      [['colour=1..2'], /not a train flag/],
      [['units=4..8', 'units=8..16'], /given twice/],
      [[], /say what to search/],
    ];
    for (const [specs, why] of refused) assert.throws(() => parseSpace(specs, prototype()), why, specs.join(' '));
  });

  it('names --space and quotes what the user typed, never a --grid of its own making (issue #31)', () => {
    const said: [string, RegExp][] = [
      ['lr=0..1e-2:log', /^--space lr=0\.\.1e-2:log: '0' is invalid for --lr: /],
      ['units=4..5000', /^--space units=4\.\.5000: '5000' is invalid for --units/],
      ['colour=1..2', /^--space colour=1\.\.2: 'colour' is not a train flag/],
      ['colour=a,b', /^--space colour=a,b: 'colour' is not a train flag/],
      ['encoding=scalar,morse', /^--space encoding=scalar,morse: 'morse' is not one of/],
      [
        'no-bidirectional=on,off',
        /^--space no-bidirectional=on,off: a search space names switches by their positive name, with on\/off values; use --space bidirectional=off,on$/,
      ],
      ['lr', /^--space lr: expected flag=value1,value2 \(e\.g\. --space activation=linear,softmax\)$/],
    ];
    for (const [spec, pattern] of said)
      assert.throws(
        () => parseSpace([spec], prototype()),
        (err: Error) => pattern.test(err.message) && !err.message.includes('--grid'),
        spec,
      );
  });
});

describe('the best trial as a command', () => {
  it('reads back as the same config', () => {
    const configs: Config[] = [
      { ...SOLVE_EXPERIMENT, seed: 4, units: 28, lr: 0.02921, validationSplit: 0.2 },
      { ...SOLVE_EXPERIMENT, seed: 0, bidirectional: false, optimizer: 'sgd', lr: 0.01, nanGuard: false, clipnorm: 1 },
    ];
    for (const config of configs) {
      const cmd = prototype();
      cmd.parse(commandLine(config).split(' ').slice(2), { from: 'user' });
      assert.deepEqual(configFromFlags(cmd.opts() as ExperimentFlags, givenOn(cmd)), config);
    }
  });
});

const TINY = [
  '--samples',
  '300',
  '--epochs',
  '4',
  '--encoding',
  'onehot',
  '--seed',
  '2',
  '--backend',
  'cpu',
  '--space',
  'lr=1e-3..5e-2:log',
  '--space',
  'bidirectional=on,off',
];

function jsonOf(run: Run) {
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

describe('seq-tag tune', () => {
  it('--minutes holds from the first trial: a budget shorter than one trial starts only the first --jobs trials of the first round (issue #31)', async () => {
    const out = join(tempDir(), 'tune');
    const doc = jsonOf(await seqTag(['tune', ...TINY, '--trials', '10', '--jobs', '2', '--minutes', '0.002', '--out', out, '--json']));
    // Each worker is sent its first trial as it starts; the next would start after a whole trial, past the budget.
    assert.equal(doc.trials.length, 2, JSON.stringify(doc.trials.map((t: { trial: number }) => t.trial)));
  });

  it('runs its trials (random, then TPE with pruning), prints the leaderboard and a command that trains the best trial again exactly', async () => {
    const out = join(tempDir(), 'tune');
    const text = await seqTag(['tune', ...TINY, '--trials', '14', '--jobs', '2', '--out', out]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(
      text.stdout,
      /^seq-tag [\d.]+ tune · 2 dimensions · 14 trials · TPE after a 10-point Latin hypercube · median rule after 5 completed trials, from epoch 2 · 2 workers · seed 2/,
    );
    assert.match(text.stdout, /\n# {2}trial +configuration +val loss +val exact +held-out exact +held-out token\n1 {2}trial \d+/);
    const records = readFileSync(join(out, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => r.label).sort(), Array.from({ length: 14 }, (_, k) => `trial ${k + 1}`).sort());
    const summary = JSON.parse(readFileSync(join(out, 'tune.json'), 'utf8'));
    assert.equal(summary.trials.length, 14);
    assert.match(readFileSync(join(out, 'tune.svg'), 'utf8'), /<\/svg>\s*$/);
    const best = summary.best;
    const finite = summary.trials.filter((t: { validationLoss: number | null }) => t.validationLoss !== null);
    assert.equal(best.validationLoss, Math.min(...finite.map((t: { validationLoss: number }) => t.validationLoss)));
    assert.match(text.stdout, new RegExp(`\\nrun it: ${best.command.replace(/[.]/g, '\\.')}\\n`));
    // The printed command is the trial itself: the same validation losses and held-out scores.
    const again = jsonOf(await seqTag([...best.command.split(' ').slice(1), '--model-dir', join(tempDir(), 'm'), '--backend', 'cpu', '--json']));
    const trial = records.find((r) => r.label === `trial ${best.trial}`);
    assert.deepEqual(
      again.epochs.map((e: { validation: unknown }) => e.validation),
      trial.epochs.map((e: { validation: unknown }) => e.validation),
    );
    assert.deepEqual(again.evaluation, trial.evaluation);
  });

  it('run again with a larger budget, goes on from the trials it has (and logs only the new ones); another space in the same folder is refused', async () => {
    const [out, logdir] = [join(tempDir(), 'tune'), join(tempDir(), 'logs')];
    const first = jsonOf(await seqTag(['tune', ...TINY, '--trials', '3', '--jobs', '2', '--out', out, '--json', '--logdir', logdir]));
    assert.equal(first.trials.length, 3);
    const second = await seqTag(['tune', ...TINY, '--trials', '5', '--jobs', '2', '--out', out, '--logdir', logdir]);
    assert.match(second.stdout, /resuming: 3 trials already in /);
    const records = readFileSync(join(out, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RunRecord);
    assert.deepEqual(records.map((r) => r.label).sort(), ['trial 1', 'trial 2', 'trial 3', 'trial 4', 'trial 5']);
    // TensorBoard: each trial once, its HParams session holding the point TPE chose.
    assert.deepEqual(readdirSync(logdir).sort(), ['trial_1', 'trial_2', 'trial_3', 'trial_4', 'trial_5']);
    for (const record of records) {
      const run = join(logdir, record.label.replace(' ', '_'), 'seed-2');
      const { hparams, group } = sessionOf(run);
      assert.deepEqual([hparams.lr, hparams.bidirectional, group], [record.config.lr, record.config.bidirectional, record.label]);
      assert.equal(readdirSync(join(run, 'train')).length, 1, `${record.label}: logged once`);
    }
    const other = await seqTag(['tune', ...TINY, '--space', 'units=4..8', '--trials', '5', '--out', out]);
    assert.equal(other.status, 1);
    assert.match(other.stderr, /holds another sweep/);
  });

  it("the header promises only what the budget runs; the best trial carries evaluate's verdict (issue #32)", async () => {
    assert.equal(searchPlan(14, 1), 'TPE after a 10-point Latin hypercube · median rule after 5 completed trials, from epoch 2');
    assert.equal(
      searchPlan(8, 1),
      'an 8-point Latin hypercube only (TPE starts after 10 trials: --trials 11 or more) · median rule after 5 completed trials, from epoch 2',
    );
    assert.match(searchPlan(3, 1), / · no pruning \(the median rule starts after 5 completed trials\)$/);
    const out = join(tempDir(), 'tune');
    const text = await seqTag(['tune', ...TINY, '--trials', '2', '--jobs', '2', '--out', out]);
    assert.match(text.stdout.replace(/\n/g, ' '), /· 2 trials · a 2-point Latin hypercube only \(TPE starts after 10 trials/);
    const best = JSON.parse(readFileSync(join(out, 'tune.json'), 'utf8')).best;
    assert.equal(best.verdict, verdict(best.heldOut));
    assert.match(text.stdout.replace(/\n/g, ' '), new RegExp(`verdict \\(held-out\\): ${best.verdict.slice(0, 30).replace(/[.()]/g, '\\$&')}`));
  });

  it('--goal: no trial starts once one reached the held-out exact-match; said, and in --json and tune.json', async () => {
    const dir = tempDir();
    const file = join(dir, 't.txt');
    writeFileSync(file, 'The/DT dog/NN barks/VBZ ./.\nA/DT cat/NN sleeps/VBZ ./.\nThe/DT cat/NN barks/VBZ ./.\n'.repeat(10));
    const text = ['--data', file, '--validation-data', file, '--test-data', file, '--units', '8', '--embedding-dim', '8', '--epochs', '30'];
    const args = ['tune', ...text, '--space', 'lr=0.02..0.1:log', '--trials', '12', '--jobs', '2', '--seed', '1', '--goal', '0.9', '--out', join(dir, 'tune')];
    const shown = await seqTag(args);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /· 12 trials or held-out exact-match 90\.0% ·/);
    assert.match(shown.stdout, /goal reached: trial \d+'s held-out exact-match 100\.0% ≥ 90\.0%; no trial started after it \(\d+ trials of --trials 12\)/);
    const doc = jsonOf(await seqTag([...args, '--json']));
    assert.deepEqual([doc.goal, doc.goalReached], [0.9, true]);
    assert.ok(doc.trials.length < 12, `${doc.trials.length} trials`);
    assert.equal(doc.trials.filter((t: { finishedAt: number | null }) => t.finishedAt !== null).length, 0, 'run again: the goal was reached, nothing new ran');
    for (const goal of ['0', '1.5', 'x']) {
      const run = await seqTag(['tune', '--space', 'lr=1e-3..1e-2', '--goal', goal, '--out', join(dir, 'g')]);
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /--goal.*expected a fraction above 0 and at most 1/);
    }
  });

  it('refuses in one line what it cannot search', async () => {
    for (const [args, why] of [
      [['--space', 'epochs=2..9'], /tune keeps --epochs fixed for every trial/],
      [['--space', 'lr=1e-3..1e-2', '--validation-split', '0'], /--validation-split 0: tune compares trials by their validation loss/],
      [['--space', 'lr=1e-3'], /one value is not a search/],
      [['--trials', '0', '--space', 'lr=1e-3..1e-2'], /--trials/],
    ] as [string[], RegExp][]) {
      const run = await seqTag(['tune', ...args, '--out', join(tempDir(), 't')]);
      assert.equal(run.status, 2, run.stderr);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, why);
    }
  });
});

describe('seq-tag tune --queue over a real Redis', () => {
  let redis: RedisServer;
  const processes: ChildProcess[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const p of processes) if (p.exitCode === null) killGroup(p);
    await redis.stop();
  });

  it('a worker process on the queue runs the trials; each is recorded once, with the results the local pool gives', async () => {
    // 12 trials: the last two are sent with the median rule (a queue worker must accept and apply it).
    const local = jsonOf(await seqTag(['tune', ...TINY, '--trials', '12', '--jobs', '2', '--out', join(tempDir(), 'l'), '--json']));
    const worker = startSeqTag(['worker', '--queue', redis.url, '--backend', 'cpu', '--jobs', '2']);
    processes.push(worker.child);
    await until('worker ready', () => worker.out().includes('worker ·'));
    const out = join(tempDir(), 'q');
    const queued = jsonOf(await seqTag(['tune', ...TINY, '--trials', '12', '--queue', redis.url, '--out', out, '--json']));
    const strip = (s: typeof local) => s.trials.map((t: { seconds: number; finishedAt: number }) => ({ ...t, seconds: 0, finishedAt: 0 }));
    assert.deepEqual(strip(queued), strip(local));
    assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').length, 12);
    assert.ok(existsSync(join(out, 'tune.json')));
  });
});
