/**
 * Sweeps through a real Redis (redis-server started here on a free port, thrown away after) with
 * real BullMQ workers as separate processes standing in for machines.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ORIGINAL_EXPERIMENT } from '../src/config/config.js';
import { jobId, QUEUE_NAME, redactUrl } from '../src/sweep/queue.js';
import { expandRuns, type RunRecord } from '../src/sweep/records.js';
import { VERSION } from '../src/version.js';
import { validateSpec } from '../src/cli/worker.js';
import { killGroup, seqTag, spawnSeqTag, startSeqTag, tempDir } from './helpers.js';
import { freePort, selfSignedCertificate, sleep, startRedis, until, type RedisServer } from './redis.js';
import { eventFile, scalarsOf, sessionOf } from './tfevents-reader.js';

const readRecordsOf = (dir: string): RunRecord[] =>
  readFileSync(join(dir, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l, (_k, v) => (v === 'NaN' ? NaN : v)) as RunRecord);

/** softmax runs of ~1 s (long enough to be killed mid-run), linear ones that diverge at once. */
const GRID = ['--grid', 'activation=softmax,linear', '--seeds', '3', '--samples', '1000', '--epochs', '15', '--backend', 'cpu'];

describe('sweep --queue over a real Redis with worker processes', () => {
  let redis: RedisServer;
  const processes: ChildProcess[] = [];
  const worker = (...extra: string[]) => {
    const w = startSeqTag(['worker', '--queue', redis.url, '--backend', 'cpu', '--lock-seconds', '2', ...extra]);
    processes.push(w.child);
    return w;
  };
  let local: Map<string, RunRecord>;

  before(async () => {
    redis = await startRedis();
    const dir = tempDir();
    const run = await seqTag(['sweep', ...GRID, '--out', dir, '--jobs', '2']);
    assert.equal(run.status, 0, run.stderr);
    local = new Map(readRecordsOf(dir).map((r) => [r.key, r]));
  });
  after(async () => {
    for (const p of processes) if (p.exitCode === null) killGroup(p);
    await redis.stop();
  });

  it('three workers, one killed with SIGKILL mid-run: every run recorded exactly once, with the losses of a local sweep', async () => {
    const [out, logdir] = [tempDir(), join(tempDir(), 'logs')];
    const a = worker();
    await until('worker a ready', () => a.out().includes('worker ·'));
    const coordinator = startSeqTag(['sweep', ...GRID, '--queue', redis.url, '--out', out, '--logdir', logdir]);
    processes.push(coordinator.child);
    await until('worker a to start a run', () => a.out().includes('started '));
    killGroup(a.child); // the machine is lost: the worker and its training process
    const b = worker('--jobs', '2');
    const c = worker();
    assert.equal(await coordinator.exited, 0, coordinator.out());
    const records = readRecordsOf(out);
    assert.equal(records.length, 6, 'six runs, each once');
    assert.equal(new Set(records.map((r) => r.key)).size, 6);
    for (const r of records) {
      assert.notEqual(r.status, 'failed', `${r.key}: ${r.error}`);
      assert.deepEqual(
        r.epochs.map((e) => e.loss),
        local.get(r.key)!.epochs.map((e) => e.loss),
        `${r.key}: the same losses as the local sweep`,
      );
    }
    // The coordinator writes the workers' runs to TensorBoard: each once, as its record says.
    for (const r of records) {
      const run = join(logdir, r.label, `seed-${r.seed}`);
      const logged = [...scalarsOf(eventFile(join(run, 'train'))).entries()].filter(([step]) => r.epochs.some((e) => e.epoch === step));
      assert.deepEqual(
        logged.map(([step, v]) => [step, v.epoch_loss]),
        r.epochs.map((e) => [e.epoch, Math.fround(e.loss)]),
      );
      assert.equal(sessionOf(run).group, r.label);
    }
    assert.match(b.out() + c.out(), /started {2}activation=softmax/);
    assert.match(coordinator.out(), /activation=softmax .* no NaN/);
    assert.ok(existsSync(join(out, 'summary.json')) && existsSync(join(out, 'loss-curves.svg')));
  });

  it('the coordinator killed mid-sweep and started again: the sweep completes, no run lost or doubled', async () => {
    const [out, logdir] = [tempDir(), join(tempDir(), 'logs')];
    worker('--jobs', '2');
    const first = startSeqTag(['sweep', ...GRID, '--queue', redis.url, '--out', out, '--logdir', logdir]);
    await until('two runs recorded', () => /\[2\/6\]/.test(first.out()));
    killGroup(first.child);
    await first.exited;
    await sleep(3000); // the workers finish runs while no coordinator listens
    const again = startSeqTag(['sweep', ...GRID, '--queue', redis.url, '--out', out, '--logdir', logdir]);
    assert.equal(await again.exited, 0, again.out());
    const records = readRecordsOf(out);
    const keys = records.map((r) => r.key);
    assert.equal(keys.length, 6, keys.join('\n'));
    assert.equal(new Set(keys).size, 6);
    for (const r of records) eventFile(join(logdir, r.label, `seed-${r.seed}`, 'train')); // each run logged, once
    assert.match(again.out(), /\(already done\)|resumed|\[6\/6\]/);
  });

  it('refuses, without running it, a job of another seq-tag version or a spec the flag table does not allow', async (t) => {
    const w = worker();
    await until('worker ready', () => w.out().includes('worker ·'));
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => null });
    connection.on('error', () => {});
    const queue = new Queue(QUEUE_NAME, { connection });
    t.after(async () => {
      await queue.close();
      connection.disconnect();
    });
    const [spec] = expandRuns([{ label: 'x', config: ORIGINAL_EXPERIMENT }], [1]);
    const jobs = [
      { id: 'other-version', data: { seqTagVersion: '0.0.1', spec } },
      { id: 'bad-units', data: { seqTagVersion: VERSION, spec: { ...spec, config: { ...spec.config, units: 5000 } } } },
      { id: 'extra-field', data: { seqTagVersion: VERSION, spec: { ...spec, config: { ...spec.config, command: 'rm -rf ~' } } } },
    ];
    for (const job of jobs) await queue.add('run', job.data, { jobId: job.id, attempts: 3 });
    // State first, then the job: a job read before it failed has no failedReason yet.
    const reasons = await until('three refusals', async () => {
      const states = await Promise.all(jobs.map((j) => queue.getJobState(j.id)));
      if (!states.every((state) => state === 'failed')) return undefined;
      const all = await Promise.all(jobs.map((j) => queue.getJob(j.id)));
      return all.map((j) => j!.failedReason);
    });
    assert.match(reasons[0], /refused by a seq-tag .* worker: the run was queued by seq-tag 0\.0\.1, and results must not mix versions/);
    assert.match(reasons[1], /refused: not a valid seq-tag run \(config\.units: not a valid value for --units\)/);
    assert.match(reasons[2], /refused: not a valid seq-tag run \(config: Unrecognized key: "command"\)/);
    assert.doesNotMatch(w.out(), /started /);
  });

  it('spec validation accepts exactly what the sweep produces', () => {
    const [spec] = expandRuns([{ label: 'a', config: { ...ORIGINAL_EXPERIMENT, clipnorm: 1, activation: 'linear' } }], [3]);
    assert.deepEqual(validateSpec(spec), spec);
    assert.throws(() => validateSpec({ ...spec, key: spec.key.replace('seed=3', 'seed=4') }), /its key does not match/);
    assert.throws(() => validateSpec({ ...spec, config: { ...spec.config, lr: -1 } }), /config\.lr/);
  });

  it('job ids: one sweep folder on one host is one sweep; URLs are shown without their password', () => {
    assert.equal(jobId('s1', 'k'), jobId('s1', 'k'));
    assert.notEqual(jobId('s1', 'k'), jobId('s2', 'k'));
    assert.equal(redactUrl('redis://user:secret@host:6379/0'), 'redis://user:***@host:6379/0');
    assert.equal(redactUrl('rediss://:secret@host/1'), 'rediss://:***@host/1');
  });
});

