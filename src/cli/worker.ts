import { Command, Option } from 'commander';
import { z } from 'zod';
import { escapeText } from '../shared/format.js';
import { DEFAULT_LOCK_SECONDS, redactUrl } from '../sweep/queue-settings.js';
import { pruneSchema, runKey, type RunSpec } from '../sweep/records.js';
import { estimateCost, formatDuration } from '../training/cost.js';
import { VERSION } from '../version.js';
import { configSchema, parserOf, wholeNumber } from './flags.js';
import { checkCombination } from '../config/config.js';
import { useKernels } from '../training/fused/wasm/instance.js';
import { addBackendOption, affordable, type BackendFlag } from './options.js';
import { onStop, signalName, stderr, stdout } from './output.js';

interface WorkerFlags extends BackendFlag {
  queue: string;
  jobs: number;
  lockSeconds: number;
  maxRunMinutes: number;
}

/** A worker's default budget per run: long enough for any preset or --answers run, short enough that a crafted job cannot hold a machine for days. */
export const DEFAULT_MAX_RUN_MINUTES = 60;

const specSchema = z
  .object({ key: z.string().max(2000), label: z.string().max(1000), seed: z.number().int(), config: configSchema, prune: pruneSchema.optional() })
  .strict();

/**
 * A job's run spec, accepted only if the command line would accept it (every value one the flag
 * table allows, no combination it refuses, a run that fits this machine's memory) and its estimated
 * time is within `maxRunMinutes`: a worker never runs anything else. Throws an Error saying why not.
 */
export function validateSpec(spec: unknown, maxRunMinutes = DEFAULT_MAX_RUN_MINUTES): RunSpec {
  const result = specSchema.safeParse(spec);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`not a valid seq-tag run (${issue.path.join('.') || 'spec'}: ${issue.message})`);
  }
  // The key is the run's identity in results.jsonl: it must be the one its label and config give (hashed in the sender's key order).
  const raw = spec as RunSpec;
  if (raw.config.seed !== raw.seed || raw.key !== runKey(raw.label, raw.config))
    throw new Error('not a valid seq-tag run (its key does not match its label, seed and config)');
  try {
    checkCombination(raw.config);
    affordable(raw.config);
  } catch (err) {
    throw new Error(`the command line would refuse this run: ${(err as Error).message}`);
  }
  const { seconds } = estimateCost(raw.config);
  if (seconds > maxRunMinutes * 60) {
    throw new Error(`this run would take about ${formatDuration(seconds)} by seq-tag's estimate, over this worker's --max-run-minutes ${maxRunMinutes}`);
  }
  return raw;
}

export function workerCommand(): Command {
  const cmd = new Command('worker').description('take sweep runs from a Redis queue (seq-tag sweep --queue) and train them, on this machine, until stopped');
  cmd
    .requiredOption('--queue <url>', 'the Redis the sweep uses: redis://[user:password@]host:6379/0, or rediss:// for TLS')
    .option('--jobs <n>', 'runs at a time, each in its own process (one per core is the most that helps)', parserOf(wholeNumber(1, 64)), 1)
    .addOption(
      new Option('--max-run-minutes <n>', 'refuse a run whose estimated time is longer (it is recorded failed with the reason)')
        .argParser(parserOf(wholeNumber(1, 100_000)))
        .default(DEFAULT_MAX_RUN_MINUTES),
    )
    .addOption(
      new Option('--lock-seconds <n>', 'a run whose worker stops renewing its lock this long is handed to another worker')
        .argParser(parserOf(wholeNumber(1, 3600)))
        .default(DEFAULT_LOCK_SECONDS),
    );
  addBackendOption(cmd);
  cmd.action(runWorker);
  return cmd;
}

async function runWorker(flags: WorkerFlags): Promise<void> {
  useKernels(flags.kernels);
  const out = stdout();
  const { startQueueWorker } = await import('../sweep/queue.js');
  const worker = await startQueueWorker({
    url: flags.queue,
    jobs: flags.jobs,
    backend: flags.backend,
    lockSeconds: flags.lockSeconds,
    validate: (spec) => validateSpec(spec, flags.maxRunMinutes),
    onEvent: ({ kind, run, detail }) => {
      if (kind === 'start') out.line(`started  ${run}`);
      else if (kind === 'done') out.line(`finished ${run} (${detail})`);
      else if (kind === 'released') out.line(`released ${run} (back in the queue for any worker)`);
      else stderr().line(`seq-tag: ${kind === 'refused' ? '' : 'run failed: '}${run}: ${detail}`);
    },
  });
  out.line(
    `seq-tag ${VERSION} worker · queue ${escapeText(redactUrl(flags.queue), 100)} · up to ${flags.jobs} run${flags.jobs === 1 ? '' : 's'} at a time · runs up to ${flags.maxRunMinutes} min · Ctrl-C finishes the current runs and stops`,
  );
  // Ctrl-C: finish what runs, take nothing new. SIGTERM/SIGHUP (docker stop, Kubernetes, a closed
  // terminal) or a second Ctrl-C: hand the runs back to the queue at once, for another worker.
  const release = (signal: string) => {
    stderr().line(`\nseq-tag: ${signal}: handing the runs in progress back to the queue and stopping`);
    void worker.release();
  };
  const stop = onStop(
    (signal) => {
      if (signal !== 'SIGINT') return release(signalName(signal));
      stderr().line('\nseq-tag: finishing the runs in progress, taking no new ones (Ctrl-C again to hand them back to the queue and quit now)');
      void worker.stop();
    },
    (signal) => release(signalName(signal)),
  );
  try {
    await worker.closed;
  } finally {
    stop.dispose();
  }
}
