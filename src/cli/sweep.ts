import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import type { Redis } from 'ioredis';
import { lossCurvesSvg } from '../report/charts.js';
import { generateDataset } from '../task/data.js';
import { describeFsError, UserError } from '../errors.js';
import { HELD_OUT_SIZE } from '../training/experiment.js';
import { labelEntropy } from '../task/metrics.js';
import { rngFor } from '../shared/random.js';
import { plural, renderProgress, renderSweepRun, renderSweepTable, toJson } from '../report/render.js';
import { escapeText } from '../shared/format.js';
import { CHART_FILE, REJECTED_FILE, SUMMARY_FILE, SweepFolder, type LabelledConfig } from '../sweep/folder.js';
import { redactUrl } from '../sweep/queue-settings.js';
import { gridCombinations, parseGridAxis } from '../sweep/grid.js';
import { expandRuns, type RunRecord, type RunSpec } from '../sweep/records.js';
import { FLOOR_MARGIN, runSweep, summarize } from '../sweep/sweep.js';
import { useKernels } from '../training/fused/wasm/instance.js';
import { VERSION } from '../version.js';
import { parserOf, wholeNumber } from './flags.js';
import { openRunLog } from './logdir.js';
import {
  addBackendOption,
  addExperimentOptions,
  addJsonOption,
  affordable,
  configFromFlags,
  givenOn,
  addTextDataOptions,
  readTextOfFlags,
  type BackendFlag,
  type ExperimentFlags,
  type TextDataFlags,
} from './options.js';
import type { DataSpec } from '../config/config.js';
import { ExitCode, onStop, printJson, signalExitCode, signalName, stderr, stdout, setExitCode } from './output.js';

interface SweepFlags extends ExperimentFlags, BackendFlag, TextDataFlags {
  grid: string[];
  answers?: boolean;
  seeds?: number;
  firstSeed: number;
  jobs: number;
  out: string;
  queue?: string;
  json?: boolean;
  logdir?: string;
}

/** The seed question's three answers, each tried on the seed's model (the linear head). */
export const ANSWERS: { label: string; overrides: Partial<ExperimentFlags> }[] = [
  { label: "linear head alone (the seed's bug)", overrides: { activation: 'linear' } },
  { label: 'answer 1: softmax', overrides: { activation: 'softmax' } },
  { label: 'answer 2: BatchNormalization', overrides: { activation: 'linear', batchNorm: true } },
  { label: 'answer 3: LayerNormalization', overrides: { activation: 'linear', layerNorm: true } },
  { label: 'answer 3: clipnorm 1.0', overrides: { activation: 'linear', clipnorm: 1 } },
  { label: 'answer 3: learning rate 1e-4', overrides: { activation: 'linear', lr: 1e-4 } },
  { label: 'answer 3: SGD', overrides: { activation: 'linear', optimizer: 'sgd' } },
  { label: 'answer 3: smaller-variance init (randomNormal, sd 0.05)', overrides: { activation: 'linear', kernelInitializer: 'randomNormal' } },
  { label: 'answer 3: Adam epsilon 1e-3', overrides: { activation: 'linear', adamEpsilon: 1e-3 } },
  { label: 'answer 3: double precision (float64)', overrides: { activation: 'linear', dtype: 'float64' } },
];

