import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackendChoice } from '../model/backend.js';
import type { Config } from '../model/config.js';
import { describeFsError, UserError } from '../errors.js';
import { appendLine } from '../storage/files.js';
import type { Evaluation } from '../task/metrics.js';
import type { Divergence, EpochRecord } from '../training/train.js';

/** One training run of a sweep: a configuration (named by its label) with one seed. */
export interface RunSpec {
  /** Identifies the run across invocations: the label, the seed and a hash of the full config. */
  key: string;
  label: string;
  seed: number;
  config: Config;
}

export type RunStatus = 'ok' | 'diverged' | 'failed';

/** What a run produced; one JSON line of results.jsonl. */
export interface RunRecord {
  key: string;
  label: string;
  seed: number;
  status: RunStatus;
  /** Completed epochs (a run the NaN guard stopped has fewer than asked). */
  epochs: EpochRecord[];
  divergence?: Divergence;
  /** Held-out evaluation of runs that did not diverge. */
  evaluation?: Evaluation;
  seconds: number;
  backend?: string;
  /** Why a failed run failed (a worker crash, an exception). */
  error?: string;
}

export const RESULTS_FILE = 'results.jsonl';

export function runKey(label: string, config: Config): string {
  const hash = createHash('sha1').update(JSON.stringify(config)).digest('hex').slice(0, 12);
  return `${label}|seed=${config.seed}|${hash}`;
}

/** Every configuration × every seed, in that order. */
export function expandRuns(configs: { label: string; config: Omit<Config, 'seed'> }[], seeds: number[]): RunSpec[] {
  return configs.flatMap(({ label, config }) =>
    seeds.map((seed) => {
      const full = { ...config, seed };
      return { key: runKey(label, full), label, seed, config: full };
    }),
  );
}

/** What results.jsonl held: the records by key, and the lines that could not be read. */
export interface StoredRecords {
  records: Map<string, RunRecord>;
  /** A half-written last line (a crash mid-append by an older seq-tag): removed, its run done again. */
  tornTail: boolean;
  /** Unreadable lines elsewhere in the file: kept as they are, ignored. */
  badLines: number;
}

/** JSON has no NaN or Infinity: records spell them as strings, in results.jsonl and on the queue. */
const reviveNumber = (_k: string, v: unknown) => (v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v);
const spellNumber = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);

/** A record as plain JSON data (non-finite numbers as strings), for a transport that would turn NaN into null. */
export function portableRecord(record: RunRecord): RunRecord {
  return JSON.parse(JSON.stringify(record, spellNumber)) as RunRecord;
}

/** The inverse of portableRecord. */
export function revivedRecord(data: RunRecord): RunRecord {
  return JSON.parse(JSON.stringify(data), reviveNumber) as RunRecord;
}

