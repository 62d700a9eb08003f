import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import type { Redis } from 'ioredis';
import { describeFsError, ExitCode, UserError } from '../errors.js';
import { toJson, plural, thousands } from '../report/render.js';
import { renderLeaderboard, renderTrial, tuneChartSvg } from '../report/tune.js';
import { SweepFolder } from '../sweep/folder.js';
import { redactUrl } from '../sweep/queue-settings.js';
import { runSweep, WorkerPool } from '../sweep/sweep.js';
import { useKernels } from '../training/fused/wasm/instance.js';
import type { RunRecord } from '../sweep/records.js';
import { MEDIAN_RULE } from '../sweep/pruner.js';
import { describePoint, parseSpace } from '../tune/space.js';
import { verdict } from '../task/metrics.js';
import { TPE } from '../tune/tpe.js';
import { bestTrial, reachesGoal, trialOf, trialsFrom, tune, type Trial, type TuneSetup } from '../tune/tune.js';
import { VERSION } from '../version.js';
import { openRunLog } from './logdir.js';
import { commandLine, parserOf, positiveNumber, share, wholeNumber } from './flags.js';
import { refuseJobsWithQueue, withSweepFolder } from './sweep.js';
import {
  addBackendOption,
  addExperimentOptions,
  addJsonOption,
  affordable,
  configFromFlags,
  givenOn,
  type BackendFlag,
  type ExperimentFlags,
  addTextDataOptions,
  readTextOfFlags,
  type TextDataFlags,
} from './options.js';
import { checkCombination, type Config, type DataSpec } from '../config/config.js';
import { HELD_OUT_SIZE } from '../training/experiment.js';
import { ExitCode as Exit, onStop, printJson, signalExitCode, signalName, stderr, stdout, setExitCode } from './output.js';

interface TuneFlags extends ExperimentFlags, BackendFlag, TextDataFlags {
  space: string[];
  trials: number;
  minutes?: number;
  goal?: number;
  warmup?: number;
  jobs: number;
  out: string;
  queue?: string;
  json?: boolean;
  logdir?: string;
}

export const TUNE_FILE = 'tune.json';
export const TUNE_CHART = 'tune.svg';
/** The share held out to score trials when the flags hold none: a tune needs a validation loss. */
const DEFAULT_SPLIT = 0.2;
/** Flags a search cannot vary: they change what the validation loss is measured on, or how long a trial is. */
const FIXED = new Set(['seed', 'epochs', 'samples', 'validation-split']);

export function tuneCommand(): Command {
  const cmd = new Command('tune').description(
    'search the train flags for the configuration with the lowest validation loss: TPE sampling, median-rule pruning, on the local workers or a queue',
  );
  addExperimentOptions(cmd);
  addTextDataOptions(cmd);
  addBackendOption(cmd);
  cmd
    .option(
      '--space <flag=range>',
      'a train flag and where to search it: lo..hi (add :log for a log scale) or a list a,b,c (on,off for a switch); repeat for more (e.g. --space lr=1e-4..3e-2:log --space bidirectional=on,off)',
      (v: string, all: string[]) => [...all, ...v.split(/\s+/).filter(Boolean)],
      [] as string[],
    )
    .option('--trials <n>', 'trials to run at most', parserOf(wholeNumber(1, 10_000)), 40)
    .option(
      '--minutes <m>',
      'start no trial after this many minutes, from the first (the running ones finish; with --queue, checked between rounds)',
      parserOf(positiveNumber),
    )
    .option(
      '--goal <fraction>',
      'start no trial once one has reached this held-out exact-match, e.g. 0.98 (the running ones finish; with --queue, checked between rounds)',
      parserOf(share),
    )
    .option('--warmup <epochs>', 'epochs before a trial can be pruned (default: a quarter of --epochs)', parserOf(wholeNumber(0, 100_000)))
    .addOption(
      new Option('--jobs <n>', 'trials at a time, each in its own worker process')
        .argParser(parserOf(wholeNumber(1, 64)))
        .default(availableParallelism(), 'one per core'),
    )
    .option('--out <dir>', 'folder for results.jsonl (one record per trial), tune.json and tune.svg', './tune-results')
    .option('--queue <url>', 'run the trials through this Redis for `seq-tag worker`s on any machine, instead of local workers');
  cmd.option('--logdir <dir>', 'also write each trial to TensorBoard: <dir>/<trial>/seed-<n>/{train,validation,held-out}, its flags for the HParams dashboard');
  addJsonOption(cmd, 'the trials and the best configuration');
  cmd.action((flags: TuneFlags) => runTuneCommand(flags, cmd));
  return cmd;
}

