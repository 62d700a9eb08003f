/**
 * A sweep worker process: receives run specs over IPC, trains each with the ordinary training code
 * (NaN guard on, so a diverging run stops and is recorded as diverged), evaluates it on held-out
 * data, and sends back the record. One process per core keeps the whole machine busy.
 */
import { initBackend, type BackendChoice, type BackendInfo } from '../model/backend.js';
import { createExperiment, evaluateOnHeldOut, HELD_OUT_SIZE, runExperiment } from '../training/experiment.js';
import { failedOutcome, type RunOutcome, type RunSpec } from './records.js';
import { shouldPrune } from './pruner.js';

let backend: BackendInfo | undefined;

async function run(spec: RunSpec, choice: BackendChoice): Promise<RunOutcome> {
  backend ??= await initBackend(choice);
  const started = performance.now();
  const experiment = createExperiment(spec.config);
  try {
    // One thread: the pool already runs a process per core.
    const prune = new AbortController();
    const rule = spec.prune;
    const result = await runExperiment(experiment, {
      threads: 1,
      signal: rule && prune.signal,
      // A pruned run stops in the next epoch's first batch, keeping this epoch's weights and records.
      onEpochEnd: (e) => {
        if (rule && shouldPrune(rule, e.epoch, e.validation?.loss) && e.epoch < spec.config.epochs) prune.abort();
      },
    });
    const pruned = result.interrupted !== undefined;
    const evaluation = result.divergence || pruned ? undefined : evaluateOnHeldOut(experiment.model, spec.config.encoding, HELD_OUT_SIZE, spec.seed);
    return {
      status: result.divergence ? 'diverged' : pruned ? 'pruned' : 'ok',
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
  let outcome: RunOutcome;
  try {
    outcome = await run(message.spec, message.backend);
  } catch (err) {
    outcome = failedOutcome((err as Error).message.split('\n')[0]);
  }
  if (process.connected) process.send!(outcome);
}

process.on('message', (message: { spec: RunSpec; backend: BackendChoice }) => void answer(message));
