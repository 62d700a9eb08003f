/**
 * `npm run bench:inference`: the forward pass alone (what `predict` and `evaluate` run on a batch of
 * sequences), seq-tag's fused engine and tf.layers beside PyTorch's and Keras's `model(x)`.
 *
 * 10,000 one-hot digit sequences through LSTM or BiLSTM of 16–128 units and a Dense(2) softmax head,
 * in one process per framework, median of 3 timed passes after one warm-up. seq-tag: the fused
 * engine's predictor (src/training/fused/inference.ts, chunks of 1,024) and tf.layers' model.predict
 * on the default backend. PyTorch and Keras: bench/inference_torch.py and bench/inference_keras.py
 * (model(x) under no_grad / with training=False), found as in bench:scale (.venv-torch, .venv-keras or
 * SEQ_TAG_TORCH_PYTHON / SEQ_TAG_KERAS_PYTHON); a missing one is skipped and said so.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { ORIGINAL_EXPERIMENT } from '../src/config/config.js';
import { initBackend } from '../src/model/backend.js';
import { buildModel } from '../src/model/model.js';
import { median } from '../src/sweep/sweep.js';
import { generateDataset } from '../src/task/data.js';
import { inputTensor, taskData } from '../src/task/tag-data.js';
import { rngFor } from '../src/shared/random.js';
import { fusedPredictor } from '../src/training/fused/inference.js';
import { machineLine, measured, table } from './common.js';

const N = 10_000;
const SIZES = [16, 32, 64, 128].flatMap((units) => [false, true].map((bidirectional) => ({ units, bidirectional })));
const label = (s: { units: number; bidirectional: boolean }) => `${s.bidirectional ? 'BiLSTM' : 'LSTM'} ${s.units}`;

/** Median seconds of 3 runs of `f` after one unmeasured run. */
function timed(f: () => void): number {
  f();
  return median(
    [0, 1, 2].map(() => {
      const started = performance.now();
      f();
      return (performance.now() - started) / 1000;
    }),
  );
}

function python(which: 'torch' | 'keras'): string | undefined {
  const path = process.env[`SEQ_TAG_${which.toUpperCase()}_PYTHON`] ?? fileURLToPath(new URL(`../../.venv-${which}/bin/python`, import.meta.url));
  return existsSync(path) ? path : undefined;
}

const backend = await initBackend('auto');
const data = taskData(generateDataset(N, rngFor(1, 'bench-inference')), 'onehot', 'generated');
const seqTag = SIZES.map((size) => {
  const model = buildModel({ ...ORIGINAL_EXPERIMENT, encoding: 'onehot', ...size }, 1);
  const predictor = fusedPredictor(model, 'digits')!;
  const fused = timed(() => predictor(data, N));
  const x = inputTensor(data);
  const layers = timed(() => tf.tidy(() => (model.predict(x, { batchSize: 1024 }) as tf.Tensor).dataSync()));
  x.dispose();
  predictor.dispose();
  model.dispose();
  return { fused, layers };
});

const others: { name: string; seconds: (number | undefined)[] }[] = [];
for (const which of ['torch', 'keras'] as const) {
  const interpreter = python(which);
  if (!interpreter) {
    console.log(`(no ${which} Python found: set SEQ_TAG_${which.toUpperCase()}_PYTHON or make .venv-${which}; its column is skipped)`);
    continue;
  }
  const run = measured(interpreter, [fileURLToPath(new URL(`../../bench/inference_${which}.py`, import.meta.url)), '--samples', String(N)]);
  const doc = (() => {
    try {
      return JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, number>;
    } catch {
      return {};
    }
  })();
  others.push({ name: which === 'torch' ? 'PyTorch model(x)' : 'Keras model(x)', seconds: SIZES.map((s) => doc[label(s)]) });
}

console.log(`seq-tag bench:inference · ${machineLine()} · backend ${backend.name} · ${N.toLocaleString('en-US')} one-hot sequences of 10 · median of 3`);
const header = ['model', 'seq-tag fused s', 'tf.layers s', ...others.map((o) => `${o.name} s`)];
if (others.length) header.push('fused vs fastest other');
const rows = SIZES.map((size, k) => {
  const own = seqTag[k];
  const times = others.map((o) => o.seconds[k]);
  const known = times.filter((t): t is number => t !== undefined);
  const cells = [label(size), own.fused.toFixed(3), own.layers.toFixed(3), ...times.map((t) => (t === undefined ? 'failed' : t.toFixed(3)))];
  if (others.length) cells.push(known.length ? `×${(own.fused / Math.min(...known)).toFixed(2)}` : '');
  return cells;
});
console.log(table([header, ...rows]));
