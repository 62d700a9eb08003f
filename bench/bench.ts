/**
 * `npm run bench` (this, then bench/solve.ts): what the seed experiment costs on every available
 * backend and engine.
 * Prints kernels per training step (tf.profile) and, over several whole-process runs of
 * `seq-tag train --seed 1` (1,000 sequences, LSTM 16, batch 32, 20 epochs), the median wall time and
 * seconds per epoch. A benchmark, not a test: it prints figures and fails only if a run fails.
 * Options: --repeats N (default 5; layers engine runs use min(N, 3)).
 */
import tf = require('@tensorflow/tfjs-core');
import { initBackend, type BackendName } from '../src/model/backend.js';
import { ORIGINAL_EXPERIMENT, type Config, type Dtype, type LstmEngine } from '../src/config/config.js';
import { createExperiment, runExperiment } from '../src/training/experiment.js';
import { median } from '../src/sweep/sweep.js';
import { argValue, machineLine, table, timeCli } from './common.js';

const BACKENDS: BackendName[] = ['wasm', 'cpu', 'tensorflow'];
const ENGINES: LstmEngine[] = ['fused', 'layers'];
/** What each engine computes in: the fused engine both ways, the layers engine in float32 only. */
const VARIANTS: { lstm: LstmEngine; dtype: Dtype }[] = [
  { lstm: 'fused', dtype: 'float32' },
  { lstm: 'fused', dtype: 'float64' },
  { lstm: 'layers', dtype: 'float32' },
];

/** Kernels one more training step dispatches: a 2-batch run minus a 1-batch run, so setup cancels out. */
async function kernelsPerStep(lstm: LstmEngine): Promise<number> {
  const count = async (batches: number) => {
    const config: Config = { ...ORIGINAL_EXPERIMENT, samples: 32 * batches, epochs: 1, seed: 1, lstm };
    const experiment = createExperiment(config);
    const profile = await tf.profile(async () => {
      await runExperiment(experiment);
    });
    experiment.model.dispose();
    return profile.kernels.length;
  };
  return (await count(2)) - (await count(1));
}

async function main(): Promise<void> {
  const repeats = argValue('--repeats', 5);
  console.log(`seq-tag bench · ${machineLine()}`);
  console.log('seed experiment: 1,000 sequences, LSTM 16, TimeDistributed(Dense(2, softmax)), Adam, batch 32, 20 epochs\n');

  const kernelRows = [['engine', ...BACKENDS.map((b) => `kernels/step on ${b}`)]];
  const available: BackendName[] = [];
  for (const backend of BACKENDS) {
    try {
      await initBackend(backend);
      available.push(backend);
    } catch (err) {
      console.log(`${backend}: not available (${(err as Error).message})`);
    }
  }
  for (const lstm of ENGINES) {
    const row: string[] = [lstm];
    for (const backend of BACKENDS) {
      if (!available.includes(backend)) {
        row.push('n/a');
        continue;
      }
      await initBackend(backend);
      row.push(String(await kernelsPerStep(lstm)));
    }
    kernelRows.push(row);
  }
  console.log(`\n${table(kernelRows)}\n`);

  const rows = [['backend / engine', 'runs', 'median wall s', 'min wall s', 'train s', 's/epoch', 'final loss']];
  let failures = 0;
  for (const backend of available) {
    for (const { lstm, dtype } of VARIANTS) {
      const n = lstm === 'layers' ? Math.min(repeats, 3) : repeats;
      const runs = Array.from({ length: n }, () => timeCli(['train', '--seed', '1', '--backend', backend, '--lstm', lstm, '--dtype', dtype]));
      const ok = runs.filter((r) => r.status === 0 && r.doc);
      if (ok.length < runs.length) {
        failures++;
        console.log(`${backend}/${lstm} ${dtype}: ${runs.length - ok.length} run(s) failed: ${runs.find((r) => r.status !== 0)?.stderr.trim()}`);
      }
      if (!ok.length) continue;
      const docs = ok.map((r) => r.doc!);
      const epochSeconds = docs.flatMap((d) => d.epochs.map((e) => e.seconds));
      rows.push([
        `${backend} / ${lstm} ${dtype}`,
        String(ok.length),
        median(ok.map((r) => r.wallSeconds)).toFixed(2),
        Math.min(...ok.map((r) => r.wallSeconds)).toFixed(2),
        median(docs.map((d) => d.trainSeconds)).toFixed(2),
        median(epochSeconds).toFixed(3),
        (docs[0].epochs.at(-1)?.loss ?? NaN).toFixed(4),
      ]);
      console.log(
        table(rows.slice(0, 1).concat([rows.at(-1)!]))
          .split('\n')
          .at(-1),
      );
    }
  }
  console.log(`\n${table(rows)}`);
  if (failures) process.exitCode = 1;
}

await main();
