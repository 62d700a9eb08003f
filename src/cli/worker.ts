import { Command, Option } from 'commander';
import { z } from 'zod';
import { DEFAULT_LOCK_SECONDS, redactUrl, startQueueWorker } from '../sweep/queue.js';
import { runKey, type RunSpec } from '../sweep/sweep.js';
import { VERSION } from '../version.js';
import { configSchema, parserOf, wholeNumber } from './flags.js';
import { addBackendOption, type BackendFlag } from './options.js';
import { ExitCode, onCtrlC, stderr, stdout } from './output.js';

interface WorkerFlags extends BackendFlag {
  queue: string;
  jobs: number;
  lockSeconds: number;
}

const specSchema = z.object({ key: z.string().max(2000), label: z.string().max(1000), seed: z.number().int(), config: configSchema }).strict();

/** A job's run spec, accepted only if every config value is one the flag table allows: a worker never runs anything else. */
export function validateSpec(spec: unknown): RunSpec {
  const result = specSchema.safeParse(spec);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`${issue.path.join('.') || 'spec'}: ${issue.message}`);
  }
  // The key is the run's identity in results.jsonl: it must be the one its label and config give (hashed in the sender's key order).
  const raw = spec as RunSpec;
  if (raw.config.seed !== raw.seed || raw.key !== runKey(raw.label, raw.config)) throw new Error('its key does not match its label, seed and config');
  return raw;
}

export function workerCommand(): Command {
  const cmd = new Command('worker').description('take sweep runs from a Redis queue (seq-tag sweep --queue) and train them, on this machine, until stopped');
  cmd
    .requiredOption('--queue <url>', 'the Redis the sweep uses: redis://[user:password@]host:6379/0, or rediss:// for TLS')
    .option('--jobs <n>', 'runs at a time, each in its own process (one per core is the most that helps)', parserOf(wholeNumber(1, 64)), 1)
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
  const out = stdout();
  const worker = await startQueueWorker({
    url: flags.queue,
    jobs: flags.jobs,
    backend: flags.backend,
    lockSeconds: flags.lockSeconds,
    validate: validateSpec,
    onEvent: ({ kind, key, detail }) => {
      const run = key.split('|').slice(0, 2).join(' ');
      if (kind === 'start') out.line(`started  ${run}`);
      else if (kind === 'done') out.line(`finished ${run} (${detail})`);
      else stderr().line(`seq-tag: ${kind === 'refused' ? '' : 'run failed: '}${run}: ${detail}`);
    },
  });
  out.line(
    `seq-tag ${VERSION} worker · queue ${redactUrl(flags.queue)} · up to ${flags.jobs} run${flags.jobs === 1 ? '' : 's'} at a time · Ctrl-C finishes the current runs and stops`,
  );
  const ctrlC = onCtrlC(() => {
    stderr().line('\nseq-tag: finishing the runs in progress, taking no new ones (Ctrl-C again to hand them back to the queue and quit now)');
    void worker.stop();
  });
  // A second Ctrl-C: onCtrlC exits with 130; the runs' locks expire and other workers take them.
  process.once('exit', () => worker.abandon());
  try {
    await worker.closed;
    if (ctrlC.signal.aborted) process.exitCode = ExitCode.Interrupted;
  } finally {
    ctrlC.dispose();
  }
}