function parseRecord(line: string): RunRecord | undefined {
  try {
    const record = JSON.parse(line, reviveNumber) as RunRecord;
    return record && typeof record.key === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the records already in `file`. Failed runs are not kept (they run again). A torn last line
 * is cut off the file, so that the next append starts on a line of its own.
 */
export async function readRecords(file: string): Promise<StoredRecords> {
  const stored: StoredRecords = { records: new Map(), tornTail: false, badLines: 0 };
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  if (last !== '') {
    // No newline at the end: the last append did not finish.
    stored.tornTail = true;
    await truncate(file, Buffer.byteLength(text) - Buffer.byteLength(last));
  }
  for (const line of lines) {
    if (!line.trim()) continue;
    const record = parseRecord(line);
    if (!record) stored.badLines++;
    else if (record.status !== 'failed') stored.records.set(record.key, record);
  }
  return stored;
}

function recordLine(record: RunRecord): string {
  return `${JSON.stringify(record, spellNumber)}\n`;
}

/** Appends one record to results.jsonl as one whole, fsynced line. */
export async function appendRecord(file: string, record: RunRecord): Promise<void> {
  await appendLine(file, recordLine(record));
}

export interface SweepOptions {
  jobs: number;
  outDir: string;
  backend: BackendChoice;
  /** Called as each run finishes (or is found already done), with how many are done in all. */
  onRecord?: (record: RunRecord, done: number, total: number, resumed: boolean) => void;
  /** Aborting stops the workers; finished runs are kept, the runs in progress are dropped. */
  signal?: AbortSignal;
  /** The worker module; tests substitute one that crashes. */
  workerPath?: string;
}

export interface SweepResult {
  /** In spec order; missing entries when interrupted. */
  records: RunRecord[];
  interrupted: boolean;
  stored: Omit<StoredRecords, 'records'>;
}

const DEFAULT_WORKER = new URL('./sweep-worker.js', import.meta.url);

/**
 * Runs every spec in parallel worker processes (one training each at a time) and appends each
 * record to `outDir/results.jsonl` the moment it finishes (one whole line, fsynced), so an
 * interrupted sweep keeps every finished run, and running it again skips them. A worker that dies
 * fails its run (recorded, not retried) and is replaced; the sweep never hangs on it. A write that
 * fails (disk full) stops the sweep with a UserError; the file keeps only whole records.
 */
export async function runSweep(specs: RunSpec[], options: SweepOptions): Promise<SweepResult> {
  const file = join(options.outDir, RESULTS_FILE);
  const { records: previous, ...stored } = await readRecords(file);
  const results = new Map<string, RunRecord>();
  let done = 0;
  for (const spec of specs) {
    const record = previous.get(spec.key);
    if (record) {
      results.set(spec.key, record);
      options.onRecord?.(record, ++done, specs.length, true);
    }
  }
  const queue = specs.filter((s) => !results.has(s.key));
  const workerPath = options.workerPath ?? DEFAULT_WORKER;
  const children = new Set<ChildProcess>();
  let stopping = false;
  let writeError: unknown;
  let writes = Promise.resolve();

  const stopAll = () => {
    stopping = true;
    queue.length = 0;
    for (const child of children) child.kill('SIGKILL');
  };
  const finish = (record: RunRecord) => {
    results.set(record.key, record);
    writes = writes.then(async () => {
      if (writeError) return;
      try {
        await appendRecord(file, record);
        options.onRecord?.(record, ++done, specs.length, false);
      } catch (err) {
        writeError = err;
        results.delete(record.key);
        stopAll();
      }
    });
  };
  const onAbort = () => stopAll();
  options.signal?.addEventListener('abort', onAbort);

  const runWorker = (): Promise<void> =>
    new Promise((resolveWorker) => {
      let current: RunSpec | undefined;
      let started = 0;
      let child: ChildProcess;
      const next = () => {
        current = queue.shift();
        if (!current) {
          if (child.connected) child.disconnect();
          return;
        }
        started = performance.now();
        child.send({ spec: current, backend: options.backend });
      };
      const spawn = () => {
        child = fork(workerPath, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
        children.add(child);
        let stderr = '';
        child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
        child.on('message', (record: RunRecord) => {
          current = undefined;
          finish(record);
          next();
        });
        child.on('exit', (code, signal) => {
          children.delete(child);
          if (current && !stopping) {
            const why = signal ? `worker killed by ${signal}` : `worker exited with code ${code}`;
            const lastLine = stderr.trim().split('\n').at(-1);
            finish({
              key: current.key,
              label: current.label,
              seed: current.seed,
              status: 'failed',
              epochs: [],
              seconds: (performance.now() - started) / 1000,
              error: lastLine ? `${why}: ${lastLine}` : why,
            });
            current = undefined;
            if (queue.length) {
              spawn();
              next();
              return;
            }
          }
          resolveWorker();
        });
      };
      spawn();
      next();
    });

  const workers = Math.max(1, Math.min(options.jobs, queue.length));
  try {
    if (queue.length) await Promise.all(Array.from({ length: workers }, runWorker));
    await writes;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (writeError) {
    throw new UserError(
      `cannot write ${file}: ${describeFsError(writeError)}; the sweep stopped with ${done} of ${specs.length} runs kept whole in it; make room and run the same command to resume`,
    );
  }
  const interrupted = specs.some((s) => !results.has(s.key));
  return { records: specs.map((s) => results.get(s.key)).filter((r): r is RunRecord => r !== undefined), interrupted, stored };
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
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** How close to the floor a final loss must be to count as "predicts the base rate". */
export const FLOOR_MARGIN = 0.02;

/** The verdict in words, from what the runs of one configuration did. */
export function verdictFor(s: Omit<ConfigSummary, 'verdict' | 'curve'>): string {
  const completed = s.runs - s.failed;
  if (completed === 0) return 'every run failed to complete';
  const diverged = Math.round(s.divergedAny * completed);
  if (diverged === completed) return 'does not fix the NaN';
  if (diverged > 0) return `fixes the NaN in only ${completed - diverged} of ${completed} runs`;
  if (!s.finalLoss || s.floor === null) return 'no NaN';
  const gap = s.finalLoss.median - s.floor;
  if (gap > FLOOR_MARGIN) {
    return s.probabilisticHead ? 'no NaN, but loss still above the floor (not learned yet)' : 'hides the NaN; loss worse than predicting the base rate';
  }
  if (gap >= -FLOOR_MARGIN) return 'no NaN, but learns nothing: loss at the floor (predicts the base rate)';
  const exact = s.exactMatch === null ? '' : ` (exact-match ${(100 * s.exactMatch).toFixed(1)}%)`;
  return `fixes the NaN and learns${exact}`;
}

/** Aggregates records per configuration label, in the order the labels first appear. */
export function summarize(records: RunRecord[], activationOf: (label: string) => Config['activation']): ConfigSummary[] {
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
    const curve = Array.from({ length: epochCount }, (_, k) => {
      const losses = healthy.map((r) => r.epochs[k]?.loss).filter((l): l is number => l !== undefined && Number.isFinite(l));
      return { epoch: k + 1, median: median(losses), min: Math.min(...losses), max: Math.max(...losses) };
    }).filter((p) => Number.isFinite(p.median));
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
    return { ...summary, verdict: verdictFor(summary), curve };
  });
}
