import assert from 'node:assert/strict';
import { batchProgress, Printer } from '../src/cli/output.js';
import { describe, it } from 'node:test';
import { lossCurvesSvg, niceTicks, terminalLossChart } from '../src/report/charts.js';
import {
  formatLoss,
  plural,
  renderBatchProgress,
  renderEpoch,
  renderEvaluation,
  renderProgress,
  renderSummary,
  renderSweepTable,
  renderTagged,
  styleFor,
  toJson,
} from '../src/report/render.js';

const ANSWER_LIKE = [
  "linear head alone (the seed's bug)",
  'answer 1: softmax',
  'answer 2: BatchNormalization',
  'answer 3: LayerNormalization',
  'answer 3: clipnorm 1.0',
  'answer 3: learning rate 1e-4',
  'answer 3: SGD',
  'answer 3: smaller-variance init (randomNormal, sd 0.05)',
];
import { evaluateTags } from '../src/task/metrics.js';
import type { TaggedSequence } from '../src/task/tagging.js';

const seq: TaggedSequence = {
  digits: [4, 0, 2, 8, 5, 6, 1, 3, 3, 7],
  truth: [0, 0, 0, 0, 0, 0, 0, 1, 1, 0],
  probs: [0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.95, 0.1],
  predicted: [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
};

describe('styleFor', () => {
  it('colours a terminal only, and never with NO_COLOR', () => {
    assert.equal(styleFor({ isTTY: true }, {}).level, 1);
    assert.equal(styleFor({ isTTY: false }, {}).level, 0);
    assert.equal(styleFor({}, {}).level, 0);
    assert.equal(styleFor({ isTTY: true }, { NO_COLOR: '1' }).level, 0);
    assert.equal(styleFor({ isTTY: false }, { FORCE_COLOR: '1' }).level, 1);
    assert.equal(styleFor({ isTTY: true }, { FORCE_COLOR: '0' }).level, 0);
  });
});

describe('renderTagged', () => {
  it('aligns digits, truth and model lines and says what went wrong', () => {
    const text = renderTagged([seq], { probs: true });
    assert.equal(
      text,
      [
        'digits      4    0    2    8    5    6    1    3    3    7',
        'truth                                          *    *',
        'model            *                                  *       ✗ 1 missed, 1 false alarm',
        'P(rep)   0.10 0.90 0.10 0.10 0.10 0.10 0.10 0.20 0.95 0.10',
      ].join('\n'),
    );
  });

  it('colours hits green, false alarms red and missed truths yellow on a terminal', () => {
    const text = renderTagged([seq], { style: styleFor({ isTTY: true }, {}) });
    const [, truth, model] = text.split('\n');
    assert.match(truth, /\x1b\[33m {4}\*\x1b\[39m\x1b\[32m {4}\*/, 'missed truth yellow, found truth green');
    assert.match(model, /\x1b\[31m {4}\*\x1b\[39m/, 'false alarm red');
    assert.match(model, /\x1b\[32m {4}\*\x1b\[39m/, 'hit green');
  });

  it('says exact when the tags match and prints out-of-range probabilities legibly', () => {
    const exact = { ...seq, predicted: seq.truth, probs: [NaN, -0.5, 1.5, 0, 0, 0, 0, 1, 1, 0] };
    const text = renderTagged([exact], { probs: true });
    assert.match(text, /✓ exact/);
    assert.match(text, /^P\(rep\) {4}nan {3}<0 {3}>1/m);
  });
});

describe('line formats', () => {
  it('prints epochs in one fixed shape, nan as Keras does', () => {
    assert.equal(renderEpoch({ epoch: 3, loss: 0.51234, seconds: 0.414 }, 20), 'epoch  3/20  loss 0.5123  0.41 s');
    assert.equal(renderEpoch({ epoch: 12, loss: NaN, seconds: 1 }, 20), 'epoch 12/20  loss    nan  1.00 s');
    assert.equal(formatLoss(Infinity), 'inf');
  });

  it('lays out the summary like Keras', () => {
    const text = renderSummary({
      layers: [
        { name: 'lstm', type: 'LSTM', outputShape: [null, 10, 16], params: 1152 },
        { name: 'time_distributed', type: 'TimeDistributed', outputShape: [null, 10, 2], params: 34 },
      ],
      totalParams: 1186,
      trainableParams: 1186,
    });
    const lines = text.split('\n');
    assert.match(lines[0], /^Layer \(type\) +Output Shape +Param #$/);
    assert.match(lines[2], /^lstm \(LSTM\) +\(None, 10, 16\) +1,152$/);
    assert.equal(lines[2].length, lines[0].length);
    assert.equal(lines[3].length, lines[0].length);
    assert.deepEqual(lines.slice(5), ['Total params: 1,186', 'Trainable params: 1,186', 'Non-trainable params: 0']);
  });

  it('keeps non-finite numbers in JSON', () => {
    assert.deepEqual(JSON.parse(toJson({ a: NaN, b: [Infinity, 1] })), { a: 'NaN', b: ['Infinity', 1] });
  });
});

describe('fitting a narrow terminal', () => {
  const summaries = ANSWER_LIKE.map((label, k) => ({
    label,
    probabilisticHead: k === 1,
    runs: 10,
    failed: 0,
    divergedEpoch1: 1,
    divergedAny: 1,
    finalLoss: { median: 0.5, min: 0.49, max: 0.51 },
    floor: 0.5004,
    tokenAccuracy: 0.8,
    exactMatch: 0,
    f1: 0.1,
    secondsPerRun: 0.2,
    verdict: 'does not fix the NaN',
    curve: [],
  }));

  for (const columns of [40, 60, 80, 100]) {
    it(`progress bars and the sweep table stay inside ${columns} columns`, () => {
      const batch = renderBatchProgress({ epoch: 1234, batch: 123456, batches: 234567, size: 32, loss: 0.5 }, 100000, undefined, columns);
      assert.ok(batch.length < columns, batch);
      assert.ok(renderProgress(999, 1000, 3600, undefined, columns).length < columns);
      const table = renderSweepTable(summaries, 0.5004, undefined, columns).split('\n');
      for (const line of table.slice(0, summaries.length + 2)) assert.ok(line.length < columns, `${columns}: ${line}`);
      assert.match(table[0], /^configuration/);
      assert.match(table.join('\n'), /NaN any/, 'the NaN rate is never dropped');
    });
  }

  it('a wide terminal keeps every column and full names', () => {
    const table = renderSweepTable(summaries, 0.5004, undefined, 300);
    assert.match(table, /s\/run/);
    assert.ok(table.includes(ANSWER_LIKE[7]));
  });
});

describe('progress and charts', () => {
  it('draws sweep and batch progress bars with counts and ETA', () => {
    assert.equal(renderProgress(10, 40, 30, undefined, 46), '██░░░░░░ 10/40 runs · 0:30 elapsed · ETA 1:30');
    assert.equal(renderProgress(40, 40, 75), `${'█'.repeat(24)} 40/40 runs · 1:15 elapsed`);
    assert.equal(
      renderBatchProgress({ epoch: 3, batch: 47, batches: 188, size: 32, loss: 0.51234 }, 20, undefined, 52),
      'epoch  3/20 ▕██░░░░░░▏ 47/188 batches · loss 0.5123',
    );
    assert.equal(
      renderBatchProgress({ epoch: 3, batch: 94, batches: 188, size: 32, loss: 0.51234 }, 20),
      `epoch  3/20 ▕${'█'.repeat(10)}${'░'.repeat(10)}▏ 94/188 batches · loss 0.5123`,
    );
  });

  it('plots the loss curve with the floor as a dotted line, and nothing without two finite epochs', () => {
    const chart = terminalLossChart([0.6, 0.56, 0.53, 0.51, 0.502], 0.5004);
    assert.match(chart, /^training loss by epoch \(dotted: no-skill floor 0\.5004\)/);
    assert.match(chart, /0\.6000┤/);
    assert.match(chart, /^0\.5004┤┈{10,}/m, 'the floor row carries the floor, not a nearby loss');
    assert.doesNotMatch(chart, /[ \t]$/m, 'no trailing spaces');
    assert.equal(terminalLossChart([0.6], 0.5), '');
    const narrow = terminalLossChart(
      Array.from({ length: 30 }, (_, k) => 0.7 - k / 200),
      0.5004,
      40,
    );
    for (const line of narrow.split('\n').slice(1)) assert.ok(line.length <= 40, `fits 40 columns: ${line}`);
    assert.equal(terminalLossChart([NaN, NaN, 0.6], 0.5), '');
  });
});

describe('words', () => {
  it('singular for one, plural otherwise, with thousands separators', () => {
    assert.equal(plural(1, 'epoch'), '1 epoch');
    assert.equal(plural(0, 'run'), '0 runs');
    assert.equal(plural(1000, 'sequence'), '1,000 sequences');
  });
});

describe('loss-curves SVG', () => {
  const curve = (base: number) =>
    [1, 2, 3].map((epoch) => ({ epoch, median: base - epoch / 100, min: base - epoch / 100 - 0.01, max: base - epoch / 100 + 0.01 }));
  const summary = (label: string, points: ReturnType<typeof curve>) => ({
    label,
    probabilisticHead: true,
    runs: 2,
    failed: 0,
    divergedEpoch1: 0,
    divergedAny: 0,
    finalLoss: null,
    floor: 0.5,
    tokenAccuracy: null,
    exactMatch: null,
    f1: null,
    secondsPerRun: 1,
    verdict: '',
    curve: points,
  });

  it('draws a band and a median line per configuration, the floor, and lists the ones with no curve', () => {
    const svg = lossCurvesSvg([summary('a <b> & "c"', curve(0.6)), summary('d', curve(0.7)), summary('all diverged', [])], 0.5004, 'title');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.equal((svg.match(/<polygon /g) ?? []).length, 2);
    assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
    assert.equal((svg.match(/<circle /g) ?? []).length, 6);
    assert.match(svg, /a &#60;b&#62; &#38; &#34;c&#34;/, 'labels are escaped');
    assert.match(svg, /no curve, every run diverged:.*\n.*• all diverged/);
    assert.match(svg, /stroke-dasharray="6 4"/);
    assert.match(svg, /no-skill floor 0\.5004/);
  });

  it('puts round ticks around the data', () => {
    assert.deepEqual(niceTicks(0.49, 0.71), [0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75]);
    assert.deepEqual(niceTicks(1, 20, 10), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    assert.deepEqual(niceTicks(1, 1, 1), [1]);
  });
});

describe('the evaluation table on user data (issue #32)', () => {
  it('precision and recall "mean over N tags" are the mean of the per-tag rows under them, for 2, 3 and 42 tags', () => {
    for (const tags of [2, 3, 42]) {
      const truth = Array.from({ length: 40 * tags }, (_, k) => k % tags);
      const predicted = truth.map((t, k) => (k % 5 === 0 ? 0 : t));
      const e = evaluateTags(truth, predicted, 10, 0.5, { tags });
      const text = renderEvaluation(e, undefined, { task: false });
      const rows = [...text.matchAll(/^ {4}tag \d+ +([\d.]+)% {2}recall; precision ([\d.]+)%/gm)];
      assert.equal(rows.length, tags);
      const mean = (i: 1 | 2) => rows.reduce((s, r) => s + Number(r[i]), 0) / tags;
      const shown = (name: string) => Number(new RegExp(`^ {2}${name} +([\\d.]+)% {2}mean over ${tags} tags$`, 'm').exec(text)![1]);
      assert.ok(Math.abs(shown('precision') - mean(2)) <= 0.05 + 1e-9, `${tags} tags: precision ${shown('precision')} vs rows' mean ${mean(2)}`);
      assert.ok(Math.abs(shown('recall') - mean(1)) <= 0.05 + 1e-9, `${tags} tags: recall ${shown('recall')} vs rows' mean ${mean(1)}`);
    }
  });
});

describe('batch progress on a terminal (train, train --from)', () => {
  it('after the threshold, one line rewritten in place and cleared before the epoch line; nothing off a terminal or with --json', () => {
    const written = (isTTY: boolean, json: boolean) => {
      let text = '';
      const out = new Printer({ write: (t: string) => (text += t), isTTY, columns: 80 }, { NO_COLOR: '1' });
      const progress = batchProgress(out, json, 3, 0);
      for (let batch = 1; batch <= 2; batch++) progress.batch({ epoch: 1, batch, batches: 2, size: 8, loss: 0.5 });
      progress.clear();
      progress.clear();
      return text;
    };
    const shown = written(true, false);
    assert.match(shown, /^\repoch 1\/3 .*1\/2 batches.*\x1b\[K\repoch 1\/3 .*2\/2 batches.*\x1b\[K\r\x1b\[K$/s);
    assert.equal(written(false, false), '');
    assert.equal(written(true, true), '');
  });
});