/** The tune's setup from the flags: the base config (with a validation split), the space, the budget. */
function setupFrom(flags: TuneFlags, cmd: Command, data?: DataSpec): TuneSetup {
  const given = givenOn(cmd);
  const dims = parseSpace(flags.space, addExperimentOptions(new Command()));
  const fixed = dims.find((d) => FIXED.has(d.flag));
  if (fixed)
    throw new UserError(
      `--space ${fixed.flag}: tune keeps --${fixed.flag} fixed for every trial (it sets what the trials are compared on); give it as a flag`,
      ExitCode.Usage,
    );
  refuseJobsWithQueue(flags, cmd);
  // A --validation-data file is the validation set; otherwise a share of the training data is held out.
  const split = given('validationSplit') ? flags.validationSplit : data?.validation ? 0 : DEFAULT_SPLIT;
  const { seed, ...base } = configFromFlags({ ...flags, validationSplit: split }, (key) => key === 'validationSplit' || given(key), data);
  if (split === 0 && !data?.validation)
    throw new UserError('--validation-split 0: tune compares trials by their validation loss; hold out a share, e.g. 0.2', ExitCode.Usage);
  // Each listed value must make a valid run with the base (--space encoding=scalar on text would fail every such trial).
  for (const d of dims)
    if (d.kind === 'choice')
      for (const c of d.choices) {
        try {
          checkCombination({ ...base, [d.attribute]: c.value });
        } catch (err) {
          if (err instanceof UserError) throw new UserError(`--space ${d.flag}=${c.text}: ${err.message}`, ExitCode.Usage);
          throw err;
        }
      }
  const warmup = flags.warmup ?? Math.floor(base.epochs / 4);
  return {
    base,
    seed,
    dims,
    trials: flags.trials,
    minutes: flags.minutes,
    goal: flags.goal,
    warmup,
    parallel: flags.queue ? Math.max(2, flags.jobs) : flags.jobs,
  };
}

async function runTuneCommand(flags: TuneFlags, cmd: Command): Promise<void> {
  // Its workers are handed the choice with each run (sweep.ts, queue.ts).
  useKernels(flags.kernels);
  const text = await readTextOfFlags(flags);
  const setup = setupFrom(flags, cmd, text?.spec);
  if (!text) affordable({ ...setup.base }, flags.queue ? 1 : flags.jobs);
  const identity = `tune ${setup.dims.map((d) => (d.kind === 'range' ? `${d.flag}=${d.low}..${d.high}${d.log ? ':log' : ''}` : `${d.flag}=${d.choices.map((c) => c.text).join(',')}`)).join(' ')} · seed ${setup.seed}`;
  await withSweepFolder(flags.out, [{ label: identity, config: setup.base }], flags.queue, (folder, connection) => tuneInto(flags, setup, folder, connection));
}

/** How the trials are chosen and pruned, for the header: only what this many trials will run. */
export function searchPlan(trials: number, warmup: number): string {
  const sampler =
    trials > TPE.startup
      ? `TPE after a ${TPE.startup}-point Latin hypercube`
      : `${trials === 8 ? 'an' : 'a'} ${trials}-point Latin hypercube only (TPE starts after ${TPE.startup} trials: --trials ${TPE.startup + 1} or more)`;
  const pruner =
    trials > MEDIAN_RULE.startup
      ? `median rule after ${MEDIAN_RULE.startup} completed trials, from epoch ${warmup + 1}`
      : `no pruning (the median rule starts after ${MEDIAN_RULE.startup} completed trials)`;
  return `${sampler} · ${pruner}`;
}