describe('rediss:// (TLS) with a password', () => {
  it('a sweep through a TLS Redis that requires a password completes; a wrong password is one line, exit 1', async () => {
    const tls = selfSignedCertificate();
    const redis = await startRedis({ tls, password: 's3cret' });
    // Node reads NODE_EXTRA_CA_CERTS when a process starts: the sweep needs a process of its own.
    const env = { NODE_EXTRA_CA_CERTS: tls.cert };
    try {
      const w = startSeqTag(['worker', '--queue', redis.url, '--backend', 'cpu'], env);
      const out = tempDir();
      const run = spawnSeqTag(
        ['sweep', '--grid', 'activation=softmax,linear', '--seeds', '1', '--samples', '32', '--epochs', '1', '--queue', redis.url, '--out', out],
        env,
      );
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /queue rediss:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0/);
      assert.doesNotMatch(run.stdout + run.stderr + w.out(), /s3cret/);
      assert.equal(readRecordsOf(out).length, 2);
      const wrong = spawnSeqTag(
        ['sweep', '--grid', 'activation=softmax', '--seeds', '1', '--queue', redis.url.replace('s3cret', 'nope'), '--out', tempDir()],
        env,
      );
      assert.equal(wrong.status, 1);
      assert.match(wrong.stderr, /^seq-tag: cannot reach Redis at rediss:\/\/:\*\*\*@.*WRONGPASS/);
      killGroup(w.child);
    } finally {
      await redis.stop();
    }
  });
});

