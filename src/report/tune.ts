import type { Dimension } from '../tune/space.js';
import { describePoint } from '../tune/space.js';
import type { Trial } from '../tune/tune.js';
import { niceTicks } from './charts.js';
import { formatLoss, plain, type Style } from './render.js';

const pct = (x: number | undefined) => (x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);

/** One finished trial: "trial 12  lr=0.0123 units=48 …  val loss 0.0123 · val exact 98.5% · held-out exact 98.7% · 3.2 s". */
export function renderTrial(t: Trial, dims: Dimension[], style: Style = plain): string {
  const r = t.record;
  const last = r.epochs.at(-1);
  const where = `${style.bold(`trial ${t.number}`.padEnd(9))} ${describePoint(dims, t.point)}`;
  if (r.status === 'pruned') {
    const threshold = r.epochs.length;
    return `${where}  ${style.dim(`pruned after epoch ${threshold} (val loss ${formatLoss(last?.validation?.loss ?? NaN)}, above the median)`)} · ${r.seconds.toFixed(1)} s`;
  }
  if (r.status === 'diverged') return `${where}  ${style.red(`diverged at epoch ${r.divergence!.epoch}`)} · ${r.seconds.toFixed(1)} s`;
  return `${where}  val loss ${formatLoss(t.value)} · val exact ${pct(last?.validation?.exactMatch)} · held-out exact ${pct(r.evaluation?.exactMatch)} · ${r.seconds.toFixed(1)} s`;
}

/**
 * The best `count` completed trials, best first, as an aligned table fitted into `columns`: on a
 * narrow terminal the held-out token accuracy goes first, then the validation exact-match.
 */
export function renderLeaderboard(trials: Trial[], dims: Dimension[], count = 5, style: Style = plain, columns = Infinity): string {
  const ranked = trials.filter((t) => Number.isFinite(t.value)).sort((a, b) => a.value - b.value || a.number - b.number);
  const rows = ranked
    .slice(0, count)
    .map((t, k) => [
      String(k + 1),
      `trial ${t.number}`,
      describePoint(dims, t.point),
      formatLoss(t.value),
      pct(t.record.epochs.at(-1)?.validation?.exactMatch),
      pct(t.record.evaluation?.exactMatch),
      pct(t.record.evaluation?.tokenAccuracy),
    ]);
  const header = ['#', 'trial', 'configuration', 'val loss', 'val exact', 'held-out exact', 'held-out token'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const kept = header.map((_, c) => c);
  const width = () => kept.reduce((sum, c) => sum + widths[c] + 2, -2);
  for (const expendable of [6, 4]) if (width() > columns) kept.splice(kept.indexOf(expendable), 1);
  const line = (cells: string[]) =>
    kept
      .map((c) => (c >= 3 ? cells[c].padStart(widths[c]) : cells[c].padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  const pruned = trials.filter((t) => t.record.status === 'pruned').length;
  const diverged = trials.filter((t) => t.record.status === 'diverged').length;
  const tail = `${trials.length} trials: ${ranked.length} completed, ${pruned} pruned, ${diverged} diverged`;
  return [style.bold(line(header)), ...rows.map(line), style.dim(tail)].join('\n');
}

const W = 640;
const H = 260;
const LEFT = 64;
const TOP = 40;

/** The trials' validation losses in order (pruned ones at their last epoch, hollow), with the best so far as a step line. */
export function tuneChartSvg(trials: Trial[], title: string): string {
  const points = trials
    .map((t) => ({ n: t.number, v: t.record.epochs.at(-1)?.validation?.loss ?? NaN, pruned: t.record.status !== 'ok' }))
    .filter((p) => Number.isFinite(p.v));
  const last = Math.max(1, ...points.map((p) => p.n));
  const lo = Math.min(...points.map((p) => p.v), 1);
  const hi = Math.max(...points.map((p) => p.v), lo * 1.01);
  // A log scale: the losses worth seeing span decades (0.5 at the floor, 0.01 when solved).
  const y = (v: number) => TOP + H - ((Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo) || 1)) * H;
  const x = (n: number) => LEFT + (last === 1 ? W / 2 : ((n - 1) / (last - 1)) * W);
  const f = (v: number) => v.toFixed(1);
  // A step line: flat until a trial beats the best so far.
  let best = Infinity;
  const steps = points
    .filter((p) => !p.pruned)
    .flatMap((p) => {
      if (p.v >= best) return [];
      const from = Number.isFinite(best) ? [`${f(x(p.n))},${f(y(best))}`] : [];
      best = p.v;
      return [...from, `${f(x(p.n))},${f(y(p.v))}`];
    });
  if (steps.length) steps.push(`${f(x(last))},${f(y(best))}`);
  const ticks = [lo, Math.sqrt(lo * hi), hi];
  return `${[
    `<svg xmlns="http://www.w3.org/2000/svg" width="${LEFT + W + 24}" height="${TOP + H + 56}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="${TOP - 18}" font-size="14" font-weight="bold">${title.replace(/[<>&]/g, '')}</text>`,
    `<text x="${LEFT}" y="${TOP - 4}" fill="#555">validation loss of each trial (log scale); hollow: pruned, at its last epoch; line: best so far</text>`,
    ...ticks.map(
      (t) =>
        `<line x1="${LEFT}" x2="${LEFT + W}" y1="${f(y(t))}" y2="${f(y(t))}" stroke="#ddd"/><text x="${LEFT - 6}" y="${f(y(t) + 4)}" text-anchor="end">${t.toPrecision(2)}</text>`,
    ),
    `<line x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${TOP + H}" stroke="#888"/><line x1="${LEFT}" x2="${LEFT + W}" y1="${TOP + H}" y2="${TOP + H}" stroke="#888"/>`,
    ...niceTicks(1, last, Math.min(10, last))
      .filter((t) => Number.isInteger(t) && t >= 1)
      .map((t) => `<text x="${f(x(t))}" y="${TOP + H + 16}" text-anchor="middle">${t}</text>`),
    `<text x="${LEFT + W / 2}" y="${TOP + H + 32}" text-anchor="middle">trial</text>`,
    ...points.map(
      (p) =>
        `<circle cx="${f(x(p.n))}" cy="${f(y(p.v))}" r="3.5" ${p.pruned ? 'fill="none" stroke="#888"' : 'fill="#1f77b4"'}><title>trial ${p.n}: ${p.v.toFixed(4)}</title></circle>`,
    ),
    steps.length ? `<polyline points="${steps.join(' ')}" fill="none" stroke="#d62728" stroke-width="2"/>` : '',
    '</svg>',
  ].join('\n')}\n`;
}
