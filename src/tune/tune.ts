import { estimateCost } from '../training/cost.js';
import { checkCombination, type Config } from '../config/config.js';
import { rngFor } from '../shared/random.js';
import { runKey, type PruneRule, type RunRecord, type RunSpec } from '../sweep/records.js';
import type { SweepResult } from '../sweep/sweep.js';
import { medianRule } from '../sweep/pruner.js';
import type { Dimension, Point } from './space.js';
import { startupPoints, suggest, TPE, type Observation } from './tpe.js';

/** One trial: its number, the point it tried, and its record (the sweep's, in results.jsonl). */
export interface Trial {
  number: number;
  point: Point;
  record: RunRecord;
  /** The objective: the last epoch's validation loss; Infinity for a pruned or diverged trial. */
  value: number;
  /** Seconds from the start of this tune to the trial's end (absent for trials of an earlier, resumed tune). */
  finishedAt?: number;
}

export interface TuneSetup {
  base: Omit<Config, 'seed'>;
  /** Every trial trains on this seed's data (a fair comparison); the sampler's stream is derived from it too. */
  seed: number;
  dims: Dimension[];
  trials: number;
  /** No trial starts after this many minutes (the ones running finish). */
  minutes?: number;
  /** No trial starts once one has reached this held-out exact-match (the ones running finish). */
  goal?: number;
  /** Epochs before the median rule may stop a trial. */
  warmup: number;
  /** Trials run at once after the random start: one per worker. */
  parallel: number;
}

export interface TuneHooks {
  /**
   * Runs trials on the pool or the queue, recording each exactly once (runSweep / runQueueSweep);
   * none may start after `startBy` (performance.now() ms, the --minutes budget) when it is finite.
   */
  run: (specs: RunSpec[], startBy: number) => Promise<SweepResult>;
  /** Called with every trial so far after each round. */
  onRound?: (trials: Trial[]) => void;
  signal?: AbortSignal;
  /** When each run's record arrived, by key, in seconds from the tune's start (filled by the caller's onRecord). */
  finishTimes?: Map<string, number>;
}

const LABEL = /^trial (\d+)$/;

/** Whether a record reached `goal` (held-out exact-match); never without a goal. */
export function reachesGoal(record: RunRecord, goal: number | undefined): boolean {
  return goal !== undefined && record.status === 'ok' && (record.evaluation?.exactMatch ?? 0) >= goal;
}

/** The objective of a record: lower is better. */
export function objective(record: RunRecord): number {
  if (record.status !== 'ok') return Infinity;
  const loss = record.epochs.at(-1)?.validation?.loss;
  return loss !== undefined && Number.isFinite(loss) ? loss : Infinity;
}

/** The trials an earlier run of the same tune recorded (failed runs are not in `previous`: their trial is tried anew). */
export function trialsFrom(previous: Map<string, RunRecord>, dims: Dimension[]): Trial[] {
  return [...previous.values()]
    .map((record) => trialOf(record, dims))
    .filter((t): t is Trial => t !== undefined)
    .sort((a, b) => a.number - b.number);
}

/** The trial a record is (its label `trial N`), or undefined for another run's record. */
export function trialOf(record: RunRecord, dims: Dimension[]): Trial | undefined {
  const match = LABEL.exec(record.label);
  if (!match) return undefined;
  const point = Object.fromEntries(dims.map((d) => [d.attribute, record.config[d.attribute as keyof Config]]));
  return { number: Number(match[1]), point, record, value: objective(record) };
}

/** The run of trial `number` at `point`, stopped by `prune` (the median rule of the trials completed so far) if given. */
function specFor(setup: TuneSetup, number: number, point: Point, prune: PruneRule | undefined): RunSpec {
  const config = { ...setup.base, ...point, seed: setup.seed } as Config;
  checkCombination(config);
  const label = `trial ${number}`;
  return { key: runKey(label, config), label, seed: setup.seed, config, ...(prune ? { prune } : {}) };
}

