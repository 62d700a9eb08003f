// Sweeps over several machines: runs go on a BullMQ queue in Redis, `seq-tag worker`s anywhere take
// them, and the coordinator (`seq-tag sweep --queue`) writes each finished run to results.jsonl once.
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Job, Queue, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { BackendChoice } from '../model/backend.js';
import { describeFsError, UserError } from '../errors.js';
import { VERSION } from '../version.js';
import { appendRecord, portableRecord, readRecords, RESULTS_FILE, revivedRecord, type RunRecord, type RunSpec, type StoredRecords } from './sweep.js';

/** The one queue seq-tag uses in a Redis database; jobs of different sweeps are told apart by their ids. */
export const QUEUE_NAME = 'seq-tag-runs';

/**
 * Fault handling, chosen for runs of seconds to minutes:
 * - a worker holds a lock on each run it trains and renews it every half lock; a worker that dies
 *   (SIGKILL, machine lost) stops renewing, and after `lockSeconds` another worker's stalled check
 *   (every `lockSeconds`) hands the run to the next free worker. 30 s: long enough that a busy
 *   machine's event loop (training yields every 50 ms) never misses a renewal, short enough that a
 *   lost run restarts within a minute.
 * - a run whose worker dies `STALLED_LIMIT` times more, or that throws `ATTEMPTS` times, is failed
 *   with its error: a run that kills every machine it touches should not go round forever.
 */
export const DEFAULT_LOCK_SECONDS = 30;
export const ATTEMPTS = 3;
export const STALLED_LIMIT = 2;

/** What a job carries: the version that queued it and the run, nothing executable. */
export interface JobData {
  seqTagVersion: string;
  spec: RunSpec;
}

/** A Redis URL with its password hidden, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@]*@/, '$1***@');
}

/** Redis options for long-lived connections: BullMQ's workers need `maxRetriesPerRequest: null`; give up after ~10 s without Redis. */
function redisOptions(extra: RedisOptions = {}): RedisOptions {
  return { maxRetriesPerRequest: null, connectTimeout: 5000, retryStrategy: (times) => (times > 20 ? null : 500), ...extra };
}

/** Connects to Redis at `url` (redis:// or rediss:// for TLS), or fails in one line within a few seconds. */
export async function connectRedis(url: string): Promise<Redis> {
  if (!/^rediss?:\/\//.test(url)) throw new UserError(`--queue ${redactUrl(url)}: expected a redis:// or rediss:// URL, e.g. redis://localhost:6379/0`);
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 5000, retryStrategy: () => null });
  let cause: Error | undefined; // ioredis reports the socket's error here and only "Connection is closed" to the caller
  probe.on('error', (err: Error) => (cause ??= err));
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    throw new UserError(`cannot reach Redis at ${redactUrl(url)}: ${(cause ?? (err as Error)).message}; start redis-server there or check --queue`);
  } finally {
    probe.disconnect();
  }
  const redis = new Redis(url, redisOptions());
  // Connection errors are reported once, through the main connection's 'end' when retries give up;
  // the copies BullMQ makes (blocking reads, events) would otherwise print ioredis's "Unhandled error event".
  redis.on('error', () => {});
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (override?: Partial<RedisOptions>) => duplicate(override).on('error', () => {});
  return redis;
}

/** Job ids of one sweep: the out folder on this host names the sweep, the run key names the run. */
export function jobId(sweep: string, key: string): string {
  return `${sweep}-${createHash('sha1').update(key).digest('hex').slice(0, 20)}`;
}

/** A sweep's id: the same out folder on the same host is the same sweep (a restarted coordinator finds its jobs). */
export function sweepId(outDir: string): string {
  return createHash('sha1')
    .update(`${hostname()}:${resolve(outDir)}`)
    .digest('hex')
    .slice(0, 10);
}

export interface QueueSweepOptions {
  url: string;
  outDir: string;
  onRecord?: (record: RunRecord, done: number, total: number, resumed: boolean) => void;
  /** Aborting stops collecting; the queued runs stay queued and the same command collects them later. */
  signal?: AbortSignal;
}

/** The run record of a job that failed every attempt. */
function failedRecord(spec: RunSpec, reason: string): RunRecord {
  return { key: spec.key, label: spec.label, seed: spec.seed, status: 'failed', epochs: [], seconds: 0, error: reason.split('\n')[0] };
}

/**
 * The coordinator: queues every spec not yet in results.jsonl (a job id per run, so queuing twice
 * is a no-op), collects results as workers finish them and appends each to results.jsonl once
 * (then removes the job), until every run is there. Jobs that finished while no coordinator ran
 * are collected at start; failed jobs of an earlier attempt are retried, as a local sweep re-runs
 * failed runs. Redis lost → UserError; results.jsonl keeps whole records only.
 */
