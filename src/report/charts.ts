import { plot } from 'simple-ascii-chart';
import type { ConfigSummary } from '../sweep/sweep.js';

const PALETTE = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];
const W = 640;
const H = 360;
const LEFT = 64;
const TOP = 16;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** About `count` round tick values from at or below `lo` to at or above `hi`. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const ticks: number[] = [];
  const last = Math.ceil(hi / step - 1e-9) * step;
  for (let t = Math.floor(lo / step + 1e-9) * step; t <= last + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/**
 * The loss curves of a sweep as an SVG document: per configuration, the median training loss per
 * epoch across seeds (line and points) inside its min–max band, with the no-skill floor as a dashed
 * rule. Written directly (no charting library: this one chart did not justify Vega's 25 MB).
 * Configurations whose every run diverged have no curve and are listed in the subtitle.
 */
export function lossCurvesSvg(summaries: ConfigSummary[], floor: number, title: string): string {
  const drawn = summaries.filter((s) => s.curve.length > 0);
  const missing = summaries.filter((s) => s.curve.length === 0).map((s) => s.label);
  const validation = drawn.some((s) => s.validationCurve);
  const subtitle = [`median over seeds; band: min to max; dashed: the no-skill floor${validation ? '; dotted: validation loss (median)' : ''}`];
  if (missing.length) subtitle.push('no curve, every run diverged:', ...missing.map((label) => `• ${label}`));
  const points = [...drawn.flatMap((s) => s.curve), ...drawn.flatMap((s) => (s.validationCurve ?? []).map((p) => ({ ...p, min: p.median, max: p.median })))];
  const lastEpoch = Math.max(1, ...points.map((p) => p.epoch));
  const yTicks = niceTicks(Math.min(floor, ...points.map((p) => p.min)), Math.max(floor, ...points.map((p) => p.max)));
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const head = TOP + 22 + 16 * subtitle.length;
  const x = (epoch: number) => LEFT + (lastEpoch === 1 ? W / 2 : ((epoch - 1) / (lastEpoch - 1)) * W);
  const y = (loss: number) => head + H - ((loss - y0) / (y1 - y0 || 1)) * H;
  const f = (v: number) => v.toFixed(1);
  const xTicks = niceTicks(1, lastEpoch, Math.min(10, lastEpoch)).filter((t) => Number.isInteger(t) && t >= 1);
  const legendTop = head + H + 44;
  const height = legendTop + 18 * drawn.length + 8;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${LEFT + W + 24}" height="${height}" viewBox="0 0 ${LEFT + W + 24} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="${TOP + 12}" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    ...subtitle.map((line, k) => `<text x="${LEFT}" y="${TOP + 30 + 16 * k}" fill="#555">${escapeXml(line)}</text>`),
    ...yTicks.map(
      (t) =>
        `<line x1="${LEFT}" x2="${LEFT + W}" y1="${f(y(t))}" y2="${f(y(t))}" stroke="#ddd"/><text x="${LEFT - 6}" y="${f(y(t) + 4)}" text-anchor="end">${t}</text>`,
    ),
    ...xTicks.map((t) => `<text x="${f(x(t))}" y="${head + H + 16}" text-anchor="middle">${t}</text>`),
    `<line x1="${LEFT}" x2="${LEFT}" y1="${head}" y2="${head + H}" stroke="#888"/><line x1="${LEFT}" x2="${LEFT + W}" y1="${head + H}" y2="${head + H}" stroke="#888"/>`,
    `<text x="${LEFT + W / 2}" y="${head + H + 32}" text-anchor="middle">epoch</text>`,
    `<text transform="translate(16 ${head + H / 2}) rotate(-90)" text-anchor="middle">${validation ? 'training and validation loss (nats)' : 'training loss (nats)'}</text>`,
    ...drawn.map((s, k) => {
      const colour = PALETTE[k % PALETTE.length];
      const band = [...s.curve.map((p) => `${f(x(p.epoch))},${f(y(p.max))}`), ...[...s.curve].reverse().map((p) => `${f(x(p.epoch))},${f(y(p.min))}`)].join(
        ' ',
      );
      const line = s.curve.map((p) => `${f(x(p.epoch))},${f(y(p.median))}`).join(' ');
      const dots = s.curve.map((p) => `<circle cx="${f(x(p.epoch))}" cy="${f(y(p.median))}" r="2.5" fill="${colour}"/>`).join('');
      const validationLine = s.validationCurve
        ? `<polyline points="${s.validationCurve.map((p) => `${f(x(p.epoch))},${f(y(p.median))}`).join(' ')}" fill="none" stroke="${colour}" stroke-width="2" stroke-dasharray="2 3"/>`
        : '';
      return `<g><title>${escapeXml(s.label)}</title><polygon points="${band}" fill="${colour}" fill-opacity="0.18"/><polyline points="${line}" fill="none" stroke="${colour}" stroke-width="2"/>${dots}${validationLine}</g>`;
    }),
    `<line x1="${LEFT}" x2="${LEFT + W}" y1="${f(y(floor))}" y2="${f(y(floor))}" stroke="black" stroke-dasharray="6 4"/>`,
    `<text x="${LEFT + W - 4}" y="${f(y(floor) - 6)}" text-anchor="end">no-skill floor ${floor.toFixed(4)}</text>`,
    ...drawn.map(
      (s, k) =>
        `<rect x="${LEFT}" y="${legendTop + 18 * k}" width="12" height="12" fill="${PALETTE[k % PALETTE.length]}"/><text x="${LEFT + 18}" y="${legendTop + 18 * k + 10}">${escapeXml(s.label)}</text>`,
    ),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}

/**
 * How many leading epochs to leave off a chart so the rest of the curve is readable: while the
 * first remaining loss takes more than half the vertical range by itself (a first epoch at 0.68
 * over a curve from 0.54 to 0.50 flattens the rest into one row) and lies above the rest of the
 * axis, the floor included, at most a third of the epochs.
 */
export function leadingEpochsToClip(losses: number[], floor: number): number {
  let clip = 0;
  while (clip < Math.floor(losses.length / 3)) {
    const rest = losses.slice(clip + 1);
    const low = Math.min(floor, ...rest);
    // Only an epoch above the rest of the axis (the floor included) is clipped: the note says "above it".
    if (losses[clip] <= Math.max(floor, ...rest)) break;
    if (losses[clip] - Math.max(...rest) <= (losses[clip] - low) / 2) break;
    clip += 1;
  }
  return clip;
}

/**
 * A training loss curve for the terminal (finite epochs only), with the no-skill floor as a dotted
 * line labelled with its exact value, fitted into `columns`, with no trailing spaces. When the
 * first epochs would flatten the rest, the axis starts lower and the chart says which are above it.
 */
export function terminalLossChart(losses: number[], floor: number, columns = Infinity, height = 8, validation?: number[]): string {
  const finite = losses.map((loss, k) => [k + 1, loss] as [number, number]).filter(([, l]) => Number.isFinite(l));
  const clip = leadingEpochsToClip(
    finite.map(([, l]) => l),
    floor,
  );
  const clipped = finite.slice(0, clip);
  const points = finite.slice(clip);
  if (points.length < 2) return '';
  const first = points[0][0];
  const last = points[points.length - 1][0];
  const step = Math.max(1, Math.ceil((last - first + 1) / 8));
  const ticks = Array.from({ length: Math.floor((last - first) / step) + 1 }, (_, k) => first + k * step);
  const top = Math.max(floor, ...points.map(([, l]) => l));
  // The validation losses are drawn as dots over the training line (those above a clipped axis are left off).
  const dots = (validation ?? []).map((y, k) => ({ x: k + 1, y })).filter((p) => Number.isFinite(p.y) && p.x >= first && (clip === 0 || p.y <= top));
  const ys = [...points.map(([, l]) => l), ...dots.map((p) => p.y)];
  const label = (v: number) => v.toFixed(4);
  const above = clipped.length
    ? `; axis clipped: ${clipped.length === 1 ? 'epoch' : 'epochs'} ${clipped.map(([e]) => e).join(', ')} at ${clipped.map(([, l]) => label(l)).join(', ')} above it`
    : '';
  // The y labels and axis take 8 columns; the chart must fit beside them.
  const width = Math.max(10, Math.min(60, Math.max(20, points.length * 3), columns - 9));
  const chart = plot([points], {
    width,
    height,
    title: `training loss by epoch${dots.length ? ' (line) and validation loss (●)' : ''} (dotted: no-skill floor ${floor.toFixed(4)}${above})`,
    yRange: [Math.min(floor, ...ys), Math.max(floor, ...ys)],
    thresholds: [{ y: floor }],
    points: dots,
    // The library draws a horizontal threshold with its 'x' symbol.
    symbols: { thresholds: { x: '┈' }, point: '●' },
    customXAxisTicks: ticks,
    formatter: (v: number, helpers: { axis: 'x' | 'y' }) => (helpers.axis === 'x' ? String(Math.round(v)) : label(v)),
  } as never);
  // The library labels a row with the value of a point that falls in it, so the floor's row would
  // read e.g. 0.5100; it is relabelled with the floor itself.
  const floorLabel = label(floor);
  return chart
    .replace(/^\n+/, '')
    .split('\n')
    .map((line) => {
      const axis = line.search(/[┤│]┈/);
      if (axis >= floorLabel.length) line = `${floorLabel.padStart(axis)}┤${line.slice(axis + 1)}`;
      return line.trimEnd();
    })
    .join('\n')
    .replace(/\s+$/, '');
}