export function sweepCommand(): Command {
  const cmd = new Command('sweep').description('train a grid of configurations over several seeds in parallel and say which remedies fix the NaN');
  addExperimentOptions(cmd);
  addTextDataOptions(cmd);
  // Seeds are the sweep's own axis (--seeds, --first-seed); --seed stays parsed only to be refused clearly.
  cmd.options.find((o) => o.long === '--seed')?.hideHelp();
  addBackendOption(cmd);
  cmd
    .option(
      '--grid <flag=values>',
      'a train flag and the values to try, comma-separated; repeat for more axes (e.g. --grid activation=linear,softmax --grid batch-norm=off,on)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--answers', "the built-in grid: the seed question's three answers on its linear-head model (10 seeds unless --seeds)")
    .option('--seeds <n>', 'seeds per configuration (default 5; 10 with --answers)', parserOf(wholeNumber(1, 1000)))
    .option('--first-seed <n>', 'the seeds are first-seed, first-seed + 1, …', parserOf(wholeNumber(0, 2 ** 31 - 1000)), 1)
    .addOption(
      new Option('--jobs <n>', 'parallel worker processes (each holds its own TensorFlow.js, 140–180 MiB measured)')
        .argParser(parserOf(wholeNumber(1, 64)))
        .default(availableParallelism(), 'one per core'),
    )
    .option('--out <dir>', 'folder for results.jsonl, summary.json and loss-curves.svg', './sweep-results')
    .option(
      '--queue <url>',
      'put the runs on this Redis (redis://host:6379/0, rediss:// for TLS) for `seq-tag worker`s on any machine, instead of local workers',
    );
  cmd.option(
    '--logdir <dir>',
    'also write each run to TensorBoard: <dir>/<configuration>/seed-<n>/{train,validation,held-out}, its flags for the HParams dashboard',
  );
  addJsonOption(cmd, 'the aggregate');
  cmd.action((flags: SweepFlags) => runSweepCommand(flags, cmd));
  return cmd;
}

/** Flags the --answers grid sets itself: typing one of them beside --answers would be silently ignored. */
const ANSWER_FLAGS = [...new Set(ANSWERS.flatMap((a) => Object.keys(a.overrides)))];

/**
 * The sweep's configurations, from --answers or the grid. Configurations that are equal once presets
 * and defaults are applied are one configuration: kept under the first label, the others named in `merged`.
 */
export function configsFor(flags: SweepFlags, cmd: Command, data?: DataSpec): { configs: LabelledConfig[]; merged: string[] } {
  if (flags.answers && flags.grid.length) throw new UserError('--answers is a grid of its own; use it or --grid, not both', ExitCode.Usage);
  if (!flags.answers && !flags.grid.length) throw new UserError('say what to sweep: --grid flag=v1,v2 (repeatable) or --answers', ExitCode.Usage);
  if (cmd.getOptionValueSource('seed') === 'cli')
    throw new UserError('a sweep runs several seeds: use --seeds and --first-seed instead of --seed', ExitCode.Usage);
  refuseJobsWithQueue(flags, cmd);
  const given = givenOn(cmd);
  const clash = flags.answers ? cmd.options.find((o) => ANSWER_FLAGS.includes(o.attributeName()) && given(o.attributeName())) : undefined;
  if (clash)
    throw new UserError(`--answers sets ${clash.long} itself in each of its configurations; drop ${clash.long}, or sweep it with --grid`, ExitCode.Usage);
  const prototype = addExperimentOptions(new Command());
  const all = (flags.answers ? ANSWERS : gridCombinations(flags.grid.map((g) => parseGridAxis(g, prototype)))).map(({ label, overrides }) => {
    const { seed: _, ...config } = configFromFlags({ ...flags, ...overrides } as ExperimentFlags, (key) => key in overrides || given(key), data);
    return { label, config };
  });
  const configs: LabelledConfig[] = [];
  const merged: string[] = [];
  const byConfig = new Map<string, string>();
  for (const entry of all) {
    const same = byConfig.get(JSON.stringify(entry.config));
    if (same !== undefined) merged.push(`'${entry.label}' is the same configuration as '${same}': run once, as '${same}'`);
    else {
      byConfig.set(JSON.stringify(entry.config), entry.label);
      configs.push(entry);
    }
  }
  return { configs, merged };
}

