/**
 * A sweep worker process: receives run specs over IPC, trains each with the ordinary training code
 * (NaN guard on, so a diverging run stops and is recorded as diverged), evaluates it on held-out
 * data, and sends back the record. One process per core keeps the whole machine busy.
 */
import { initBackend, type BackendChoice, type BackendInfo } from '../model/backend.js';
import { createExperiment, createTextExperiment, evaluateOnHeldOut, evaluateText, HELD_OUT_SIZE, runExperiment } from '../training/experiment.js';
import { readTextFor, type TextRun } from '../task/text-data.js';
import type { Config } from '../config/config.js';
import { failedOutcome, type RunOutcome, type RunSpec } from './records.js';
import { shouldPrune } from './pruner.js';
import { useKernels, type KernelKind } from '../training/fused/wasm/instance.js';

let backend: BackendInfo | undefined;

/** The last text run read, by what it was read with: the runs of a sweep on text share their files. */
let text: { key: string; run: TextRun } | undefined;

async function textOf(config: Config): Promise<TextRun | undefined> {
  if (!config.data) return undefined;
  const key = JSON.stringify([config.data, config.minCount, config.lowercase, config.maxLength]);
  if (text?.key !== key) text = { key, run: await readTextFor({ ...config, data: config.data }) };
  return text.run;
}

async function run(spec: RunSpec, choice: BackendChoice): Promise<RunOutcome> {
  backend ??= await initBackend(choice);
  const started = performance.now();
  const corpus = await textOf(spec.config);
  const experiment = corpus ? createTextExperiment(spec.config, corpus) : createExperiment(spec.config);
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
    const evaluation =
      result.divergence || pruned
        ? undefined
        : corpus
          ? evaluateText(experiment.model, corpus, spec.config.validationSplit)
          : evaluateOnHeldOut(experiment.model, spec.config.encoding, HELD_OUT_SIZE, spec.seed);
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

/** A run to do: the sweep's backend and the kernels its process runs (so every run of a sweep uses the same). */
type Message = { spec: RunSpec; backend: BackendChoice; kernels: KernelKind };

async function answer(message: Message): Promise<void> {
  let outcome: RunOutcome;
  try {
    useKernels(message.kernels);
    outcome = await run(message.spec, message.backend);
  } catch (err) {
    outcome = failedOutcome((err as Error).message.split('\n')[0]);
  }
  if (process.connected) process.send!(outcome);
}

process.on('message', (message: Message) => void answer(message));
