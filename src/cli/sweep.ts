import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { lossCurvesSvg } from '../charts.js';
import { generateDataset } from '../data.js';
import { describeFsError, UserError } from '../errors.js';
import { HELD_OUT_SIZE } from '../experiment.js';
import { labelEntropy } from '../metrics.js';
import { rngFor } from '../random.js';
import { renderProgress, renderSweepRun, renderSweepTable, styleFor, toJson } from '../render.js';
import { expandRuns, RESULTS_FILE, runSweep, summarize } from '../sweep.js';
import { VERSION } from '../version.js';
import { addBackendOption, addExperimentOptions, configFromFlags, givenOn, wholeNumber, type BackendFlag, type ExperimentFlags } from './options.js';

interface SweepFlags extends ExperimentFlags, BackendFlag {
  grid: string[];
  answers?: boolean;
  seeds?: number;
  firstSeed: number;
  jobs: number;
  out: string;
  json?: boolean;
}

/** The seed question's three answers, each tried on the seed's model (the linear head). */
export const ANSWERS: { label: string; overrides: Partial<ExperimentFlags> }[] = [
  { label: 'linear head alone (the seed\'s bug)', overrides: { activation: 'linear' } },
  { label: 'answer 1: softmax', overrides: { activation: 'softmax' } },
  { label: 'answer 2: BatchNormalization', overrides: { activation: 'linear', batchNorm: true } },
  { label: 'answer 3: LayerNormalization', overrides: { activation: 'linear', layerNorm: true } },
  { label: 'answer 3: clipnorm 1.0', overrides: { activation: 'linear', clipnorm: 1 } },
  { label: 'answer 3: learning rate 1e-4', overrides: { activation: 'linear', lr: 1e-4 } },
  { label: 'answer 3: SGD', overrides: { activation: 'linear', optimizer: 'sgd' } },
  { label: 'answer 3: smaller-variance init (randomNormal, sd 0.05)', overrides: { activation: 'linear', kernelInitializer: 'randomNormal' } },
  { label: 'answer 3: Adam epsilon 1e-3', overrides: { activation: 'linear', adamEpsilon: 1e-3 } },
];

const NOT_IN_GRID = new Set(['seed', 'dtype']);
const BOOLEAN_WORDS: Record<string, boolean> = { on: true, off: false, true: true, false: false, yes: true, no: false };

interface GridAxis {
  key: string;
  attribute: string;
  values: { text: string; value: unknown }[];
}

/**
 * Parses `flag=v1,v2,…` against the train flags themselves, so every grid value is checked by the
 * same parser as on the command line. Boolean flags take on/off.
 */
export function parseGridAxis(spec: string, prototype: Command): GridAxis {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new UserError(`--grid ${spec}: expected flag=value1,value2 (e.g. --grid activation=linear,softmax)`, 2);
  const key = spec.slice(0, eq).trim().replace(/^--/, '');
  const texts = spec.slice(eq + 1).split(',').map((v) => v.trim());
  if (texts.some((t) => t === '')) throw new UserError(`--grid ${spec}: empty value in the list`, 2);
  const option = prototype.options.find((o) => o.long === `--${key}` || o.long === `--no-${key}`);
  if (!option || NOT_IN_GRID.has(key)) {
    const known = prototype.options.map((o) => o.long!.replace(/^--(no-)?/, '')).filter((k) => !NOT_IN_GRID.has(k));
    throw new UserError(`--grid ${spec}: '${key}' is not a train flag that can vary; use one of ${[...new Set(known)].join(', ')}`, 2);
  }
  const values = texts.map((text) => {
    if (option.isBoolean() || option.negate) {
      if (!(text in BOOLEAN_WORDS)) throw new UserError(`--grid ${spec}: '${text}' is not on or off`, 2);
      return { text, value: BOOLEAN_WORDS[text] };
    }
    if (option.argChoices && !option.argChoices.includes(text)) {
      throw new UserError(`--grid ${spec}: '${text}' is not one of ${option.argChoices.join(', ')}`, 2);
    }
    try {
      return { text, value: option.parseArg ? option.parseArg(text, undefined) : text };
    } catch (err) {
      throw new UserError(`--grid ${spec}: '${text}' is invalid for --${key}: ${(err as Error).message}`, 2);
    }
  });
  if (new Set(texts).size !== texts.length) throw new UserError(`--grid ${spec}: a value is listed twice`, 2);
  return { key, attribute: option.attributeName(), values };
}

/** Every combination of the axes' values, as labelled flag overrides. */
export function gridCombinations(axes: GridAxis[]): { label: string; overrides: Record<string, unknown> }[] {
  let combos: { label: string[]; overrides: Record<string, unknown> }[] = [{ label: [], overrides: {} }];
  for (const axis of axes) {
    combos = combos.flatMap((c) => axis.values.map((v) => ({ label: [...c.label, `${axis.key}=${v.text}`], overrides: { ...c.overrides, [axis.attribute]: v.value } })));
  }
  return combos.map((c) => ({ label: c.label.join(' '), overrides: c.overrides }));
}