async function runSweepCommand(flags: SweepFlags, cmd: Command): Promise<void> {
  // Its workers are handed the choice with each run (sweep.ts, queue.ts).
  useKernels(flags.kernels);
  // The text is read once here for its identity (SHA-256 in every config); each worker reads it again and checks it.
  const text = await readTextOfFlags(flags);
  const { configs, merged } = configsFor(flags, cmd, text?.spec);
  const seedCount = flags.seeds ?? (flags.answers ? 10 : 5);
  const seeds = Array.from({ length: seedCount }, (_, k) => flags.firstSeed + k);
  const specs = expandRuns(configs, seeds);
  const jobs = flags.queue ? 1 : Math.min(flags.jobs, specs.length);
  // Text runs are bounded by their data (LIMITS.dataBytes); the estimate is of the digit task.
  if (!text) for (const { config } of configs) affordable(config, jobs);
  await withSweepFolder(flags.out, configs, flags.queue, (folder, connection) => sweepInto(flags, { configs, merged, seeds, specs, jobs }, folder, connection));
}

/** --jobs sets local workers: beside --queue it would be ignored, so it is refused (sweep and tune). */
export function refuseJobsWithQueue(flags: { queue?: string }, cmd: Command): void {
  if (flags.queue !== undefined && cmd.getOptionValueSource('jobs') === 'cli')
    throw new UserError('--jobs sets local workers; with --queue, start `seq-tag worker --queue URL --jobs N` on each machine instead', ExitCode.Usage);
}

/**
 * Runs `body` with the folder `out` claimed for `configurations` and, with a queue URL, Redis
 * reached first (a wrong URL or a Redis that is down changes nothing on disk); releases both after.
 */
export async function withSweepFolder(
  out: string,
  configurations: LabelledConfig[],
  queue: string | undefined,
  body: (folder: SweepFolder, connection: Redis | undefined) => Promise<void>,
): Promise<void> {
  const connection = queue === undefined ? undefined : await (await import('../sweep/queue.js')).connectRedis(queue);
  let folder: SweepFolder;
  try {
    folder = await SweepFolder.open(out, configurations);
  } catch (err) {
    connection?.disconnect();
    throw err;
  }
  try {
    await body(folder, connection);
  } finally {
    // The queue sweep closes it when it ends; a second disconnect would arm ioredis's 2 s close timer.
    if (connection && connection.status !== 'end') connection.disconnect();
    await folder.release();
  }
}

interface SweepPlan {
  configs: LabelledConfig[];
  merged: string[];
  seeds: number[];
  specs: RunSpec[];
  /** Local worker processes (1 with --queue: the coordinator trains nothing). */
  jobs: number;
}

