import { plot } from 'simple-ascii-chart';
import type { ConfigSummary } from './sweep.js';

/**
 * The loss curves of a sweep as an SVG document: per configuration, the median training loss per
 * epoch across seeds (line) inside its min–max band (area), with the no-skill floor as a dashed
 * rule. A Vega-Lite spec compiled and rendered by Vega in Node: no browser, no native canvas.
 * Configurations whose every run diverged have no curve and are listed in the subtitle.
 */
export async function lossCurvesSvg(summaries: ConfigSummary[], floor: number, title: string): Promise<string> {
  // Loaded on demand: Vega is large, and only sweeps draw charts.
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const values = summaries.flatMap((s) => s.curve.map((p) => ({ configuration: s.label, ...p })));
  const missing = summaries.filter((s) => s.curve.length === 0).map((s) => s.label);
  const subtitle = ['median over seeds; band: min to max; dashed: the no-skill floor'];
  if (missing.length) subtitle.push('no curve, every run diverged:', ...missing.map((label) => `• ${label}`));
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle, subtitleColor: '#555', anchor: 'start' },
    width: 640,
    height: 360,
    layer: [
      {
        data: { values },
        mark: { type: 'area', opacity: 0.18 },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 }, scale: { zero: false, nice: false } },
          y: { field: 'min', type: 'quantitative', title: 'training loss (nats)', scale: { zero: false } },
          y2: { field: 'max' },
          color: { field: 'configuration', type: 'nominal', legend: { orient: 'bottom', columns: 1, labelLimit: 640, symbolOpacity: 1 } },
        },
      },
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'epoch', type: 'quantitative' },
          y: { field: 'median', type: 'quantitative' },
          color: { field: 'configuration', type: 'nominal' },
        },
      },
      {
        data: { values: [{ floor }] },
        mark: { type: 'rule', strokeDash: [6, 4], color: 'black' },
        encoding: { y: { field: 'floor', type: 'quantitative' } },
      },
      {
        data: { values: [{ floor, label: `no-skill floor ${floor.toFixed(4)}` }] },
        mark: { type: 'text', align: 'right', dx: -4, dy: -6, color: 'black' },
        encoding: { y: { field: 'floor', type: 'quantitative' }, x: { value: 640 }, text: { field: 'label' } },
      },
    ],
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec as never).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/**
 * A training loss curve for the terminal (finite epochs only), with the no-skill floor as a dotted
 * line labelled with its exact value, fitted into `columns`, with no trailing spaces.
 */
export function terminalLossChart(losses: number[], floor: number, columns = Infinity, height = 8): string {
  const points = losses.map((loss, k) => [k + 1, loss] as [number, number]).filter(([, l]) => Number.isFinite(l));
  if (points.length < 2) return '';
  const last = points[points.length - 1][0];
  const step = Math.max(1, Math.ceil(last / 8));
  const ticks = Array.from({ length: Math.floor(last / step) }, (_, k) => (k + 1) * step);
  const ys = points.map(([, l]) => l);
  const label = (v: number) => v.toFixed(4);
  // The y labels and axis take 8 columns; the chart must fit beside them.
  const width = Math.max(10, Math.min(60, Math.max(20, points.length * 3), columns - 9));
  const chart = plot([points], {
    width,
    height,
    title: `training loss by epoch (dotted: no-skill floor ${floor.toFixed(4)})`,
    yRange: [Math.min(floor, ...ys), Math.max(floor, ...ys)],
    thresholds: [{ y: floor }],
    // The library draws a horizontal threshold with its 'x' symbol.
    symbols: { thresholds: { x: '┈' } },
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