export async function runQueueSweep(
  specs: RunSpec[],
  options: QueueSweepOptions,
): Promise<{ records: RunRecord[]; interrupted: boolean; stored: Omit<StoredRecords, 'records'> }> {
  const file = join(options.outDir, RESULTS_FILE);
  const { records: previous, ...stored } = await readRecords(file);
  const connection = await connectRedis(options.url);
  const queue = new Queue<JobData, RunRecord>(QUEUE_NAME, { connection });
  // QueueEvents blocks on its own connection; BullMQ leaves connections it was given open, so both are closed below.
  const eventsConnection = connection.duplicate();
  const events = new QueueEvents(QUEUE_NAME, { connection: eventsConnection });
  queue.on('error', () => {});
  events.on('error', () => {});
  const sweep = sweepId(options.outDir);
  const bySpec = new Map(specs.map((s) => [jobId(sweep, s.key), s]));
  const results = new Map<string, RunRecord>();
  let done = 0;
  for (const spec of specs) {
    const record = previous.get(spec.key);
    if (!record) continue;
    results.set(spec.key, record);
    options.onRecord?.(record, ++done, specs.length, true);
  }
  const pending = new Set([...bySpec].filter(([, s]) => !results.has(s.key)).map(([id]) => id));
  try {
    return await new Promise((resolvePromise, reject) => {
      let writes = Promise.resolve();
      let lost: Error | undefined;
      const finish = () => {
        clearInterval(poller);
        options.signal?.removeEventListener('abort', finish);
        void writes.then(() => {
          if (lost) reject(lost);
          else resolvePromise({ records: specs.map((s) => results.get(s.key)).filter((r): r is RunRecord => !!r), interrupted: pending.size > 0, stored });
        });
      };
      // Writes one job's outcome once: the record goes to results.jsonl (fsynced), then the job leaves Redis.
      const settle = (id: string, job: Job<JobData, RunRecord> | undefined, state: string) => {
        const spec = bySpec.get(id);
        if (!spec || !pending.has(id) || !job) return;
        if (state !== 'completed' && state !== 'failed') return;
        pending.delete(id);
        const record = state === 'completed' ? { ...revivedRecord(job.returnvalue), key: spec.key } : failedRecord(spec, job.failedReason ?? 'failed');
        writes = writes.then(async () => {
          if (lost) return;
          try {
            await appendRecord(file, record);
          } catch (err) {
            lost = new UserError(
              `cannot write ${file}: ${describeFsError(err)}; ${done} of ${specs.length} runs are kept whole in it; make room and run the same command to resume`,
            );
            return finish();
          }
          results.set(spec.key, record);
          options.onRecord?.(record, ++done, specs.length, false);
          await job.remove().catch(() => {});
          if (pending.size === 0) finish();
        });
      };
      const lookUp = async (id: string) => {
        const job = await Job.fromId<JobData, RunRecord>(queue, id);
        return { job, state: job ? await job.getState() : 'unknown' };
      };
      const check = async (id: string) => {
        const { job, state } = await lookUp(id);
        settle(id, job, state);
      };
      const poll = () => Promise.all([...pending].map(check)).catch(() => {});
      // Events bring results at once; the poll catches any event missed while (re)connecting.
      events.on('completed', ({ jobId: id }) => void check(id).catch(() => {}));
      events.on('failed', ({ jobId: id }) => void check(id).catch(() => {}));
      const poller = setInterval(() => void poll(), 2000);
      connection.on('end', () => {
        lost = new UserError(
          `lost the connection to Redis at ${redactUrl(options.url)}; ${done} of ${specs.length} runs are kept in ${file}; the queued runs stay in Redis: run the same command to resume`,
        );
        pending.clear();
        finish();
      });
      options.signal?.addEventListener('abort', finish);
      if (pending.size === 0) return finish();
      void (async () => {
        // Collect what finished while no coordinator ran; retry what failed then; queue the rest.
        for (const id of pending) {
          const { job, state } = await lookUp(id);
          if (job && state === 'failed' && job.data.seqTagVersion === VERSION) await job.retry('failed');
          else if (job && state === 'completed') settle(id, job, state);
        }
        await queue.addBulk(
          [...pending].map((id) => ({
            name: 'run',
            data: { seqTagVersion: VERSION, spec: bySpec.get(id)! },
            opts: { jobId: id, attempts: ATTEMPTS, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false },
          })),
        );
      })().catch((err: Error) => {
        lost = new UserError(`cannot queue the runs on ${redactUrl(options.url)}: ${err.message}`);
        pending.clear();
        finish();
      });
    });
  } finally {
    await events.close().catch(() => {});
    await queue.close().catch(() => {});
    eventsConnection.disconnect();
    connection.disconnect();
  }
}

