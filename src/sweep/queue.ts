// Sweeps over several machines: runs go on a BullMQ queue in Redis, `seq-tag worker`s anywhere take
// them, and the coordinator (`seq-tag sweep --queue`) writes each finished run to results.jsonl once.
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Job, Queue, QueueEvents, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { BackendChoice } from '../model/backend.js';
import { ExitCode, UserError } from '../errors.js';
import { escapeText } from '../shared/format.js';
import { VERSION } from '../version.js';
import type { SweepFolder } from './folder.js';
import { checkOutcome, failedOutcome, MAX_ERROR_LENGTH, portable, revived, type RunOutcome, type RunRecord, type RunSpec } from './records.js';
import { Collector, type OnRecord, type SweepResult } from './sweep.js';

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
export { DEFAULT_LOCK_SECONDS, redactUrl } from './queue-settings.js';
import { DEFAULT_LOCK_SECONDS, redactUrl } from './queue-settings.js';
import { activeKernels } from '../training/fused/wasm/instance.js';
export const ATTEMPTS = 3;
export const STALLED_LIMIT = 2;

/** What a job carries: the version that queued it and the run, nothing executable. */
export interface JobData {
  seqTagVersion: string;
  spec: RunSpec;
}

/** Redis options for long-lived connections: BullMQ's workers need `maxRetriesPerRequest: null`; give up after ~10 s without Redis. */
function redisOptions(extra: RedisOptions = {}): RedisOptions {
  return { maxRetriesPerRequest: null, connectTimeout: 5000, retryStrategy: (times) => (times > 20 ? null : 500), ...extra };
}

/** Connects to Redis at `url` (redis:// or rediss:// for TLS), or fails in one line within a few seconds. */
export async function connectRedis(url: string): Promise<Redis> {
  if (!/^rediss?:\/\//.test(url))
    throw new UserError(`--queue ${escapeText(redactUrl(url), 100)}: expected a redis:// or rediss:// URL, e.g. redis://localhost:6379/0`, ExitCode.Usage);
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
  onRecord?: OnRecord;
  /** Things the user should know while waiting: Redis silent, jobs vanished, results refused. */
  onNotice?: (text: string) => void;
  /** Aborting stops collecting; the queued runs stay queued and the same command collects them later. */
  signal?: AbortSignal;
  /** How often every pending job is checked (events bring most results sooner). */
  pollMs?: number;
}

/** A poll that has not answered this long means Redis is paused or unreachable: the user is told. */
const SILENT_REDIS_MS = 15_000;

/** What the coordinator saw of one job. */
type Seen =
  | { kind: 'pending' }
  | { kind: 'vanished' }
  | { kind: 'done'; outcome: RunOutcome; job: Job<JobData, unknown> }
  | { kind: 'bad'; why: string; job: Job<JobData, unknown> }
  | { kind: 'failed'; reason: string; job: Job<JobData, unknown> };

/** A job's state, then (only if finished) the job: read in that order, a completed job has its result. */
async function inspectJob(queue: Queue<JobData, unknown>, id: string, spec: RunSpec): Promise<Seen> {
  const state = await queue.getJobState(id);
  if (state === 'unknown') return { kind: 'vanished' };
  if (state !== 'completed' && state !== 'failed') return { kind: 'pending' };
  const job = await Job.fromId<JobData, unknown>(queue, id);
  if (!job) return { kind: 'vanished' };
  if (state === 'failed') return { kind: 'failed', reason: job.failedReason ?? 'failed', job };
  // The job's own spec must be this run's: a job rewritten in Redis ran something else.
  if ((job.data as Partial<JobData> | undefined)?.spec?.key !== spec.key) return { kind: 'bad', why: 'the job in Redis is not this run', job };
  try {
    return { kind: 'done', outcome: checkOutcome(revived(job.returnvalue), spec), job };
  } catch (err) {
    return { kind: 'bad', why: (err as Error).message, job };
  }
}

/** How long the coordinator waits for BullMQ to close its queue and event stream. */
const CLOSE_MS = 1000;

/**
 * Waits for a BullMQ close at most `ms`. Closing waits on Redis: with Redis gone it may never settle,
 * and with nothing else pending Node would end the process mid-await (exit 13, nothing said).
 */
async function closeWithin(closing: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolveWait) => (timer = setTimeout(resolveWait, ms)));
  await Promise.race([closing.catch(() => {}), waited]);
  clearTimeout(timer);
}

