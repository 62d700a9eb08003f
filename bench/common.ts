import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config/config.js';
import type { Evaluation } from '../src/task/metrics.js';
import type { EpochRecord } from '../src/training/train.js';

/** The built CLI, run as a user runs it. */
export const BIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** The parts of `seq-tag train --json` the benchmarks read. */
export interface TrainDocument {
  config: Config;
  epochs: EpochRecord[];
  trainSeconds: number;
  evaluation: Evaluation;
}

export interface TimedRun {
  wallSeconds: number;
  /** Peak resident memory of the process in MiB (GNU time's %M), when /usr/bin/time is there. */
  maxRssMiB?: number;
  status: number | null;
  // `seq-tag train --json`, as printed; null when it did not parse.
  doc: TrainDocument | null;
  stderr: string;
}

const GNU_TIME = '/usr/bin/time';
const RSS_MARK = 'seq-tag-bench-max-rss-kib=';

/**
 * Runs a process to its end and times it; under GNU time when it is installed, which adds the
 * peak resident memory (its own line on stderr, taken off again).
 */
export function measured(command: string, args: string[]): { stdout: string; stderr: string; status: number | null; wallSeconds: number; maxRssMiB?: number } {
  const timed = existsSync(GNU_TIME);
  const started = performance.now();
  const result = timed
    ? spawnSync(GNU_TIME, ['-f', `${RSS_MARK}%M`, command, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 })
    : spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  const wallSeconds = (performance.now() - started) / 1000;
  const mark = result.stderr.lastIndexOf(RSS_MARK);
  const maxRssMiB = mark >= 0 ? Number(result.stderr.slice(mark + RSS_MARK.length).trim()) / 1024 : undefined;
  return { stdout: result.stdout, stderr: mark >= 0 ? result.stderr.slice(0, mark) : result.stderr, status: result.status, wallSeconds, maxRssMiB };
}

/** Runs `seq-tag <args> --json` in a fresh process and times the whole process. */
export function timeCli(args: string[]): TimedRun {
  const dir = mkdtempSync(join(tmpdir(), 'seq-tag-bench-'));
  const result = measured(process.execPath, [BIN, ...args, '--json', '--model-dir', join(dir, 'model')]);
  const { wallSeconds, maxRssMiB } = result;
  rmSync(dir, { recursive: true, force: true });
  let doc: TimedRun['doc'] = null;
  try {
    doc = JSON.parse(result.stdout);
  } catch {
    // reported by the caller through status and stderr
  }
  return { wallSeconds, maxRssMiB, status: result.status, doc, stderr: result.stderr };
}

export function machineLine(): string {
  return `${new Date().toISOString().slice(0, 10)} · ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'} · Node ${process.version}`;
}

/** A plain aligned table: the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map(
      (r, i) =>
        r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ') +
        (i === 0 ? `\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : ''),
    )
    .join('\n');
}

/** The word after `name` on the command line, if it is there. */
export function argText(name: string): string | undefined {
  const k = process.argv.indexOf(name);
  return k >= 0 ? process.argv[k + 1] : undefined;
}

export function argValue(name: string, fallback: number): number {
  const k = process.argv.indexOf(name);
  return k >= 0 ? Number(process.argv[k + 1]) : fallback;
}
