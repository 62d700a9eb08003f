import { fork, type ChildProcess } from 'node:child_process';
import type { BackendChoice } from '../model/backend.js';
import type { Config } from '../config/config.js';
import { describeFsError, UserError } from '../errors.js';
import type { Evaluation } from '../task/metrics.js';
import type { SweepFolder } from './folder.js';
import { checkOutcome, failedOutcome, recordFor, type RunOutcome, type RunRecord, type RunSpec } from './records.js';
import { activeKernels } from '../training/fused/wasm/instance.js';

/** Called as each run finishes (or is found already done), with how many are done in all. */
export type OnRecord = (record: RunRecord, done: number, total: number, resumed: boolean) => void;

/**
 * The one place a sweep turns outcomes into records: each run's outcome is checked against its
 * spec (anything else becomes a failed run saying why), written to results.jsonl as one whole line
 * (if this process still holds the folder), and only then counted. Used by the local pool and the
 * queue coordinator alike.
 */
export class Collector {
  readonly results = new Map<string, RunRecord>();
  private done = 0;
  private writes = Promise.resolve();
  /** The first write that failed (disk full, lock lost): nothing is written after it. */
  writeError: unknown;

  constructor(
    readonly specs: RunSpec[],
    private readonly folder: SweepFolder,
    private readonly onRecord?: OnRecord,
  ) {}

  /** Takes the runs results.jsonl already holds. */
  resume(previous: Map<string, RunRecord>): void {
    for (const spec of this.specs) {
      const record = previous.get(spec.key);
      if (!record) continue;
      this.results.set(spec.key, record);
      this.onRecord?.(record, ++this.done, this.specs.length, true);
    }
  }

  pending(): RunSpec[] {
    return this.specs.filter((s) => !this.results.has(s.key));
  }

  /** Records `data` (unchecked: a worker's answer) as the outcome of `spec`, or a failed run saying why it is not one. */
  record(spec: RunSpec, data: unknown): Promise<void> {
    let outcome: RunOutcome;
    try {
      outcome = checkOutcome(data, spec);
    } catch (err) {
      outcome = failedOutcome(`the worker's result was refused: ${(err as Error).message}`);
    }
    return this.recordChecked(spec, outcome);
  }

  /** Records an outcome already checked against `spec` (or made here); settles once it is on disk (or failed to get there, see writeError). */
  recordChecked(spec: RunSpec, outcome: RunOutcome): Promise<void> {
    const record = recordFor(spec, outcome);
    this.writes = this.writes.then(async () => {
      if (this.writeError || this.results.has(spec.key)) return;
      try {
        await this.folder.appendRecord(record);
      } catch (err) {
        this.writeError = err;
        return;
      }
      this.results.set(spec.key, record);
      this.onRecord?.(record, ++this.done, this.specs.length, false);
    });
    return this.writes;
  }

  /** Waits for every write; throws the first write error in words. */
  async flushed(): Promise<void> {
    await this.writes;
    if (!this.writeError) return;
    if (this.writeError instanceof UserError) throw this.writeError;
    throw new UserError(
      `cannot write ${this.folder.resultsPath}: ${describeFsError(this.writeError)}; the sweep stopped with ${this.done} of ${this.specs.length} runs kept whole in it; make room and run the same command to resume`,
    );
  }

  /** The records in spec order, and whether some run has none. */
  outcome(): { records: RunRecord[]; interrupted: boolean } {
    const records = this.specs.map((s) => this.results.get(s.key)).filter((r): r is RunRecord => r !== undefined);
    return { records, interrupted: records.length < this.specs.length };
  }
}

export interface SweepOptions {
  jobs: number;
  backend: BackendChoice;
  onRecord?: OnRecord;
  /** Aborting stops the workers; finished runs are kept, the runs in progress are dropped. */
  signal?: AbortSignal;
  /** The worker module; tests substitute one that crashes or lies. */
  workerPath?: string | URL;
  /** Idle workers to take before starting new ones, and to give them back to (a tune's rounds). */
  pool?: WorkerPool;
  /**
   * No run starts after this moment (performance.now() ms): the runs under way finish, the rest are
   * left out. A function is asked before each run (tune's --goal moves the moment to now).
   */
  startBy?: number | (() => number);
}

export interface SweepResult {
  /** In spec order; missing entries when interrupted. */
  records: RunRecord[];
  interrupted: boolean;
}

const DEFAULT_WORKER = new URL('./sweep-worker.js', import.meta.url);

/**
 * Worker processes kept between sweeps: a tune runs a sweep a round, and each round takes the idle
 * workers before starting new ones, so a 40-trial tune starts --jobs processes, not --jobs a round
 * (each start loads Node and TensorFlow.js: about half a second of a core). close() lets them exit.
 */
export class WorkerPool {
  private idle: ChildProcess[] = [];
  take(): ChildProcess | undefined {
    for (let child = this.idle.pop(); child; child = this.idle.pop()) if (child.connected) return child;
    return undefined;
  }
  give(child: ChildProcess): void {
    this.idle.push(child);
  }
  close(): void {
    for (const child of this.idle) if (child.connected) child.disconnect();
    this.idle = [];
  }
}

