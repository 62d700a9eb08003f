/**
 * `npm run bench:solve`: trains `--preset solve` for three seeds, each in a fresh process, and prints
 * the held-out metrics (1,000 unseen sequences) and the time each run took to reach them. Exits 1
 * if a seed misses the bar (token accuracy ≥ 99.5% and exact-match ≥ 98%).
 * Options: --seeds N (default 3), --backend NAME (default auto), --lstm ENGINE (default fused).
 */
import { SOLVED } from '../src/task/metrics.js';
import { median } from '../src/sweep/sweep.js';
import { argText, argValue, machineLine, table, timeCli } from './common.js';

const seeds = argValue('--seeds', 3);
const backend = argText('--backend') ?? 'auto';
const lstm = argText('--lstm') ?? 'fused';
console.log(`seq-tag bench:solve · ${machineLine()} · backend ${backend} · ${lstm} engine`);
const rows = [['seed', 'wall s', 'train s', 'token acc', 'exact', 'F1', 'loss', 'solved']];
let missed = 0;
const walls: number[] = [];
for (let seed = 1; seed <= seeds; seed++) {
  const run = timeCli(['train', '--preset', 'solve', '--seed', String(seed), '--backend', backend, '--lstm', lstm]);
  if (run.status !== 0 || !run.doc) {
    console.log(`seed ${seed}: failed (${run.stderr.trim()})`);
    missed++;
    continue;
  }
  const e = run.doc.evaluation;
  const solved = e.tokenAccuracy >= SOLVED.tokenAccuracy && e.exactMatch >= SOLVED.exactMatch;
  if (!solved) missed++;
  walls.push(run.wallSeconds);
  rows.push([
    String(seed),
    run.wallSeconds.toFixed(2),
    run.doc.trainSeconds.toFixed(2),
    `${(100 * e.tokenAccuracy).toFixed(2)}%`,
    `${(100 * e.exactMatch).toFixed(1)}%`,
    e.f1.toFixed(4),
    (e.loss ?? NaN).toFixed(4),
    solved ? 'yes' : 'NO',
  ]);
  if (seed === 1) console.log(`config: ${JSON.stringify(run.doc.config)}`);
}
console.log(`\n${table(rows)}\n\nmedian wall time ${walls.length ? median(walls).toFixed(2) : 'n/a'} s; ${seeds - missed}/${seeds} seeds solved`);
if (missed) process.exitCode = 1;
