/**
 * Issue #20, guidance from evidence: after "has not learned", the step seq-tag measured. The figures it
 * cites (src/diagnosis/next-step.ts) are rerun here with the very commands it prints.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { MEASURED, nextStep, structuralLimit } from '../src/diagnosis/next-step.js';
import type { Evaluation } from '../src/task/metrics.js';
import { seqTag, tempDir } from './helpers.js';

const evaluation = (exactMatch: number, tokenAccuracy = 0.9): Evaluation => ({
  sequences: 1000,
  loss: 0.3,
  floor: 0.5004,
  tokenAccuracy,
  baselineAccuracy: 0.8,
  exactMatch,
  precision: 0.5,
  recall: 0.5,
  f1: 0.5,
  recallFirst: 0.1,
  recallSecond: 0.9,
});

describe('the next step follows the situation', () => {
  it('one direction, digit values, or under-trained; nothing when solved or off the digit task', () => {
    assert.match(
      nextStep({ bidirectional: false, encoding: 'scalar' }, evaluation(0))!,
      /^a left-to-right model cannot tag the first occurrence .*\. Next: seq-tag train --preset solve \(/,
    );
    assert.match(nextStep({ bidirectional: false, encoding: 'onehot' }, evaluation(0))!, /left-to-right/);
    assert.match(nextStep({ bidirectional: true, encoding: 'scalar' }, evaluation(0.2))!, /^with the digit's value as its input/);
    assert.match(
      nextStep({ bidirectional: true, encoding: 'onehot' }, evaluation(0))!,
      /^the architecture can solve the task, this training did not get there \(0\.0% exact-match\)\. Next: the solve preset's data and learning rate: seq-tag train --preset solve/,
    );
    assert.equal(nextStep({ bidirectional: true, encoding: 'onehot' }, evaluation(0.99, 0.999)), undefined);
    assert.equal(nextStep({ bidirectional: false }, evaluation(0)), undefined);
    assert.equal(structuralLimit({ bidirectional: true, encoding: 'onehot' }), undefined);
  });
});

describe('the cited figures are what the printed commands measure (seed 1, default backend and engine)', () => {
  for (const [name, measured] of Object.entries(MEASURED)) {
    it(`${name}: seq-tag train ${measured.flags.join(' ')}`, async () => {
      const run = await seqTag(['train', ...measured.flags, '--seed', '1', '--json', '--model-dir', join(tempDir(), 'm')]);
      assert.equal(run.status, 0, run.stderr);
      const { evaluation: e, nextStep: next } = JSON.parse(run.stdout);
      assert.deepEqual([e.tokenAccuracy, e.exactMatch, e.recallFirst], [measured.tokenAccuracy, measured.exactMatch, measured.recallFirst]);
      assert.equal(next === undefined, name === 'solve', `next step: ${next}`);
    });
  }
});

describe('train, evaluate and doctor end with it', () => {
  it("the seed model: train's verdict is followed by why and the measured next step", async () => {
    const run = await seqTag(['train', '--seed', '1', '--model-dir', join(tempDir(), 'm')]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stdout,
      /verdict: loss 0\.\d+ vs floor 0\.5004: the model predicts the base rate and has not learned the task \(recall 0\.0%\)\nwhy, and next: a left-to-right model cannot tag the first occurrence of the repeated digit.*\. Next: seq-tag train --preset solve \(bidirectional LSTM 16 on one-hot digits: 98\.6% exact-match, measured with seed 1\)\n/,
    );
  });

  it("evaluate on a Keras model of the task; the doctor's learns? check on the default configuration", async () => {
    const fixture = fileURLToPath(new URL('../../test/fixtures/keras/bilstm-onehot.keras', import.meta.url));
    const evaluate = JSON.parse((await seqTag(['evaluate', '--model', fixture, '--backend', 'cpu', '--json'])).stdout);
    assert.match(evaluate.nextStep, /^the architecture can solve the task, this training did not get there/);
    const doctor = await seqTag(['doctor', '--burst', '2']);
    assert.equal(doctor.status, 0);
    assert.match(doctor.stdout, /\nhealthy, with a warning: loss vs the no-skill floor — seq-tag train --preset solve \(bidirectional LSTM 16/);
  });
});