/**
 * Runs every spec not yet in the folder's results.jsonl in parallel worker processes (one training
 * each at a time) and appends each record the moment it finishes, so an interrupted sweep keeps
 * every finished run and running it again skips them. A worker that dies fails its run (recorded,
 * not retried) and is replaced; the sweep never hangs on it. A write that fails (disk full, the
 * folder's lock lost) stops the sweep with a UserError; the file keeps only whole records.
 */
export async function runSweep(specs: RunSpec[], folder: SweepFolder, previous: Map<string, RunRecord>, options: SweepOptions): Promise<SweepResult> {
  const collector = new Collector(specs, folder, options.onRecord);
  collector.resume(previous);
  const queue = collector.pending();
  const workerPath = options.workerPath ?? DEFAULT_WORKER;
  const children = new Set<ChildProcess>();
  let stopping = false;

  const stopAll = () => {
    stopping = true;
    queue.length = 0;
    for (const child of children) child.kill('SIGKILL');
  };
  const finish = (spec: RunSpec, data: unknown) =>
    void collector.record(spec, data).then(() => {
      if (collector.writeError) stopAll();
    });
  options.signal?.addEventListener('abort', stopAll);
  const startBy = () => (typeof options.startBy === 'function' ? options.startBy() : (options.startBy ?? Infinity));

  const runWorker = (first: RunSpec): Promise<void> =>
    new Promise((resolveWorker) => {
      let current: RunSpec | undefined;
      let started = 0;
      let child: ChildProcess;
      let release = () => {};
      const next = (given?: RunSpec) => {
        if (performance.now() >= startBy()) queue.length = 0;
        current = given ?? queue.shift();
        if (!current) {
          // Kept for the next sweep of a pool, else let go (it exits when disconnected).
          if (options.pool && child.connected && !stopping) {
            release();
            options.pool.give(child);
            resolveWorker();
          } else if (child.connected) child.disconnect();
          return;
        }
        started = performance.now();
        child.send({ spec: current, backend: options.backend, kernels: activeKernels() });
      };
      const spawn = () => {
        child = options.pool?.take() ?? fork(workerPath, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
        children.add(child);
        let stderr = '';
        const onStderr = (d: Buffer) => (stderr = (stderr + String(d)).slice(-2000));
        const onMessage = (data: unknown) => {
          if (!current) return;
          finish(current, data);
          current = undefined;
          next();
        };
        const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
          release();
          if (current && !stopping) {
            const why = signal ? `worker killed by ${signal}` : `worker exited with code ${code}`;
            const lastLine = stderr.trim().split('\n').at(-1);
            finish(current, failedOutcome(lastLine ? `${why}: ${lastLine}` : why, (performance.now() - started) / 1000));
            current = undefined;
            if (queue.length) {
              spawn();
              next();
              return;
            }
          }
          resolveWorker();
        };
        child.stderr?.on('data', onStderr);
        child.on('message', onMessage);
        child.on('exit', onExit);
        const mine = child;
        release = () => {
          mine.stderr?.off('data', onStderr);
          mine.off('message', onMessage);
          mine.off('exit', onExit);
          children.delete(mine);
        };
      };
      spawn();
      next(first);
    });

  // Each worker's first run is taken at one instant, before any worker starts: a --minutes budget
  // that holds when the sweep starts starts --jobs runs, however long the processes take to start.
  const budgetLeft = performance.now() < startBy();
  const firsts = budgetLeft ? queue.splice(0, Math.max(1, Math.min(options.jobs, queue.length))) : [];
  try {
    await Promise.all(firsts.map(runWorker));
    await collector.flushed();
  } finally {
    options.signal?.removeEventListener('abort', stopAll);
  }
  return collector.outcome();
}