export function sweepCommand(): Command {
  const cmd = new Command('sweep').description('train a grid of configurations over several seeds in parallel and say which remedies fix the NaN');
  addExperimentOptions(cmd);
  // Seeds are the sweep's own axis (--seeds, --first-seed); --seed stays parsed only to be refused clearly.
  cmd.options.find((o) => o.long === '--seed')?.hideHelp();
  addBackendOption(cmd);
  cmd
    .option('--grid <flag=values>', 'a train flag and the values to try, comma-separated; repeat for more axes (e.g. --grid activation=linear,softmax --grid batch-norm=off,on)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--answers', 'the built-in grid: the seed question\'s three answers on its linear-head model (10 seeds unless --seeds)')
    .option('--seeds <n>', 'seeds per configuration (default 5; 10 with --answers)', wholeNumber(1, 1000))
    .option('--first-seed <n>', 'the seeds are first-seed, first-seed + 1, …', wholeNumber(0, 2 ** 31 - 1000), 1)
    .option('--jobs <n>', 'parallel worker processes (default: one per core; each holds its own TensorFlow.js, 140–180 MiB measured)', wholeNumber(1, 64), availableParallelism())
    .option('--out <dir>', 'folder for results.jsonl, summary.json and loss-curves.svg', './sweep-results')
    .addOption(new Option('--json', 'print the aggregate as one JSON document'))
    .action((flags: SweepFlags) => runSweepCommand(flags, cmd));
  return cmd;
}

async function runSweepCommand(flags: SweepFlags, cmd: Command): Promise<void> {
  if (flags.answers && flags.grid.length) throw new UserError('--answers is a grid of its own; use it or --grid, not both', 2);
  if (!flags.answers && !flags.grid.length) throw new UserError('say what to sweep: --grid flag=v1,v2 (repeatable) or --answers', 2);
  if (cmd.getOptionValueSource('seed') === 'cli') throw new UserError('a sweep runs several seeds: use --seeds and --first-seed instead of --seed', 2);
  const given = givenOn(cmd);
  const prototype = addExperimentOptions(new Command());
  const configs = (flags.answers ? ANSWERS : gridCombinations(flags.grid.map((g) => parseGridAxis(g, prototype)))).map(({ label, overrides }) => {
    const { seed: _, ...config } = configFromFlags({ ...flags, ...overrides } as ExperimentFlags, (key) => key in overrides || given(key));
    return { label, config };
  });
  const labels = configs.map((c) => c.label);
  if (new Set(labels).size !== labels.length) throw new UserError('two grid entries give the same configuration label', 2);
  try {
    mkdirSync(flags.out, { recursive: true });
  } catch (err) {
    throw new UserError(`cannot use --out ${flags.out}: ${describeFsError(err)}; choose a writable folder`);
  }
  const seedCount = flags.seeds ?? (flags.answers ? 10 : 5);
  const seeds = Array.from({ length: seedCount }, (_, k) => flags.firstSeed + k);
  const specs = expandRuns(configs, seeds);

  const out = process.stdout;
  const style = styleFor(out);
  const progressStream = flags.json ? process.stderr : out;
  const live = progressStream.isTTY === true;
  const started = performance.now();
  if (!flags.json) {
    out.write(`seq-tag ${VERSION} sweep · ${configs.length} configurations × ${seeds.length} seeds = ${specs.length} runs · ${Math.min(flags.jobs, specs.length)} workers · results in ${flags.out}\n\n`);
  }
  const records = await runSweep(specs, {
    jobs: flags.jobs,
    outDir: flags.out,
    backend: flags.backend,
    onRecord: (record, done, total, resumed) => {
      const elapsed = (performance.now() - started) / 1000;
      if (live) progressStream.write(`\r${renderProgress(done, total, elapsed, style)}\x1b[K`);
      else if (!flags.json) out.write(`${renderSweepRun(record, done, total, resumed)}\n`);
    },
  });
  if (live) progressStream.write('\n');

  const summaries = summarize(records, (label) => configs.find((c) => c.label === label)!.config.activation);
  const floor = labelEntropy(generateDataset(HELD_OUT_SIZE, rngFor(seeds[0], 'held-out')).labels);
  const svgPath = join(flags.out, 'loss-curves.svg');
  writeFileSync(svgPath, await lossCurvesSvg(summaries, floor, `seq-tag sweep: training loss over ${seeds.length} seeds`));
  const aggregate = { command: 'sweep', seqTagVersion: VERSION, seeds, floor, configurations: summaries, files: { results: join(flags.out, RESULTS_FILE), chart: svgPath } };
  writeFileSync(join(flags.out, 'summary.json'), toJson(aggregate));
  const failed = records.filter((r) => r.status === 'failed').length;
  if (failed) process.exitCode = 1;

  if (flags.json) {
    out.write(`${toJson(aggregate)}\n`);
    return;
  }
  out.write(`\n${renderSweepTable(summaries, floor, style)}\n\n`);
  out.write(`runs: ${join(flags.out, RESULTS_FILE)} · loss curves: ${svgPath} · ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  if (failed) process.stderr.write(`seq-tag: ${failed} run(s) failed; their errors are in ${join(flags.out, RESULTS_FILE)}\n`);
}
