/**
 * `npm run bench:scale`: how training time grows with the model, seq-tag beside PyTorch and Keras.
 *
 * Each configuration is trained in a fresh process by each framework that is installed: seq-tag
 * through its CLI (`train --json`, fit = its trainSeconds), PyTorch and Keras through
 * bench/scale_torch.py and bench/scale_keras.py (fit = the time around their training loop / fit).
 * "whole" is the process's wall time. The Python columns need a Python with torch or keras: by
 * default .venv-torch/bin/python and .venv-keras/bin/python (see README), or SEQ_TAG_TORCH_PYTHON /
 * SEQ_TAG_KERAS_PYTHON; a missing one is skipped and said so.
 * Options: --only seq-tag (no Python), --rows a,b (by name), --repeats N (median of N runs, default 1),
 * --dtype float32|float64, --threads N, --kernels auto|native|wasm (passed to seq-tag train).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median } from '../src/sweep/sweep.js';
import { SEQUENCE_LENGTH } from '../src/task/data.js';
import { argText, machineLine, measured, table, timeCli } from './common.js';
import { kernelPeak } from './kernel.js';
import { nativeKernels } from '../src/training/fused/wasm/instance.js';

interface Row {
  name: string;
  label: string;
  units: number;
  bidirectional: boolean;
  encoding: 'scalar' | 'onehot';
  samples: number;
  epochs: number;
  lr: number;
}

const size = (units: number, bidirectional: boolean): Row => ({
  name: `${bidirectional ? 'bilstm' : 'lstm'}${units}`,
  label: `${bidirectional ? 'BiLSTM' : 'LSTM'} ${units}, one-hot, 10,000 seqs, 2 epochs`,
  units,
  bidirectional,
  encoding: 'onehot',
  samples: 10_000,
  epochs: 2,
  lr: 0.001,
});

const ROWS: Row[] = [
  {
    name: 'seed',
    label: 'seed: LSTM 16, scalar, 1,000 seqs, 20 epochs',
    units: 16,
    bidirectional: false,
    encoding: 'scalar',
    samples: 1000,
    epochs: 20,
    lr: 0.001,
  },
  {
    name: 'solve',
    label: 'solve preset: BiLSTM 16, one-hot, 6,000 seqs, 12 epochs',
    units: 16,
    bidirectional: true,
    encoding: 'onehot',
    samples: 6000,
    epochs: 12,
    lr: 0.015,
  },
  ...[16, 32, 64, 128].flatMap((u) => [size(u, false), size(u, true)]),
];

/** Multiply-adds ×2 of the LSTM's matrix products per epoch: forward h·R, backward dz·Rᵀ and hᵀ·dz. */
function gflop(row: Row): number {
  const u = row.units;
  return (3 * 2 * row.samples * (SEQUENCE_LENGTH - 1) * u * 4 * u * (row.bidirectional ? 2 : 1) * row.epochs) / 1e9;
}

interface Timing {
  fit: number;
  whole: number;
  /** Peak resident memory of the process, MiB (when GNU time is installed). */
  rss?: number;
}

function seqTag(row: Row): Timing | string {
  const args = ['train', '--units', String(row.units), '--encoding', row.encoding, '--samples', String(row.samples)];
  args.push('--epochs', String(row.epochs), '--lr', String(row.lr), '--seed', '1');
  if (row.bidirectional) args.push('--bidirectional');
  for (const name of ['--dtype', '--threads', '--kernels']) if (argText(name)) args.push(name, argText(name)!);
  const run = timeCli(args);
  if (run.status !== 0 || !run.doc) return `failed: ${run.stderr.trim().split('\n')[0]}`;
  return { fit: run.doc.trainSeconds, whole: run.wallSeconds, rss: run.maxRssMiB };
}

const here = fileURLToPath(new URL('../../bench/', import.meta.url));

function python(which: 'torch' | 'keras'): string | undefined {
  const path = process.env[`SEQ_TAG_${which.toUpperCase()}_PYTHON`] ?? fileURLToPath(new URL(`../../.venv-${which}/bin/python`, import.meta.url));
  return existsSync(path) ? path : undefined;
}

function pythonRun(interpreter: string, which: 'torch' | 'keras', row: Row): Timing | string {
  const args = [`${here}scale_${which}.py`, '--units', String(row.units), '--encoding', row.encoding, '--samples', String(row.samples)];
  args.push('--epochs', String(row.epochs), '--lr', String(row.lr));
  if (row.bidirectional) args.push('--bidirectional');
  const result = measured(interpreter, args);
  try {
    return { fit: JSON.parse(result.stdout.trim().split('\n').pop()!).fitSeconds, whole: result.wallSeconds, rss: result.maxRssMiB };
  } catch {
    return `failed: ${result.stderr.trim().split('\n').pop()}`;
  }
}

function repeated(run: () => Timing | string, times: number): Timing | string {
  const runs = Array.from({ length: times }, run);
  const ok = runs.filter((r): r is Timing => typeof r !== 'string');
  if (!ok.length) return runs[0];
  const rss = ok.every((r) => r.rss !== undefined) ? median(ok.map((r) => r.rss!)) : undefined;
  return { fit: median(ok.map((r) => r.fit)), whole: median(ok.map((r) => r.whole)), rss };
}

