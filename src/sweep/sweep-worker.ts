/**
 * A sweep worker process: receives run specs over IPC, trains each with the ordinary training code
 * (NaN guard on, so a diverging run stops and is recorded as diverged), evaluates it on held-out
 * data, and sends back the record. One process per core keeps the whole machine busy.
 */
import { initBackend, type BackendChoice, type BackendInfo } from '../model/backend.js';
import { createExperiment, evaluateOnHeldOut, HELD_OUT_SIZE, runExperiment } from '../training/experiment.js';
import type { RunRecord, RunSpec } from './sweep.js';

let backend: BackendInfo | undefined;

async function run(spec: RunSpec, choice: BackendChoice): Promise<RunRecord> {
  backend ??= await initBackend(choice);
  const started = performance.now();
  const experiment = createExperiment(spec.config);
  try {
    // One thread: the pool already runs a process per core.
    const result = await runExperiment(experiment, { threads: 1 });
    const evaluation = result.divergence ? undefined : evaluateOnHeldOut(experiment.model, spec.config, HELD_OUT_SIZE, spec.seed);
    return {
      key: spec.key,
      label: spec.label,
      seed: spec.seed,
      status: result.divergence ? 'diverged' : 'ok',
      epochs: result.epochs,
      divergence: result.divergence,
      evaluation,
      seconds: (performance.now() - started) / 1000,
      backend: backend.name,
    };
  } finally {
    experiment.model.dispose();
  }
}

// The sweep process is gone (Ctrl-C, killed): stop now rather than train for nobody.
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group; the sweep process decides what happens to this run.
process.on('SIGINT', () => {});

async function answer(message: { spec: RunSpec; backend: BackendChoice }): Promise<void> {
  let record: RunRecord;
  try {
    record = await run(message.spec, message.backend);
  } catch (err) {
    const { key, label, seed } = message.spec;
    record = { key, label, seed, status: 'failed', epochs: [], seconds: 0, error: (err as Error).message.split('\n')[0] };
  }
  if (process.connected) process.send!(record);
}

process.on('message', (message: { spec: RunSpec; backend: BackendChoice }) => void answer(message));