async function tuneInto(flags: TuneFlags, setup: TuneSetup, folder: SweepFolder, connection: Redis | undefined): Promise<void> {
  const out = stdout();
  const style = out.style;
  const say = (text: string) => (flags.json ? stderr().line(text) : out.line(text));
  // Before anything is printed: an unusable --logdir is the one line said.
  const log = await openRunLog(flags.logdir);
  const stored = await folder.readRecords();
  const done = trialsFrom(stored.records, setup.dims);
  const started = performance.now();
  const workers = flags.queue ? `queue ${redactUrl(flags.queue)}` : plural(flags.jobs, 'worker');
  const goal = setup.goal === undefined ? '' : ` or held-out exact-match ${(100 * setup.goal).toFixed(1)}%`;
  const budget = `${plural(setup.trials, 'trial')}${setup.minutes ? ` or ${setup.minutes} min` : ''}${goal}`;
  say(
    `seq-tag ${VERSION} tune · ${plural(setup.dims.length, 'dimension')} · ${budget} · ${searchPlan(setup.trials, setup.warmup)} · ${workers} · seed ${setup.seed} · results in ${flags.out}`,
  );
  say(`base: ${commandLine({ ...setup.base, seed: setup.seed })}`);
  if (done.length) say(`resuming: ${plural(done.length, 'trial')} already in ${folder.resultsPath}`);
  say('');
  const stop = onStop();
  const finishTimes = new Map<string, number>();
  // A trial that reaches the --goal: no more start (the local pool asks before each run).
  let goalHit = done.some((t) => reachesGoal(t.record, setup.goal));
  // Each trial is shown as it ends; the leaderboard after every ten.
  const onRecord = (record: RunRecord) => {
    goalHit ||= reachesGoal(record, setup.goal);
    log(record);
    finishTimes.set(record.key, (performance.now() - started) / 1000);
    const trial = trialOf(record, setup.dims);
    if (trial && record.status !== 'failed') say(renderTrial(trial, setup.dims, style));
    else if (record.status === 'failed') say(`${record.label}: failed: ${record.error}`);
  };
  const common = { signal: stop.signal, onRecord };
  // The local workers stay up from round to round.
  const pool = new WorkerPool();
  let shown = done.length;
  let rounds = 0;
  const { trials, interrupted, failed } = await tune(setup, done, {
    signal: stop.signal,
    finishTimes,
    run: async (specs, startBy) => {
      const startNoLater = () => (goalHit ? -Infinity : startBy);
      if (!connection)
        return runSweep(specs, folder, new Map(), { ...common, jobs: Math.min(flags.jobs, specs.length), backend: flags.backend, startBy: startNoLater, pool });
      // A queue sweep closes its connection when it ends: each round after the first connects anew.
      const { connectRedis, runQueueSweep } = await import('../sweep/queue.js');
      const link = rounds++ === 0 ? connection : await connectRedis(flags.queue!);
      return runQueueSweep(specs, folder, new Map(), link, { ...common, url: flags.queue!, onNotice: (t) => stderr().line(`seq-tag: ${t}`) });
    },
    onRound: (all) => {
      if (Math.floor(all.length / 10) > Math.floor(shown / 10) && all.length < setup.trials)
        say(`\n${renderLeaderboard(all, setup.dims, 5, style, out.columns)}\n`);
      shown = all.length;
    },
  }).finally(() => {
    stop.dispose();
    pool.close();
  });
  if (interrupted) {
    setExitCode(stop.received ? signalExitCode(stop.received) : Exit.Interrupted);
    stderr().line(
      `\n${stop.received ? `${signalName(stop.received)}: ` : ''}interrupted: ${plural(trials.length, 'trial')} kept in ${folder.resultsPath}; run the same command to go on`,
    );
    return;
  }
  if (failed !== undefined) {
    throw new UserError(
      `tune stopped: every trial of a round failed, so the next would too (${failed}); ${plural(trials.length, 'trial')} kept in ${folder.resultsPath}`,
    );
  }
  await report(flags, setup, folder, trials, (performance.now() - started) / 1000);
}

/** The comparison figures: the first trial whose held-out exact-match reaches the goal, and the best held-out exact-match. */
export const SOLVED_EXACT = 0.98;