/**
 * Searches `setup.dims` for the configuration with the lowest validation loss: TPE proposes each
 * trial from the finished ones (the first ten are a Latin hypercube, run as one round, shortest first), the median rule stops
 * trials that fall behind, and every trial is a sweep run recorded exactly once. Continues the
 * trials of `done` (an interrupted tune run again). Returns every trial, in order.
 */
export async function tune(
  setup: TuneSetup,
  done: Trial[],
  hooks: TuneHooks,
): Promise<{ trials: Trial[]; interrupted: boolean; goalReached: boolean; failed?: string }> {
  const trials = [...done];
  const startup = startupPoints(setup.dims, rngFor(setup.seed, 'tune-startup'));
  const started = performance.now();
  const deadline = setup.minutes === undefined ? Infinity : started + setup.minutes * 60_000;
  const reached = () => trials.some((t) => reachesGoal(t.record, setup.goal));
  while (trials.length < setup.trials && performance.now() < deadline && !reached()) {
    if (hooks.signal?.aborted) return { trials, interrupted: true, goalReached: false };
    const size = Math.min(setup.trials - trials.length, trials.length < TPE.startup ? TPE.startup - trials.length : setup.parallel);
    const history: Observation[] = trials.map((t) => ({ point: t.point, value: t.value }));
    const numbers = nextNumbers(trials, size);
    // One rule for the round: the completed trials do not change while it is being made.
    const prune = medianRule(
      trials.map((t) => t.record),
      setup.base.epochs,
      setup.warmup,
    );
    const round = numbers.map((number) => {
      // Trial n ≤ STARTUP takes the n-th start-up point (the same ones on a resume); later ones come from TPE.
      const point = number <= TPE.startup ? startup[number - 1] : suggest(setup.dims, history, rngFor(setup.seed, `tune-trial-${number}`));
      return { number, point, spec: specFor(setup, number, point, prune) };
    });
    // Shortest first (by seq-tag's cost estimate): results arrive sooner, and a --minutes budget holds more trials.
    const specs = round.map((r) => r.spec).sort((a, b) => estimateCost(a.config).seconds - estimateCost(b.config).seconds);
    const result = await hooks.run(specs, deadline);
    const roundEnd = (performance.now() - started) / 1000;
    const failures: string[] = [];
    for (const { number, point, spec } of round) {
      const record = result.records.find((r) => r.key === spec.key);
      const finishedAt = hooks.finishTimes?.get(spec.key) ?? roundEnd;
      // A failed run (a worker crash) is not a point of the search.
      if (record && record.status !== 'failed') trials.push({ number, point, record, value: objective(record), finishedAt });
      else if (record) failures.push(record.error ?? 'no reason given');
    }
    hooks.onRound?.(trials);
    // A round whose every run failed would fail again (the same data, build and settings): stop, not loop.
    if (failures.length === round.length && !result.interrupted) return { trials, interrupted: false, goalReached: false, failed: failures[0] };
    // Runs left out because the --minutes budget ran out, or a trial reached the --goal, end the search; anything else interrupted it.
    if (result.interrupted && (hooks.signal?.aborted || (performance.now() < deadline && !reached()))) return { trials, interrupted: true, goalReached: false };
  }
  return { trials, interrupted: false, goalReached: reached() };
}

/**
 * The numbers of the next `size` trials: first those an interrupted tune left out (a round runs
 * shortest first, so its trials 3 and 6 may be the ones missing), then new ones. So a tune run again
 * after an interruption tries the same start-up points as one never stopped.
 */
export function nextNumbers(trials: Trial[], size: number): number[] {
  const taken = new Set(trials.map((t) => t.number));
  const numbers: number[] = [];
  for (let n = 1; numbers.length < size; n++) if (!taken.has(n)) numbers.push(n);
  return numbers;
}

/** The best trial: the lowest validation loss among the completed ones. */
export function bestTrial(trials: Trial[]): Trial | undefined {
  return trials.filter((t) => Number.isFinite(t.value)).reduce<Trial | undefined>((best, t) => (!best || t.value < best.value ? t : best), undefined);
}
