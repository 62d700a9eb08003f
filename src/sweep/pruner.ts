import type { PruneRule, RunRecord } from './records.js';
import { median } from './sweep.js';

/**
 * The median rule (Optuna's MedianPruner, Google Vizier's "median stopping rule"): a trial is
 * stopped after an epoch whose validation loss is worse than the median of the completed trials'
 * validation losses at that same epoch. It waits for STARTUP completed trials and never stops a
 * trial in its first `warmup` epochs. The thresholds travel with the run (a worker needs no one
 * else's results), so with parallel workers they are the medians when the trial was started.
 */
export const MEDIAN_RULE = { startup: 5 } as const;

/** The rule for a trial started now, or undefined while too few trials have completed. */
export function medianRule(completed: RunRecord[], epochs: number, warmup: number): PruneRule | undefined {
  const full = completed.filter((r) => r.status === 'ok' && r.epochs.length === epochs);
  if (full.length < MEDIAN_RULE.startup) return undefined;
  const thresholds = Array.from({ length: epochs }, (_, k) => median(full.map((r) => r.epochs[k].validation?.loss ?? Infinity)));
  return { warmup, thresholds };
}

/** Whether a trial whose validation loss after `epoch` is `loss` is stopped by `rule`. */
export function shouldPrune(rule: PruneRule, epoch: number, loss: number | undefined): boolean {
  if (epoch <= rule.warmup || loss === undefined) return false;
  const threshold = rule.thresholds[epoch - 1];
  return threshold !== undefined && !(loss <= threshold);
}