export function tuneSummary(setup: TuneSetup, trials: Trial[], seconds: number) {
  const best = bestTrial(trials);
  // In the order the trials ended (an earlier, resumed tune's first), not by number: a round runs shortest first.
  const ended = [...trials].sort((a, b) => (a.finishedAt ?? -1) - (b.finishedAt ?? -1) || a.number - b.number);
  const first = ended.find((t) => (t.record.evaluation?.exactMatch ?? 0) >= SOLVED_EXACT);
  const bestExact = Math.max(0, ...trials.map((t) => t.record.evaluation?.exactMatch ?? 0));
  return {
    seed: setup.seed,
    space: setup.dims,
    base: setup.base,
    seconds,
    trials: trials.map((t) => ({
      trial: t.number,
      point: t.point,
      status: t.record.status,
      validationLoss: Number.isFinite(t.value) ? t.value : null,
      epochs: t.record.epochs.length,
      heldOut: t.record.evaluation ?? null,
      seconds: t.record.seconds,
      finishedAt: t.finishedAt ?? null,
    })),
    // null, not absent, when every trial was pruned, diverged or failed: the schema's state for it.
    best: best
      ? {
          trial: best.number,
          point: best.point,
          validationLoss: best.value,
          heldOut: best.record.evaluation,
          command: commandLine(best.record.config),
          // evaluate's verdict on the best trial's held-out scores: a best that learned nothing says so.
          verdict: verdict(best.record.evaluation!),
        }
      : null,
    firstSolved: first
      ? { trial: first.number, trialsEnded: ended.indexOf(first) + 1, finishedAt: first.finishedAt ?? null, exactMatch: first.record.evaluation!.exactMatch }
      : null,
    bestHeldOutExactMatch: bestExact,
    goal: setup.goal ?? null,
    goalReached: trials.some((t) => reachesGoal(t.record, setup.goal)),
  };
}

/** What a run's held-out scores are on: the digit task's unseen sequences, or a text run's test file (else its validation data, as textHeldOut chooses). */
function heldOutOf(config: Config): string {
  const data = config.data;
  if (!data) return `${thousands(HELD_OUT_SIZE)} unseen sequences`;
  if (data.test) return `--test-data ${data.test.path}`;
  if (data.validation) return `--validation-data ${data.validation.path}`;
  return config.validationSplit > 0 ? `the validation split of ${data.train.path}` : `the training data ${data.train.path}`;
}

async function report(flags: TuneFlags, setup: TuneSetup, folder: SweepFolder, trials: Trial[], seconds: number): Promise<void> {
  const out = stdout();
  const style = out.style;
  const summary = tuneSummary(setup, trials, seconds);
  const best = bestTrial(trials);
  if (!best) setExitCode(Exit.Failed);
  // The files go into tune.json too: the file is the --json document, as sweep's summary.json is.
  const files = { results: folder.resultsPath, summary: folder.path(TUNE_FILE), chart: folder.path(TUNE_CHART) };
  if (flags.json) printJson('tune', { ...summary, files });
  else {
    out.line(`\n${renderLeaderboard(trials, setup.dims, 5, style, out.columns)}\n`);
    if (best) {
      const e = best.record.evaluation!;
      out.line(
        `best: trial ${best.number} (${describePoint(setup.dims, best.point)}): val loss ${best.value.toFixed(4)}; held-out (${heldOutOf(best.record.config)}) exact-match ${(100 * e.exactMatch).toFixed(1)}%, token accuracy ${(100 * e.tokenAccuracy).toFixed(2)}%`,
      );
      out.line(`verdict (held-out): ${verdict(e)}`);
      if (summary.goalReached) {
        const first = [...trials].filter((t) => reachesGoal(t.record, setup.goal)).sort((a, b) => (a.finishedAt ?? -1) - (b.finishedAt ?? -1))[0];
        out.line(
          `goal reached: trial ${first.number}'s held-out exact-match ${(100 * first.record.evaluation!.exactMatch).toFixed(1)}% ≥ ${(100 * setup.goal!).toFixed(1)}%; no trial started after it (${plural(trials.length, 'trial')} of --trials ${setup.trials})`,
        );
      }
      out.line(`run it: ${style.bold(commandLine(best.record.config))}`);
    } else out.line(style.red('no trial completed: every one was pruned, diverged or failed; widen --space or raise --epochs'));
  }
  try {
    await folder.write(TUNE_FILE, toJson({ command: 'tune', seqTagVersion: VERSION, ...summary, files }));
    await folder.write(TUNE_CHART, tuneChartSvg(trials, `seq-tag tune: ${plural(trials.length, 'trial')}, seed ${setup.seed}`));
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      `cannot write the tune's summary into ${flags.out}: ${describeFsError(err)}; every trial is kept in ${folder.resultsPath}: make room and run the same command`,
    );
  }
  if (!flags.json) out.line(`trials: ${folder.resultsPath} · summary: ${folder.path(TUNE_FILE)} · chart: ${folder.path(TUNE_CHART)} · ${seconds.toFixed(1)} s`);
}
