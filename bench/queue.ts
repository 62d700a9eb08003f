/**
 * `npm run bench:queue`: what the Redis queue costs. Starts a throwaway redis-server, then
 * 1. overhead per run: 40 tiny runs (8 sequences, 1 epoch) through the queue with one worker
 *    (--jobs 1) against a local sweep with one worker process; the difference per run;
 * 2. `sweep --answers` (100 runs) through the queue with 1, 2 and 3 local worker processes
 *    (--jobs 1 each) against the local pool (--jobs = cores).
 * Every sweep goes into a fresh folder; the wall time is the coordinator's whole process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis, until } from '../test/redis.js';
import { BIN, machineLine, table } from './common.js';

function sweep(args: string[]): number {
  const out = mkdtempSync(join(tmpdir(), 'seq-tag-bench-queue-'));
  const started = performance.now();
  const run = spawnSync(process.execPath, [BIN, 'sweep', ...args, '--out', out, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`sweep ${args.join(' ')} failed: ${run.stderr.trim()}`);
  return (performance.now() - started) / 1000;
}

async function workers(url: string, count: number): Promise<ChildProcess[]> {
  const started = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, [BIN, 'worker', '--queue', url, '--jobs', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    return { child, ready: () => out.includes('worker ·') };
  });
  await until('workers ready', () => started.every((w) => w.ready()));
  return started.map((w) => w.child);
}

async function stop(children: ChildProcess[]): Promise<void> {
  await Promise.all(children.map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGKILL')))));
}

const redis = await startRedis();
console.log(`seq-tag bench:queue · ${machineLine()} · redis-server on localhost`);
try {
  const TINY = ['--grid', 'activation=softmax,linear', '--seeds', '20', '--samples', '8', '--epochs', '1'];
  const local1 = sweep([...TINY, '--jobs', '1']);
  let pool = await workers(redis.url, 1);
  const queue1 = sweep([...TINY, '--queue', redis.url]);
  await stop(pool);
  console.log(
    `\noverhead per run (40 tiny runs, one worker): local ${local1.toFixed(2)} s, queue ${queue1.toFixed(2)} s → ${((1000 * (queue1 - local1)) / 40).toFixed(0)} ms per run`,
  );

  const rows = [['--answers (100 runs)', 'wall s', 'vs local pool']];
  const local = sweep(['--answers', '--jobs', String(cpus().length)]);
  rows.push([`local pool, ${cpus().length} worker processes`, local.toFixed(1), '1.00×']);
  for (const count of [1, 2, 3]) {
    pool = await workers(redis.url, count);
    const wall = sweep(['--answers', '--queue', redis.url]);
    await stop(pool);
    rows.push([`queue, ${count} worker${count > 1 ? 's' : ''} (--jobs 1 each)`, wall.toFixed(1), `${(wall / local).toFixed(2)}×`]);
  }
  console.log(`\n${table(rows)}`);
} finally {
  await redis.stop();
}
