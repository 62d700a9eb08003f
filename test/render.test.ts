import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { terminalLossChart } from '../src/charts.js';
import { formatLoss, renderBatchProgress, renderEpoch, renderProgress, renderSummary, renderTagged, styleFor, toJson } from '../src/render.js';
import type { TaggedSequence } from '../src/tagging.js';

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

describe('progress and charts', () => {
  it('draws sweep and batch progress bars with counts and ETA', () => {
    assert.equal(renderProgress(10, 40, 30, undefined, 8), '██░░░░░░ 10/40 runs · 0:30 elapsed · ETA 1:30');
    assert.equal(renderProgress(40, 40, 75, undefined, 8), '████████ 40/40 runs · 1:15 elapsed');
    assert.equal(renderBatchProgress({ epoch: 3, batch: 47, batches: 188, size: 32, loss: 0.51234 }, 20, undefined, 8), 'epoch  3/20 ▕██░░░░░░▏ 47/188 batches · loss 0.5123');
  });

  it('plots the loss curve with the floor as a dotted line, and nothing without two finite epochs', () => {
    const chart = terminalLossChart([0.65, 0.52, 0.51, 0.505, 0.502], 0.5004);
    assert.match(chart, /^training loss by epoch \(dotted: no-skill floor 0\.5004\)/);
    assert.match(chart, /0\.650┤/);
    assert.match(chart, /┈{10,}/);
    assert.equal(terminalLossChart([0.6], 0.5), '');
    assert.equal(terminalLossChart([NaN, NaN, 0.6], 0.5), '');
  });
});