/** Forked sweep-worker processes, one run each at a time: the same training code as a local sweep. */
class ProcessPool {
  private idle: ChildProcess[] = [];
  private readonly all = new Set<ChildProcess>();
  constructor(private readonly backend: BackendChoice) {}

  run(spec: RunSpec): Promise<RunRecord> {
    const child = this.idle.pop() ?? this.spawn();
    return new Promise((resolveRun, reject) => {
      const onExit = (code: number | null, signal: string | null) =>
        reject(new Error(`worker process ${signal ? `killed by ${signal}` : `exited with code ${code}`}`));
      child.once('exit', onExit);
      child.once('message', (record: RunRecord) => {
        child.off('exit', onExit);
        this.idle.push(child);
        resolveRun(record);
      });
      child.send({ spec, backend: this.backend });
    });
  }

  private spawn(): ChildProcess {
    const child = fork(new URL('./sweep-worker.js', import.meta.url), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
    this.all.add(child);
    child.on('exit', () => {
      this.all.delete(child);
      this.idle = this.idle.filter((c) => c !== child);
    });
    return child;
  }

  close(): void {
    for (const child of this.all) if (child.connected) child.disconnect();
  }
}

export interface QueueWorkerOptions {
  url: string;
  jobs: number;
  backend: BackendChoice;
  lockSeconds?: number;
  /** Checks a job's run spec before anything runs; throws to refuse it (never retried). */
  validate: (spec: unknown) => RunSpec;
  onEvent?: (event: { kind: 'start' | 'done' | 'refused' | 'failed'; key: string; detail?: string }) => void;
}

/**
 * A running worker: `closed` settles when it stops (Redis lost → rejects); `stop` lets the current
 * runs finish; `abandon` stops their processes at once (their locks expire and other workers retry them).
 */
export interface QueueWorker {
  closed: Promise<void>;
  stop(): Promise<void>;
  abandon(): void;
}

/**
 * Takes runs from the queue, up to `jobs` at a time, each in its own process. A job of another seq-tag
 * version, or whose spec fails `validate`, is refused without running anything.
 */
export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const connection = await connectRedis(options.url);
  const pool = new ProcessPool(options.backend);
  const lock = (options.lockSeconds ?? DEFAULT_LOCK_SECONDS) * 1000;
  const worker = new Worker<JobData, RunRecord>(
    QUEUE_NAME,
    async (job) => {
      const key = String((job.data?.spec as RunSpec | undefined)?.key ?? job.id);
      if (job.data?.seqTagVersion !== VERSION) {
        const reason = `refused by a seq-tag ${VERSION} worker: the run was queued by seq-tag ${String(job.data?.seqTagVersion)}, and results must not mix versions; run workers of the coordinator's version`;
        options.onEvent?.({ kind: 'refused', key, detail: reason });
        throw new UnrecoverableError(reason);
      }
      let spec: RunSpec;
      try {
        spec = options.validate(job.data.spec);
      } catch (err) {
        const reason = `refused: not a valid seq-tag run (${(err as Error).message})`;
        options.onEvent?.({ kind: 'refused', key, detail: reason });
        throw new UnrecoverableError(reason);
      }
      options.onEvent?.({ kind: 'start', key });
      const record = await pool.run(spec);
      options.onEvent?.({ kind: 'done', key, detail: record.status });
      return portableRecord(record);
    },
    { connection, concurrency: options.jobs, lockDuration: lock, stalledInterval: lock, maxStalledCount: STALLED_LIMIT },
  );
  worker.on('failed', (job, err) => options.onEvent?.({ kind: 'failed', key: String(job?.data?.spec?.key ?? job?.id), detail: err.message }));
  worker.on('error', () => {}); // connection trouble: reported through 'end' below
  const closed = new Promise<void>((resolveClosed, reject) => {
    connection.on('end', () => {
      pool.close();
      // Force-close: BullMQ's own blocking connection would otherwise retry forever and keep the process alive.
      void worker.close(true).catch(() => {});
      reject(new UserError(`lost the connection to Redis at ${redactUrl(options.url)}; the runs in progress go back to the queue when their locks expire`));
    });
    worker.on('closed', () => {
      pool.close();
      connection.disconnect();
      resolveClosed();
    });
  });
  return {
    closed,
    stop: () => worker.close(),
    abandon: () => {
      pool.close();
      void worker.close(true).catch(() => {});
    },
  };
}