/** One configuration's results across its seeds. Rates are over the runs that completed (not failed). */
export interface ConfigSummary {
  label: string;
  /** Whether the head emits a probability distribution (softmax): without one, a finite loss only hides the bug. */
  probabilisticHead: boolean;
  runs: number;
  failed: number;
  /** Share of runs that diverged (NaN, infinite, or pinned at the clip bound) in epoch 1 / at any point. */
  divergedEpoch1: number;
  divergedAny: number;
  /** Final-epoch training loss of the runs that did not diverge. */
  finalLoss: { median: number; min: number; max: number } | null;
  /** The no-skill floor (label entropy of the held-out data), median over runs. */
  floor: number | null;
  tokenAccuracy: number | null;
  exactMatch: number | null;
  f1: number | null;
  secondsPerRun: number;
  verdict: string;
  /** Median and range of the loss per epoch across the runs that did not diverge: for the chart. */
  curve: { epoch: number; median: number; min: number; max: number }[];
  /** With a validation split: the median validation loss per epoch across those runs. */
  validationCurve?: { epoch: number; median: number }[];
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** How close to the floor a final loss must be to count as "predicts the base rate"; "learns" needs a loss this far below it. */
export const FLOOR_MARGIN = 0.02;

/**
 * The one rule for a configuration's verdict, from the numbers its row of the table shows:
 * - NaN: "fixes the NaN" only when the sweep's baseline (the --answers grid's linear head) had NaN
 *   in its runs; otherwise a configuration without NaN is just "no NaN";
 * - learning, from the median final loss against the no-skill floor: "learns" when it is at least
 *   FLOOR_MARGIN below the floor and the median exact-match is above 0; "learns nothing" within
 *   FLOOR_MARGIN of the floor; below it with no sequence fully right, said as such; above it, not learned.
 */
export function verdictFor(s: Omit<ConfigSummary, 'verdict' | 'curve'>, baselineHadNaN = false): string {
  const completed = s.runs - s.failed;
  if (completed === 0) return 'every run failed to complete';
  const diverged = Math.round(s.divergedAny * completed);
  if (diverged === completed) return baselineHadNaN ? 'does not fix the NaN' : 'diverges (NaN) in every run';
  if (diverged > 0)
    return baselineHadNaN ? `fixes the NaN in only ${completed - diverged} of ${completed} runs` : `diverges in ${diverged} of ${completed} runs`;
  const lead = baselineHadNaN ? 'fixes the NaN' : 'no NaN';
  if (!s.finalLoss || s.floor === null) return lead;
  const gap = s.finalLoss.median - s.floor;
  if (gap > FLOOR_MARGIN) {
    if (s.probabilisticHead) return `${lead}, but loss still above the floor (not learned yet)`;
    return baselineHadNaN ? 'hides the NaN; loss worse than predicting the base rate' : 'no NaN, but loss worse than predicting the base rate';
  }
  if (gap >= -FLOOR_MARGIN) return `${lead}, but learns nothing: loss at the floor (predicts the base rate)`;
  const exact = `exact-match ${(100 * (s.exactMatch ?? 0)).toFixed(1)}%`;
  if (!s.exactMatch) return `${lead}; loss below the floor, but no sequence fully right (${exact})`;
  return `${lead} and learns (${exact})`;
}

/**
 * Aggregates records per configuration label, in the order the labels first appear. `baseline`
 * names the configuration the others are judged against for "fixes the NaN" (the --answers grid's
 * linear head); without one, no verdict claims a fix.
 */
export function summarize(records: RunRecord[], activationOf: (label: string) => Config['activation'], baseline?: string): ConfigSummary[] {
  const baselineRuns = records.filter((r) => r.label === baseline && r.status !== 'failed');
  const baselineHadNaN = baselineRuns.some((r) => r.divergence !== undefined);
  const labels = [...new Set(records.map((r) => r.label))];
  return labels.map((label) => {
    const runs = records.filter((r) => r.label === label);
    const completed = runs.filter((r) => r.status !== 'failed');
    const healthy = completed.filter((r) => r.status === 'ok');
    const rate = (pred: (r: RunRecord) => boolean) => (completed.length ? completed.filter(pred).length / completed.length : 0);
    const finals = healthy.map((r) => r.epochs.at(-1)?.loss).filter((l): l is number => l !== undefined && Number.isFinite(l));
    const evals = healthy.map((r) => r.evaluation).filter((e): e is Evaluation => !!e);
    const med = (pick: (e: Evaluation) => number) => (evals.length ? median(evals.map(pick)) : null);
    const epochCount = Math.max(0, ...healthy.map((r) => r.epochs.length));
    const lossesAt = (k: number, pick: (e: RunRecord['epochs'][number]) => number | undefined) =>
      healthy.map((r) => (r.epochs[k] ? pick(r.epochs[k]) : undefined)).filter((l): l is number => l !== undefined && Number.isFinite(l));
    const curve = Array.from({ length: epochCount }, (_, k) => {
      const losses = lossesAt(k, (e) => e.loss);
      return { epoch: k + 1, median: median(losses), min: Math.min(...losses), max: Math.max(...losses) };
    }).filter((p) => Number.isFinite(p.median));
    const validationCurve = Array.from({ length: epochCount }, (_, k) => ({ epoch: k + 1, median: median(lossesAt(k, (e) => e.validation?.loss)) })).filter(
      (p) => Number.isFinite(p.median),
    );
    const summary = {
      label,
      probabilisticHead: activationOf(label) === 'softmax',
      runs: runs.length,
      failed: runs.length - completed.length,
      divergedEpoch1: rate((r) => r.divergence?.epoch === 1),
      divergedAny: rate((r) => r.divergence !== undefined),
      finalLoss: finals.length ? { median: median(finals), min: Math.min(...finals), max: Math.max(...finals) } : null,
      floor: med((e) => e.floor),
      tokenAccuracy: med((e) => e.tokenAccuracy),
      exactMatch: med((e) => e.exactMatch),
      f1: med((e) => e.f1),
      secondsPerRun: completed.length ? median(completed.map((r) => r.seconds)) : 0,
    };
    return {
      ...summary,
      verdict: verdictFor(summary, baselineHadNaN && label !== baseline),
      curve,
      ...(validationCurve.length ? { validationCurve } : {}),
    };
  });
}
