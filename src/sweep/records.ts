// What a sweep run is and what it produced, checked wherever it comes from: a local worker process,
// a queue worker through Redis, or a line of results.jsonl. Nothing unchecked becomes a record.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { anyNumber, divergenceSchema, epochSchema, numberedFromOne, rate } from '../config/records.js';
import { canonicalConfig, configSchema } from '../config/hyperparameters.js';
import type { Config } from '../config/config.js';
import type { Evaluation } from '../task/metrics.js';
import type { Divergence, EpochRecord } from '../training/train.js';
import { describeKernels } from '../training/fused/wasm/instance.js';
import { VERSION } from '../version.js';
import { reviveNumber, spellNumber } from '../shared/format.js';

/** One training run of a sweep: a configuration (named by its label) with one seed. */
export interface RunSpec {
  /** Identifies the run across invocations: the label, the seed and a hash of the full config. */
  key: string;
  label: string;
  seed: number;
  config: Config;
  /** `tune`'s median rule: stop after an epoch whose validation loss is above that epoch's threshold (not part of the record). */
  prune?: PruneRule;
}

/** Per-epoch thresholds on the validation loss (index k: epoch k + 1); no pruning before epoch `warmup` + 1. */
export interface PruneRule {
  warmup: number;
  thresholds: number[];
}

/** A pruned run stopped after an epoch whose validation loss was worse than the rule's threshold: it has no held-out evaluation. */
export type RunStatus = 'ok' | 'diverged' | 'failed' | 'pruned';

/** What training one spec gave: all a worker reports. */
export interface RunOutcome {
  status: RunStatus;
  /** Completed epochs (a run the NaN guard stopped has fewer than asked). */
  epochs: EpochRecord[];
  divergence?: Divergence;
  /** Held-out evaluation of runs that did not diverge. */
  evaluation?: Evaluation;
  seconds: number;
  backend?: string;
  /** Why a failed run failed (a worker crash, an exception, a refusal). */
  error?: string;
}

/** One line of results.jsonl: the run (its whole configuration) and its outcome, with the seq-tag and engine that produced it. */
export interface RunRecord extends RunOutcome, RunSpec {
  seqTagVersion: string;
  engine: string;
}

export function runKey(label: string, config: Config): string {
  const hash = createHash('sha1')
    .update(JSON.stringify(canonicalConfig(config)))
    .digest('hex')
    .slice(0, 12);
  return `${label}|seed=${config.seed}|${hash}`;
}

/** Every configuration × every seed, in that order. */
export function expandRuns(configs: { label: string; config: Omit<Config, 'seed'> }[], seeds: number[]): RunSpec[] {
  return configs.flatMap(({ label, config }) =>
    seeds.map((seed) => {
      const full = { ...config, seed } as Config;
      return { key: runKey(label, full), label, seed, config: full };
    }),
  );
}

/** Errors longer than this are cut: a record is one line a person can read. */
export const MAX_ERROR_LENGTH = 500;

export { divergenceSchema, epochSchema, numberedFromOne };
export const pruneSchema = z.object({ warmup: z.number().int().min(0), thresholds: z.array(anyNumber).max(100_000) }).strict();
const chunkCounts = { precision: rate, recall: rate, f1: rate, support: z.number().int().min(0), predicted: z.number().int().min(0) };
const entitySchema = z
  .object({
    ...chunkCounts,
    macroF1: rate,
    types: z.array(z.object({ type: z.string().max(200), ...chunkCounts }).strict()).max(10_000),
  })
  .strict();
const evaluationSchema = z
  .object({
    sequences: z.number().int().min(1),
    loss: anyNumber.nullable(),
    floor: z.number().min(0),
    tokenAccuracy: rate,
    baselineAccuracy: rate,
    exactMatch: rate,
    precision: rate,
    recall: rate,
    f1: rate,
    recallFirst: rate,
    recallSecond: rate,
    // Since seq-tag 0.2 (any number of tags); records of 0.1 have neither.
    tokens: z.number().int().min(0).optional(),
    perTag: z
      .array(
        z
          .object({
            tag: z.number().int().min(0),
            support: z.number().min(0),
            precision: rate,
            recall: rate,
            f1: rate.optional(),
            predicted: z.number().min(0).optional(),
          })
          .strict(),
      )
      .max(10_000)
      .optional(),
    // Since seq-tag 0.3 (tagging metrics, issue #34).
    macroF1: rate.optional(),
    confusions: z
      .array(z.object({ truth: z.number().int().min(0), predicted: z.number().int().min(0), count: z.number().int().min(1) }).strict())
      .max(5)
      .optional(),
    tagNames: z.array(z.string().max(200)).max(10_000).optional(),
    entities: entitySchema.optional(),
  })
  .strict();