/** Waits `ms`, or less if the function handed to `setWake` is called; no timer outlives the wait (a finished coordinator exits at once). */
function sleepUntilWoken(ms: number, setWake: (wake: () => void) => void): Promise<void> {
  return new Promise((resolveWait) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      setWake(() => {});
      resolveWait();
    }
    setWake(done);
  });
}

function jobOptions(id: string) {
  return { jobId: id, attempts: ATTEMPTS, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false };
}

/**
 * The coordinator: queues every spec not yet in results.jsonl (a job id per run, so queuing twice
 * is a no-op) and records each run once, as its job finishes: a result is checked against the run
 * before it is written (a result that is not one is a failed attempt: the run is queued again, and
 * after ATTEMPTS bad results recorded failed with the reason); the job leaves Redis only once its
 * record is on disk. Jobs that finished while no coordinator ran are collected at start; failed jobs
 * of an earlier attempt are retried, as a local sweep re-runs failed runs. Jobs that vanish from Redis
 * (FLUSHALL, a restart without persistence) are queued again. Redis lost → UserError.
 */
export async function runQueueSweep(
  specs: RunSpec[],
  folder: SweepFolder,
  previous: Map<string, RunRecord>,
  connection: Redis,
  options: QueueSweepOptions,
): Promise<SweepResult> {
  const collector = new Collector(specs, folder, options.onRecord);
  collector.resume(previous);
  const queue = new Queue<JobData, unknown>(QUEUE_NAME, { connection });
  // QueueEvents blocks on its own connection; BullMQ leaves connections it was given open, so both are closed below.
  const eventsConnection = connection.duplicate();
  const events = new QueueEvents(QUEUE_NAME, { connection: eventsConnection });
  queue.on('error', () => {});
  events.on('error', () => {});
  const sweep = sweepId(folder.dir);
  const pending = new Map(collector.pending().map((s) => [jobId(sweep, s.key), s]));
  const badResults = new Map<string, number>();
  const notice = (text: string) => options.onNotice?.(escapeText(text, 300));
  let lost: UserError | undefined;
  let wake: () => void = () => {};
  const onEnd = () => {
    lost = new UserError(
      `lost the connection to Redis at ${redactUrl(options.url)}; ${collector.outcome().records.length} of ${specs.length} runs are kept in ${folder.resultsPath}; the queued runs stay in Redis: run the same command to resume`,
    );
    wake();
  };
  connection.on('end', onEnd);
  const onAbort = () => wake();
  options.signal?.addEventListener('abort', onAbort);
  // Events name the job that finished: it is checked at once; every pending job is checked each poll.
  const due = new Set<string>();
  const onFinished = ({ jobId: id }: { jobId: string }) => {
    if (!pending.has(id)) return;
    due.add(id);
    wake();
  };
  events.on('completed', onFinished);
  events.on('failed', onFinished);

  const add = (ids: string[]) =>
    queue.addBulk(ids.map((id) => ({ name: 'run', data: { seqTagVersion: VERSION, spec: pending.get(id)! }, opts: jobOptions(id) })));

  /** One look at one job; records it when it is finished. */
  const check = async (id: string, spec: RunSpec, vanished: string[]): Promise<void> => {
    const seen = await inspectJob(queue, id, spec);
    if (seen.kind === 'pending') return;
    if (seen.kind === 'vanished') return void vanished.push(id);
    if (seen.kind === 'bad') {
      const bad = (badResults.get(id) ?? 0) + 1;
      badResults.set(id, bad);
      if (bad < ATTEMPTS) {
        notice(
          `a result from the queue for ${spec.label} · seed ${spec.seed} was refused (${seen.why}); the run is queued again (${bad} of ${ATTEMPTS} bad results)`,
        );
        await seen.job.remove().catch(() => {});
        await add([id]);
        return;
      }
    }
    const outcome =
      seen.kind === 'done'
        ? seen.outcome
        : seen.kind === 'bad'
          ? failedOutcome(`the queue returned ${ATTEMPTS} results that are not this run's: ${seen.why}`)
          : failedOutcome(escapeText(seen.reason, MAX_ERROR_LENGTH));
    pending.delete(id);
    await collector.recordChecked(spec, outcome);
    // The job leaves Redis only once its record is on disk.
    if (!collector.writeError) await seen.job.remove().catch(() => {});
  };

  let lastAnswer = Date.now();
  let silent = false;
  const watchdog = setInterval(() => {
    if (!silent && Date.now() - lastAnswer > SILENT_REDIS_MS) {
      silent = true;
      notice(
        `Redis at ${redactUrl(options.url)} has not answered for ${SILENT_REDIS_MS / 1000} s (paused, or overloaded?); waiting for it: Ctrl-C stops, and the same command resumes`,
      );
    }
  }, 1000);
  try {
    // Collect what finished while no coordinator ran; retry what failed then; queue the rest.
    const start = [...pending];
    const fresh: string[] = [];
    for (const [id] of start) {
      const state = await queue.getJobState(id);
      if (state === 'unknown') fresh.push(id);
      else if (state === 'failed') {
        const job = await Job.fromId<JobData, unknown>(queue, id);
        if (job?.data?.seqTagVersion === VERSION) await job.retry('failed').catch(() => {});
      }
    }
    if (fresh.length) await add(fresh);
    lastAnswer = Date.now();
    const pollMs = options.pollMs ?? 2000;
    let lastRound = 0;
    while (pending.size && !lost && !collector.writeError && !options.signal?.aborted) {
      const round = Date.now() - lastRound >= pollMs;
      const ids = round ? [...pending.keys()] : [...due].filter((id) => pending.has(id));
      due.clear();
      const vanished: string[] = [];
      for (const id of ids) {
        if (lost || collector.writeError || options.signal?.aborted) break;
        const spec = pending.get(id);
        if (spec) await check(id, spec, vanished);
        lastAnswer = Date.now();
      }
      if (round) lastRound = Date.now();
      if (silent) notice(`Redis at ${redactUrl(options.url)} answers again`);
      silent = false;
      if (vanished.length && !lost) {
        notice(
          `${vanished.length} queued ${vanished.length === 1 ? 'run' : 'runs'} vanished from Redis (emptied by FLUSHALL, or restarted without persistence?); queued again`,
        );
        await add(vanished);
      }
      if (pending.size && !due.size) await sleepUntilWoken(Math.max(0, lastRound + pollMs - Date.now()), (w) => (wake = w));
    }
  } catch (err) {
    if (!lost && !(err instanceof UserError))
      throw new UserError(`cannot use the queue on ${redactUrl(options.url)}: ${escapeText((err as Error).message, 200)}`);
    if (!lost) throw err;
  } finally {
    clearInterval(watchdog);
    connection.off('end', onEnd);
    options.signal?.removeEventListener('abort', onAbort);
    await closeWithin(events.close(), CLOSE_MS);
    await closeWithin(queue.close(), CLOSE_MS);
    eventsConnection.disconnect();
    connection.disconnect();
  }
  await collector.flushed();
  if (lost) throw lost;
  return collector.outcome();
}

