/**
 * Issue #18 through a real redis-server: forged results, crafted jobs, hostile labels, workers
 * stopped by signals, and the soak (three clean queue sweeps, then one with a worker SIGKILLed and
 * one with Redis emptied mid-sweep), each checked run by run against a local sweep.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ORIGINAL_EXPERIMENT } from '../src/config/config.js';
import { QUEUE_NAME } from '../src/sweep/queue.js';
import { expandRuns, parseRecordLine, type RunRecord } from '../src/sweep/records.js';
import { VERSION } from '../src/version.js';
import { killGroup, seqTag, startSeqTag, tempDir } from './helpers.js';
import { sleep, startRedis, until, type RedisServer } from './redis.js';

/** Every line of results.jsonl, each checked as a whole record (a bad line throws). */
const recordsOf = (dir: string): RunRecord[] => readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map(parseRecordLine);

function assertExactlyOnce(dir: string, count: number): RunRecord[] {
  const records = recordsOf(dir);
  const keys = records.map((r) => r.key);
  assert.equal(keys.length, count, `${count} records`);
  assert.equal(new Set(keys).size, count, 'each run once');
  return records;
}

/** The --json summary without what differs between machines and sittings. */
function comparable(stdout: string): unknown {
  const doc = JSON.parse(stdout);
  return doc.configurations.map(({ secondsPerRun: _s, ...rest }: { secondsPerRun: number }) => rest);
}

const SMALL = ['--samples', '32', '--epochs', '1', '--backend', 'cpu'];

