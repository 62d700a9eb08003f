import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { featureTensor, generateDataset, labelRepeats, labelTensor, parseDigitSequence, sampleSequence, SEQUENCE_LENGTH } from '../src/task/data.js';
import { permutation, rngFor } from '../src/shared/random.js';
import { useBackend } from './helpers.js';

before(() => useBackend('cpu'));

describe('sampleSequence', () => {
  it('has exactly one repeated pair, 9 distinct digits, and labels exactly that pair (2,000 seeds)', () => {
    for (let seed = 0; seed < 2000; seed++) {
      const { digits, labels } = sampleSequence(rngFor(seed, 'data-test'));
      assert.equal(digits.length, SEQUENCE_LENGTH);
      assert.ok(digits.every((d) => d >= 0 && d <= 9 && Number.isInteger(d)));
      assert.equal(new Set(digits).size, 9);
      const marked = [...labels.keys()].filter((k) => labels[k] === 1);
      assert.equal(marked.length, 2);
      assert.equal(digits[marked[0]], digits[marked[1]]);
      assert.deepEqual(Array.from(labels), Array.from(labelRepeats(digits)));
    }
  });

  it('picks the overwritten positions roughly uniformly over ordered pairs', () => {
    const rng = rngFor(7, 'uniformity');
    const firstCounts = new Array(10).fill(0);
    const trials = 20_000;
    for (let t = 0; t < trials; t++) {
      const { labels } = sampleSequence(rng);
      firstCounts[labels.indexOf(1)]++;
    }
    // Under uniform (i, j), the first marked position k has probability (9 - k) / 45.
    for (let k = 0; k < 10; k++) {
      const expected = (trials * (9 - k)) / 45;
      assert.ok(Math.abs(firstCounts[k] - expected) <= 4 * Math.sqrt(expected) + 1, `position ${k}: ${firstCounts[k]} vs ${expected}`);
    }
  });
});

describe('generateDataset', () => {
  it('is reproducible per seed and differs across seeds', () => {
    const a = generateDataset(50, rngFor(3, 'train-data'));
    const b = generateDataset(50, rngFor(3, 'train-data'));
    const c = generateDataset(50, rngFor(4, 'train-data'));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.digits, c.digits);
  });

  it('makes tensors of the documented shapes', () => {
    const data = generateDataset(7, rngFor(1, 'shapes'));
    const scalar = featureTensor(data.digits, 'scalar');
    const onehot = featureTensor(data.digits, 'onehot');
    const y = labelTensor(data.labels);
    assert.deepEqual(scalar.shape, [7, 10, 1]);
    assert.deepEqual(onehot.shape, [7, 10, 10]);
    assert.deepEqual(y.shape, [7, 10, 2]);
    assert.deepEqual(Array.from(scalar.dataSync().slice(0, 10)), Array.from(data.digits.slice(0, 10)));
    const yValues = y.arraySync() as number[][][];
    for (let t = 0; t < 10; t++) assert.deepEqual(yValues[0][t], data.labels[t] ? [0, 1] : [1, 0]);
    const oh = onehot.arraySync() as number[][][];
    assert.equal(oh[0][0][data.digits[0]], 1);
    assert.equal(
      oh[0][0].reduce((a, b) => a + b),
      1,
    );
    [scalar, onehot, y].forEach((t) => t.dispose());
  });
});

describe('parseDigitSequence', () => {
  it('accepts 10 digits with spaces, commas or nothing between them', () => {
    assert.deepEqual(Array.from(parseDigitSequence('4 0 2 8 5 6 1 3 3 7')!), [4, 0, 2, 8, 5, 6, 1, 3, 3, 7]);
    assert.deepEqual(Array.from(parseDigitSequence('4028561337')!), [4, 0, 2, 8, 5, 6, 1, 3, 3, 7]);
    assert.deepEqual(Array.from(parseDigitSequence(' 4,0,2,8,5,6,1,3,3,7 ')!), [4, 0, 2, 8, 5, 6, 1, 3, 3, 7]);
  });

  it('rejects anything else', () => {
    for (const bad of ['', '123', '4 0 2 8 5 6 1 3 3', '4 0 2 8 5 6 1 3 3 7 1', '4 0 2 8 5 6 1 3 3 a', '40 2 8 5 6 1 3 3 7 1', '-1 0 2 8 5 6 1 3 3 7']) {
      assert.equal(parseDigitSequence(bad), undefined, bad);
    }
  });
});

describe('permutation', () => {
  it('is a permutation', () => {
    const p = permutation(100, rngFor(1, 'p'));
    assert.deepEqual(
      [...p].sort((a, b) => a - b),
      [...Array(100).keys()],
    );
  });
});