/** Forked sweep-worker processes, one run each at a time: the same training code as a local sweep. */
class ProcessPool {
  private idle: ChildProcess[] = [];
  private readonly all = new Set<ChildProcess>();
  constructor(private readonly backend: BackendChoice) {}

  /** Trains `spec` in a process of the pool; rejects if that process dies (or is killed by `kill`). */
  run(spec: RunSpec): Promise<unknown> {
    const child = this.idle.pop() ?? this.spawn();
    return new Promise((resolveRun, reject) => {
      const onExit = (code: number | null, signal: string | null) =>
        reject(new Error(`worker process ${signal ? `killed by ${signal}` : `exited with code ${code}`}`));
      child.once('exit', onExit);
      child.once('message', (outcome: unknown) => {
        child.off('exit', onExit);
        this.idle.push(child);
        resolveRun(outcome);
      });
      child.send({ spec, backend: this.backend, kernels: activeKernels() });
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

  /** Lets idle processes exit. */
  close(): void {
    for (const child of this.all) if (child.connected) child.disconnect();
  }

  /** Stops every process now, the busy ones too. */
  kill(): void {
    for (const child of this.all) child.kill('SIGKILL');
  }
}

export type WorkerEvent = { kind: 'start' | 'done' | 'refused' | 'failed' | 'released'; run: string; detail?: string };

export interface QueueWorkerOptions {
  url: string;
  jobs: number;
  backend: BackendChoice;
  lockSeconds?: number;
  /** Checks a job's run spec before anything runs (the command line's own checks, and the worker's budget); throws to refuse it (never retried). */
  validate: (spec: unknown) => RunSpec;
  /** What happens, with every text that came from Redis escaped and cut (../report/format.ts escapeText). */
  onEvent?: (event: WorkerEvent) => void;
}

/**
 * A running worker: `closed` settles when it stops (Redis lost → rejects); `stop` lets the current
 * runs finish; `release` stops them now and hands them back to the queue, where another worker takes
 * them at once (not after the stalled check).
 */
export interface QueueWorker {
  closed: Promise<void>;
  stop(): Promise<void>;
  release(): Promise<void>;
}

/** Refusal reasons are stored in Redis and printed: short, and free of control characters. */
const refusal = (reason: string) => new UnrecoverableError(escapeText(reason, MAX_ERROR_LENGTH));

/**
 * Takes runs from the queue, up to `jobs` at a time, each in its own process. A job of another seq-tag
 * version, or whose spec fails `validate`, is refused without running anything.
 */
export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const connection = await connectRedis(options.url);
  const pool = new ProcessPool(options.backend);
  const lock = (options.lockSeconds ?? DEFAULT_LOCK_SECONDS) * 1000;
  let releasing = false;
  const emit = (event: WorkerEvent) => options.onEvent?.({ ...event, run: escapeText(event.run, 120), detail: event.detail && escapeText(event.detail, 300) });
  const worker = new Worker<JobData, unknown>(
    QUEUE_NAME,
    async (job, token) => {
      const data = job.data as Partial<JobData> | undefined;
      const named = `job ${String(job.id)}`;
      if (data?.seqTagVersion !== VERSION) {
        const reason = `refused by a seq-tag ${VERSION} worker: the run was queued by seq-tag ${escapeText(String(data?.seqTagVersion), 40)}, and results must not mix versions; run workers of the coordinator's version`;
        emit({ kind: 'refused', run: named, detail: reason });
        throw refusal(reason);
      }
      let spec: RunSpec;
      try {
        spec = options.validate(data.spec);
      } catch (err) {
        const reason = `refused: ${(err as Error).message}`;
        emit({ kind: 'refused', run: named, detail: reason });
        throw refusal(reason);
      }
      const run = `${spec.label} · seed ${spec.seed}`;
      emit({ kind: 'start', run });
      try {
        const outcome = await pool.run(spec);
        emit({ kind: 'done', run, detail: String((outcome as { status?: unknown })?.status) });
        return portable(outcome as object);
      } catch (err) {
        if (!releasing) throw err;
        // Handed back: waiting again at once for any worker (this one is closing and takes no more).
        await job.moveToWait(token);
        emit({ kind: 'released', run });
        throw new WaitingError();
      }
    },
    { connection, concurrency: options.jobs, lockDuration: lock, stalledInterval: lock, maxStalledCount: STALLED_LIMIT },
  );
  worker.on('failed', (job, err) => {
    if (err instanceof UnrecoverableError) return; // said as it was refused
    emit({ kind: 'failed', run: `job ${String(job?.id)}`, detail: err.message });
  });
  worker.on('error', () => {}); // connection trouble: reported through 'end' below
  const closed = new Promise<void>((resolveClosed, reject) => {
    connection.on('end', () => {
      pool.kill();
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
    release: async () => {
      releasing = true;
      const closing = worker.close();
      pool.kill();
      await closing;
    },
  };
}