const outcomeShape = {
  status: z.enum(['ok', 'diverged', 'failed', 'pruned']),
  epochs: z.array(epochSchema).max(100_000),
  divergence: divergenceSchema.optional(),
  evaluation: evaluationSchema.optional(),
  seconds: z.number().min(0),
  backend: z.string().max(40).optional(),
  error: z.string().max(MAX_ERROR_LENGTH).optional(),
};
const outcomeSchema = z.object(outcomeShape).strict();
const recordSchema = z
  .object({
    ...outcomeShape,
    key: z.string().max(2000),
    label: z.string().max(1000),
    seed: z.number().int(),
    config: configSchema,
    seqTagVersion: z.string().max(40),
    engine: z.string().max(200),
  })
  .strict();

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue.path.join('.') || 'record'}: ${issue.message}`;
}

/** Whether an outcome is one that training `config` can produce; the reason why not, or undefined. */
function inconsistency(outcome: RunOutcome, config: Config): string | undefined {
  const { status, epochs, divergence, evaluation, error } = outcome;
  if (epochs.length > config.epochs) return `${epochs.length} epochs for a run of ${config.epochs}`;
  if (!numberedFromOne(epochs)) return 'epochs are not numbered 1, 2, …';
  if (status === 'failed') return error === undefined ? 'a failed run without its error' : undefined;
  if (status === 'diverged') return divergence && divergence.epoch <= config.epochs ? undefined : 'a diverged run without its divergence';
  if (divergence) return `an ${status} run with a divergence`;
  if (status === 'pruned') {
    if (evaluation) return 'a pruned run with a held-out evaluation';
    return epochs.length >= 1 && epochs.length < config.epochs && epochs.every((e) => e.validation) ? undefined : 'a pruned run without its validated epochs';
  }
  // Early stopping may end an ok run before its last epoch, never before its first.
  const complete = config.earlyStopping === null ? epochs.length === config.epochs : epochs.length >= 1;
  if (!complete) return `an ok run with ${epochs.length} of ${config.epochs} epochs`;
  if (config.validationSplit > 0 && !epochs.every((e) => e.validation)) return 'a run with a validation split but an epoch without its validation';
  if (!epochs.every((e) => Number.isFinite(e.loss))) return 'an ok run with a non-finite loss';
  return evaluation ? undefined : 'an ok run without its held-out evaluation';
}

/** Checks what a worker (or anything claiming to be one) returned for `spec`; throws an Error saying what is wrong. */
export function checkOutcome(data: unknown, spec: RunSpec): RunOutcome {
  const parsed = outcomeSchema.safeParse(data);
  if (!parsed.success) throw new Error(`not a run outcome (${firstIssue(parsed.error)})`);
  const outcome = data as RunOutcome;
  const why = inconsistency(outcome, spec.config);
  if (why) throw new Error(`not a possible outcome of this run (${why})`);
  return outcome;
}

/** What trained a sweep run: each run has one thread (a sweep runs a process per core). */
function engineOf(config: Config): string {
  if (config.lstm === 'layers') return 'layers engine, float32 (tfjs)';
  return `fused engine, ${config.dtype === 'float64' ? 'float64 (JavaScript)' : `float32 (${describeKernels()}, 1 thread)`}`;
}

/** The record of `spec`'s outcome, as this seq-tag writes it. */
export function recordFor(spec: RunSpec, outcome: RunOutcome): RunRecord {
  return { key: spec.key, label: spec.label, seed: spec.seed, config: spec.config, seqTagVersion: VERSION, engine: engineOf(spec.config), ...outcome };
}

/** The outcome of a run that did not complete. */
export function failedOutcome(reason: string, seconds = 0): RunOutcome {
  return { status: 'failed', epochs: [], seconds, error: reason.length > MAX_ERROR_LENGTH ? `${reason.slice(0, MAX_ERROR_LENGTH - 1)}…` : reason };
}

/** An outcome as plain JSON data (non-finite numbers as strings), for a transport that would turn NaN into null. */
export function portable<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value, spellNumber)) as T;
}

/** The inverse of portable; anything that is not JSON data comes back as undefined. */
export function revived(data: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(data), reviveNumber) as unknown;
  } catch {
    return undefined;
  }
}

export function recordLine(record: RunRecord): string {
  return `${JSON.stringify(record, spellNumber)}\n`;
}

/** Reads one line of results.jsonl; throws an Error saying what is wrong with it. */
export function parseRecordLine(line: string): RunRecord {
  let data: unknown;
  try {
    data = JSON.parse(line, reviveNumber);
  } catch {
    throw new Error('not JSON');
  }
  const parsed = recordSchema.safeParse(data);
  if (!parsed.success) throw new Error(firstIssue(parsed.error));
  // The data as read, not zod's copy: the key hashes the config in the order it was written.
  const record = data as RunRecord;
  if (record.seed !== record.config.seed || record.key !== runKey(record.label, record.config)) throw new Error('its key does not match its label and config');
  const why = inconsistency(record, record.config);
  if (why) throw new Error(why);
  return record;
}