describe('the queue under attack and faults (real redis-server)', () => {
  let redis: RedisServer;
  const processes: ChildProcess[] = [];
  const worker = (...extra: string[]) => {
    const w = startSeqTag(['worker', '--queue', redis.url, '--backend', 'cpu', ...extra]);
    processes.push(w.child);
    return w;
  };
  const coordinator = (args: string[]) => {
    const c = startSeqTag(['sweep', ...args, '--queue', redis.url]);
    processes.push(c.child);
    return c;
  };
  const client = () => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => null });
    connection.on('error', () => {});
    return connection;
  };

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const p of processes) if (p.exitCode === null) killGroup(p);
    await redis.stop();
  });

  it('forged results (null, junk) are never written: each is a failed attempt, the run goes again, and after 3 it is recorded failed with the reason; the rerun does not hang', async () => {
    const out = tempDir();
    const connection = client();
    // A rogue client of the Redis completes every job it gets with a forged result.
    const forged: unknown[] = [null, { status: 'ok' }, 42];
    let n = 0;
    const rogue = new Worker(QUEUE_NAME, async () => forged[n++ % forged.length], { connection });
    const grid = ['--grid', 'activation=softmax', '--seeds', '1', ...SMALL, '--out', out];
    const c = coordinator(grid);
    try {
      assert.equal(await c.exited, 1, c.out());
    } finally {
      await rogue.close();
      connection.disconnect();
    }
    assert.match(
      c.out(),
      /a result from the queue for activation=softmax · seed 1 was refused \(not a run outcome \(record: .*\)\); the run is queued again \(1 of 3 bad results\)/,
    );
    const [record] = assertExactlyOnce(out, 1);
    assert.equal(record.status, 'failed');
    assert.match(record.error!, /^the queue returned 3 results that are not this run's: not a run outcome/);
    assert.doesNotMatch(c.out(), /unexpected error|\n\s+at /);
    // Forged once, then a real worker: the run is done for real, once.
    const w = worker();
    const rerun = coordinator(grid);
    assert.equal(await rerun.exited, 0, rerun.out());
    const records = recordsOf(out);
    assert.equal(records.length, 2, 'the failed attempt, then the real run');
    assert.equal(records[1].status, 'ok');
    killGroup(w.child);
  });

  it('a worker refuses crafted jobs as the command line would (combinations, budget, memory), prints hostile labels escaped and cut, runs nothing', async () => {
    const w = worker('--max-run-minutes', '60');
    await until('worker ready', () => w.out().includes('worker ·'));
    const connection = client();
    const queue = new Queue(QUEUE_NAME, { connection });
    try {
      const spec = (config: object, label = 'x') => expandRuns([{ label, config: { ...ORIGINAL_EXPERIMENT, ...config } }], [1])[0];
      const jobs = [
        { id: 'huge', spec: spec({ epochs: 100_000, samples: 10_000_000 }) },
        { id: 'float64-layers', spec: spec({ dtype: 'float64', lstm: 'layers' }) },
        { id: 'memory', spec: spec({ samples: 10_000_000, batchSize: 1_000_000, units: 1024, epochs: 1 }) },
        { id: '\u001b]0;pwned\u0007\u001b[2J', spec: { ...spec({}), label: 'L'.repeat(5_000_000) } },
      ];
      for (const job of jobs) await queue.add('run', { seqTagVersion: VERSION, spec: job.spec }, { jobId: job.id, attempts: 3 });
      const reasons = await until('four refusals', async () => {
        const states = await Promise.all(jobs.map((j) => queue.getJobState(j.id)));
        if (!states.every((s) => s === 'failed')) return undefined;
        return (await Promise.all(jobs.map((j) => queue.getJob(j.id)))).map((j) => j!.failedReason);
      });
      assert.match(reasons[0], /^refused: this run would take about [\d.]+ h by seq-tag's estimate, over this worker's --max-run-minutes 60$/);
      assert.match(reasons[1], /^refused: the command line would refuse this run: --dtype float64 needs --lstm fused/);
      assert.match(reasons[2], /^refused: the command line would refuse this run: .*(memory|--batch-size)/);
      assert.match(reasons[3], /^refused: not a valid seq-tag run \(label: /);
      assert.ok(reasons[3].length < 600);
    } finally {
      await queue.close();
      connection.disconnect();
    }
    assert.doesNotMatch(w.out(), /started /, 'nothing ran');
    assert.doesNotMatch(w.out(), /\u001b/, 'no escape sequence reached the terminal');
    assert.match(w.out(), /job \\x1b\]0;pwned\\x07\\x1b\[2J: refused/);
    assert.ok(w.out().length < 4000, `the output stays short (${w.out().length} characters)`);
    killGroup(w.child);
  });

  it('SIGTERM (docker stop) on a worker mid-run hands its run back at once: another worker finishes it long before the lock would expire; exit 0', async () => {
    const out = tempDir();
    const grid = ['--grid', 'units=8', '--seeds', '1', '--samples', '20000', '--epochs', '40', '--backend', 'cpu', '--out', out];
    const a = worker('--lock-seconds', '60');
    await until('worker a ready', () => a.out().includes('worker ·'));
    const c = coordinator(grid);
    await until('worker a to start the run', () => a.out().includes('started '), 60);
    const b = worker('--lock-seconds', '60');
    await until('worker b ready', () => b.out().includes('worker ·'));
    const t0 = Date.now();
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0, a.out());
    assert.match(a.out(), /SIGTERM: handing the runs in progress back to the queue and stopping/);
    assert.match(a.out(), /released units=8 · seed 1 \(back in the queue for any worker\)/);
    await until('worker b to take it', () => b.out().includes('started  units=8'), 20);
    assert.ok(Date.now() - t0 < 20_000, 'taken over without waiting for the 60 s lock');
    assert.equal(await c.exited, 0, c.out());
    assert.equal(assertExactlyOnce(out, 1)[0].status, 'ok');
    b.child.kill('SIGHUP');
    assert.equal(await b.exited, 0, b.out());
  });

  it('Redis paused (SIGSTOP) mid-sweep: the coordinator says it is waiting, then finishes every run once when Redis is back', async () => {
    const out = tempDir();
    const c = coordinator(['--grid', 'activation=softmax,linear', '--seeds', '1', ...SMALL, '--out', out]);
    await until('runs queued', () => c.out().includes('queue redis://'), 30);
    await sleep(1000);
    redis.server.kill('SIGSTOP');
    try {
      await until(
        'the coordinator to say Redis is silent',
        () => /Redis at .* has not answered for 15 s \(paused, or overloaded\?\); waiting for it/.test(c.out()),
        30,
      );
    } finally {
      redis.server.kill('SIGCONT');
    }
    const w = worker();
    assert.equal(await c.exited, 0, c.out());
    assert.match(c.out(), /Redis at .* answers again/);
    assertExactlyOnce(out, 2);
    killGroup(w.child);
  });

  it('soak: --answers through the queue with two workers, three times, then with a worker SIGKILLed, then with Redis emptied mid-sweep: every run once, the same table as a local sweep', async () => {
    const grid = ['--answers', '--seeds', '2', ...SMALL, '--json'];
    const local = await seqTag(['sweep', ...grid, '--jobs', '2', '--out', tempDir()]);
    assert.equal(local.status, 0, local.stderr);
    const expected = comparable(local.stdout);
    const workers = [worker(), worker()];
    for (let round = 1; round <= 3; round++) {
      const out = tempDir();
      const c = coordinator([...grid, '--out', out]);
      assert.equal(await c.exited, 0, `round ${round}: ${c.out()}`);
      assertExactlyOnce(out, 20);
      assert.deepEqual(comparable(c.out().slice(c.out().indexOf('{'))), expected, `round ${round}: the local sweep's table`);
    }
    // A worker's machine lost mid-sweep: its run is taken over after the lock (2 s here).
    for (const w of workers) killGroup(w.child);
    const fast = [worker('--lock-seconds', '2'), worker('--lock-seconds', '2')];
    let out = tempDir();
    let c = coordinator([...grid, '--out', out]);
    await until('a run started', () => fast[0].out().includes('started '), 60);
    killGroup(fast[0].child);
    const spare = worker('--lock-seconds', '2');
    assert.equal(await c.exited, 0, c.out());
    assertExactlyOnce(out, 20);
    assert.deepEqual(comparable(c.out().slice(c.out().indexOf('{'))), expected, 'after a SIGKILLed worker');
    // Redis emptied (FLUSHALL) mid-sweep: the coordinator says so, queues the lost runs again, and finishes.
    out = tempDir();
    c = coordinator([...grid, '--out', out]);
    await until(
      'some runs recorded',
      () =>
        Number(
          spawnSync('sh', ['-c', `wc -l < ${join(out, 'results.jsonl')} 2>/dev/null`])
            .stdout.toString()
            .trim(),
        ) >= 3,
      60,
    );
    const flush = client();
    await flush.flushall();
    flush.disconnect();
    assert.equal(await c.exited, 0, c.out());
    assert.match(c.out(), /queued runs? vanished from Redis \(emptied by FLUSHALL, or restarted without persistence\?\); queued again/);
    assertExactlyOnce(out, 20);
    assert.deepEqual(comparable(c.out().slice(c.out().indexOf('{'))), expected, 'after FLUSHALL');
    assert.doesNotMatch(c.out(), /unexpected error|\n\s+at /);
    for (const w of [...fast, spare]) killGroup(w.child);
    await sleep(100);
  });
});