const only = argText('--only');
const wanted = argText('--rows')?.split(',');
const repeats = Number(argText('--repeats') ?? 1);
const rows = ROWS.filter((r) => !wanted || wanted.includes(r.name));
const frameworks: { name: string; run: (row: Row) => Timing | string }[] = [{ name: 'seq-tag', run: seqTag }];
for (const which of ['torch', 'keras'] as const) {
  const interpreter = only === 'seq-tag' ? undefined : python(which);
  if (interpreter) frameworks.push({ name: which === 'torch' ? 'PyTorch' : 'Keras', run: (row) => pythonRun(interpreter, which, row) });
  else if (only !== 'seq-tag')
    console.log(`(no ${which} Python found: set SEQ_TAG_${which.toUpperCase()}_PYTHON or make .venv-${which}; its column is skipped)`);
}

console.log(`seq-tag bench:scale · ${machineLine()} · ${repeats === 1 ? 'one run' : `median of ${repeats} runs`} each`);
// The physical limit for this arithmetic: the engine's own matrix-product kernel on one thread (both builds, the one that runs last).
const kinds = nativeKernels() && argText('--kernels') !== 'wasm' ? (['wasm', 'native'] as const) : (['wasm'] as const);
let peak = kernelPeak(1, kinds[0]);
for (const kind of kinds) {
  peak = kernelPeak(1, kind);
  console.log(
    `${kind} matrix-product kernel alone (${peak.shape}, one thread): ${peak.gflops.toFixed(1)} GFLOP/s, so ${(2 * peak.gflops).toFixed(1)} on two threads`,
  );
}
// The same product in PyTorch (AVX-512 and FMA on these cores): what the machine gives this shape.
const torchPython = only === 'seq-tag' ? undefined : python('torch');
if (torchPython) {
  const result = measured(torchPython, [`${here}kernel_torch.py`]);
  try {
    const rate = (JSON.parse(result.stdout.trim()) as { gflops: number }).gflops;
    console.log(`the same product in PyTorch (one thread): ${rate.toFixed(1)} GFLOP/s (×${(rate / peak.gflops).toFixed(2)} the engine's kernel)`);
  } catch {
    console.log(`the same product in PyTorch: failed (${result.stderr.trim().split('\n').pop()})`);
  }
}
const header = ['configuration', ...frameworks.map((f) => `${f.name} fit / whole s · MiB`), 'seq-tag GFLOP/s (of 2-thread peak)'];
if (frameworks.length > 1) header.push('vs fastest other (fit)');
const out = [header];
const fits: { label: string; seconds: (number | undefined)[] }[] = [];
for (const row of rows) {
  const timings = frameworks.map((f) => repeated(() => f.run(row), repeats));
  if (/^(bi)?lstm/.test(row.name)) fits.push({ label: row.label.split(',')[0], seconds: timings.map((t) => (typeof t === 'string' ? undefined : t.fit)) });
  const cells = timings.map((t) =>
    typeof t === 'string' ? t : `${t.fit.toFixed(2)} / ${t.whole.toFixed(2)} · ${t.rss === undefined ? '?' : Math.round(t.rss)}`,
  );
  const own = timings[0];
  const rate = typeof own === 'string' ? 0 : gflop(row) / own.fit;
  cells.push(typeof own === 'string' ? '' : `${rate.toFixed(1)} (${Math.round((100 * rate) / (2 * peak.gflops))}%)`);
  if (frameworks.length > 1) {
    const others = timings.slice(1).filter((t): t is Timing => typeof t !== 'string');
    const best = Math.min(...others.map((t) => t.fit));
    cells.push(typeof own === 'string' || !others.length ? '' : `×${(own.fit / best).toFixed(2)}`);
  }
  out.push([row.label, ...cells]);
  console.log(`${row.label}: ${cells.join(' · ')}`);
}
console.log(`\n${table(out)}`);
if (fits.length)
  console.log(
    `\n${bars(
      fits,
      frameworks.map((f) => f.name),
    )}`,
  );

/** Fit seconds as horizontal bars, one line per framework, so the growth with the units shows. */
function bars(lines: typeof fits, names: string[]): string {
  const marks = ['█', '▓', '░'];
  const max = Math.max(...lines.flatMap((l) => l.seconds.filter((s): s is number => s !== undefined)));
  const width = Math.max(...lines.map((l) => l.label.length));
  const legend = names.map((n, i) => `${marks[i]} ${n}`).join('  ');
  const body = lines.flatMap((l) =>
    l.seconds.map((sec, i) => {
      const label = i === 0 ? l.label.padEnd(width) : ' '.repeat(width);
      return sec === undefined ? `${label}  ${marks[i]} (failed)` : `${label}  ${marks[i].repeat(Math.max(1, Math.round((48 * sec) / max)))} ${sec.toFixed(2)}`;
    }),
  );
  return [`fit seconds (${legend})`, ...body].join('\n');
}