async function sweepInto(
  flags: SweepFlags,
  { configs, merged, seeds, specs, jobs }: SweepPlan,
  folder: SweepFolder,
  connection: Redis | undefined,
): Promise<void> {
  const out = stdout();
  const style = out.style;
  const progress = flags.json ? stderr() : out;
  const live = progress.isTTY;
  const started = performance.now();
  // Before anything is printed: an unusable --logdir is the one line said.
  const log = await openRunLog(flags.logdir);
  for (const note of merged) stderr().line(`seq-tag: ${note}`);
  const stored = await folder.readRecords();
  if (stored.tornTail)
    stderr().line(
      `seq-tag: ${folder.resultsPath} ended in a half-written line (an earlier sweep was cut off mid-write); removed it, and that run is done again`,
    );
  if (stored.rejected.length) {
    const first = stored.rejected[0];
    const more =
      stored.rejected.length > 1
        ? ` (and ${plural(stored.rejected.length - 1, 'more line')}: ${stored.rejected
            .slice(1, 6)
            .map((r) => r.line)
            .join(', ')}${stored.rejected.length > 6 ? ', …' : ''})`
        : '';
    stderr().line(
      `seq-tag: line ${first.line} of ${folder.resultsPath} is not a whole run record (${escapeText(first.why, 120)})${more}; moved to ${folder.path(REJECTED_FILE)}, and its run is done again`,
    );
  }
  if (!flags.json) {
    out.line(
      `seq-tag ${VERSION} sweep · ${plural(configs.length, 'configuration')} × ${plural(seeds.length, 'seed')} = ${plural(specs.length, 'run')} · ${flags.queue ? `queue ${redactUrl(flags.queue)}` : plural(jobs, 'worker')} · results in ${flags.out}\n`,
    );
  }
  // Ctrl-C, SIGTERM or SIGHUP stop the workers (finished runs are already on disk).
  const stop = onStop();
  const onRecord = (record: RunRecord, done: number, total: number, resumed: boolean) => {
    log(record);
    const elapsed = (performance.now() - started) / 1000;
    if (live) progress.write(`\r${renderProgress(done, total, elapsed, style, progress.columns)}\x1b[K`);
    else if (!flags.json) out.line(renderSweepRun(record, done, total, resumed));
  };
  const onNotice = (text: string) => stderr().line(`${live ? '\r\x1b[K' : ''}seq-tag: ${text}`);
  const common = { signal: stop.signal, onRecord };
  const { records, interrupted } = await (
    connection
      ? (await import('../sweep/queue.js')).runQueueSweep(specs, folder, stored.records, connection, { ...common, url: flags.queue!, onNotice })
      : runSweep(specs, folder, stored.records, { ...common, jobs, backend: flags.backend })
  ).finally(stop.dispose);
  if (live) progress.write('\n');
  if (interrupted) {
    setExitCode(stop.received ? signalExitCode(stop.received) : ExitCode.Interrupted);
    const queued = flags.queue ? '; the queued runs go on in the workers' : '';
    const why = stop.received ? `${signalName(stop.received)}: ` : '';
    stderr().line(
      `\n${why}interrupted: ${records.length} of ${plural(specs.length, 'run')} kept in ${folder.resultsPath}${queued}; run the same command to resume`,
    );
    return;
  }

  const baseline = flags.answers ? ANSWERS[0].label : undefined;
  const summaries = summarize(records, (label) => configs.find((c) => c.label === label)!.config.activation, baseline);
  // On text, the runs' own floor (the tags' entropy on the data they were scored on); on the task, the held-out digits'.
  const floor = configs[0].config.data
    ? (summaries.find((s) => s.floor !== null)?.floor ?? NaN)
    : labelEntropy(generateDataset(HELD_OUT_SIZE, rngFor(seeds[0], 'held-out')).labels);
  const svgPath = folder.path(CHART_FILE);
  const summaryPath = folder.path(SUMMARY_FILE);
  const configurations = summaries.map((s) => ({ ...s, config: configs.find((c) => c.label === s.label)!.config }));
  const aggregate = {
    seeds,
    floor,
    floorMargin: FLOOR_MARGIN,
    baseline: baseline ?? null,
    configurations,
    merged,
    files: { results: folder.resultsPath, summary: summaryPath, chart: svgPath },
  };
  const failed = records.filter((r) => r.status === 'failed').length;
  if (failed) setExitCode(ExitCode.Runtime);
  if (flags.json) printJson('sweep', aggregate);
  else out.line(`\n${renderSweepTable(summaries, floor, style, out.columns)}\n`);
  // The table is out first: a full disk now loses no result, and each file is replaced whole or not at all.
  try {
    await folder.write(SUMMARY_FILE, toJson({ command: 'sweep', seqTagVersion: VERSION, ...aggregate }));
    await folder.write(CHART_FILE, lossCurvesSvg(summaries, floor, `seq-tag sweep: training loss over ${plural(seeds.length, 'seed')}`));
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      `cannot write the sweep's summary into ${flags.out}: ${describeFsError(err)}; every run is kept in ${folder.resultsPath}: make room and run the same command to redo the summary`,
    );
  }
  if (!flags.json)
    out.line(`runs: ${folder.resultsPath} · summary: ${summaryPath} · loss curves: ${svgPath} · ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (failed) stderr().line(`seq-tag: ${plural(failed, 'run')} failed; their errors are in ${folder.resultsPath}`);
}
