import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateTags, labelEntropy, verdict } from '../src/task/metrics.js';

// Two sequences of length 5, worked by hand.
//  seq 1 truth 0 1 0 1 0, predicted 0 0 0 1 0 → misses the first occurrence (position 1)
//  seq 2 truth 1 0 0 0 1, predicted 1 0 1 0 1 → one false alarm (position 2)
const truth = [0, 1, 0, 1, 0, 1, 0, 0, 0, 1];
const predicted = [0, 0, 0, 1, 0, 1, 0, 1, 0, 1];

describe('evaluateTags', () => {
  it('matches the hand-worked example', () => {
    const e = evaluateTags(truth, predicted, 5, 0.3);
    assert.equal(e.sequences, 2);
    assert.equal(e.tokenAccuracy, 8 / 10);
    assert.equal(e.baselineAccuracy, 6 / 10);
    assert.equal(e.exactMatch, 0);
    assert.equal(e.precision, 3 / 4); // tp 3, fp 1
    assert.equal(e.recall, 3 / 4); // tp 3, fn 1
    assert.equal(e.f1, 3 / 4);
    assert.equal(e.recallFirst, 1 / 2); // seq 1 missed its first, seq 2 found it
    assert.equal(e.recallSecond, 2 / 2);
    assert.equal(e.loss, 0.3);
    assert.equal(e.floor, labelEntropy(truth));
  });

  it('the base-rate model: 80% token accuracy, nothing found, exact-match 0', () => {
    const t = [0, 0, 1, 0, 0, 0, 0, 1, 0, 0];
    const e = evaluateTags(t, new Array(10).fill(0), 10, 0.5005);
    assert.equal(e.tokenAccuracy, 0.8);
    assert.equal(e.baselineAccuracy, 0.8);
    assert.equal(e.recall, 0);
    assert.equal(e.precision, 0);
    assert.equal(e.f1, 0);
    assert.match(verdict(e), /^loss 0\.5005 vs floor 0\.5004: the model predicts the base rate and has not learned the task/);
  });

  it('a causal model: finds second occurrences only', () => {
    const t = [0, 1, 0, 1, 0, 1, 0, 0, 1, 0];
    const p = [0, 0, 0, 1, 0, 0, 0, 0, 1, 0];
    const e = evaluateTags(t, p, 5, 0.3);
    assert.equal(e.recallFirst, 0);
    assert.equal(e.recallSecond, 1);
    assert.equal(e.tokenAccuracy, 0.8);
    assert.match(verdict(e), /finds the second occurrence \(100\.0%\) but not the first \(0\.0%\).*--bidirectional/);
  });

  it('a perfect model is solved; a diverged one says so', () => {
    const e = evaluateTags(truth, truth, 5, 0.001);
    assert.equal(e.exactMatch, 1);
    assert.equal(e.f1, 1);
    assert.equal(verdict(e), 'solved: 100.0% exact-match, 100.0% token accuracy');
    assert.match(verdict({ ...e, loss: NaN }), /^loss NaN, not finite \(seq-tag doctor says why\); /);
  });
});