describe('Redis unreachable or lost', () => {
  it('unreachable: one line, exit 1, nothing written; the worker too', async () => {
    const port = await freePort();
    const out = tempDir();
    const run = await seqTag(['sweep', ...GRID, '--queue', `redis://u:pw@127.0.0.1:${port}/0`, '--out', out]);
    assert.equal(run.status, 1);
    assert.match(
      run.stderr,
      new RegExp(
        `^seq-tag: cannot reach Redis at redis://u:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0: .*ECONNREFUSED.*; start redis-server there or check --queue\\n$`,
      ),
    );
    assert.equal(existsSync(join(out, 'results.jsonl')), false);
    const w = await seqTag(['worker', '--queue', `redis://127.0.0.1:${port}/0`]);
    assert.equal(w.status, 1);
    assert.match(w.stderr, /^seq-tag: cannot reach Redis/);
    assert.match((await seqTag(['sweep', ...GRID, '--queue', 'http://x', '--out', out])).stderr, /expected a redis:\/\/ or rediss:\/\/ URL/);
  });

  it('lost during a sweep: the coordinator stops with one line and exit 1; results.jsonl holds whole records only', async () => {
    const redis = await startRedis();
    const out = tempDir();
    const coordinator = startSeqTag(['sweep', ...GRID, '--queue', redis.url, '--out', out]);
    const worker = startSeqTag(['worker', '--queue', redis.url, '--backend', 'cpu']);
    await until('runs queued', () => coordinator.out().includes('queue redis://') && worker.out().includes('started '));
    await sleep(500);
    await redis.stop();
    assert.equal(await coordinator.exited, 1, coordinator.out());
    // A run may have finished in the half second (a run of the native kernels takes about 0.3 s):
    // the line counts what results.jsonl holds, whole records only.
    const kept = Number(
      /seq-tag: lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+\/0; (\d) of 6 runs are kept in .*results\.jsonl; the queued runs stay in Redis: run the same command to resume\n$/.exec(
        coordinator.out(),
      )?.[1],
    );
    assert.ok(kept >= 0 && kept < 6, coordinator.out());
    if (kept === 0) assert.equal(existsSync(join(out, 'results.jsonl')), false, 'nothing written');
    else assert.equal(readRecordsOf(out).length, kept);
    assert.equal(await worker.exited, 1, worker.out());
    assert.match(
      worker.out(),
      /seq-tag: lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+\/0; the runs in progress go back to the queue when their locks expire\n$/,
    );
  });
});
