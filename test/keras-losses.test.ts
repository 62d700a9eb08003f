/**
 * Issue #31: `evaluate` computes the loss as Keras 3 does for every head and loss it accepts,
 * including the non-probability heads seq-tag exists to explain. Fixtures by
 * test/fixtures/keras/make_losses.py (Keras 3.15.1): each model's `model.evaluate` beside it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { readdirSync } from 'node:fs';
import { loadModel } from '../src/model/store.js';
import { evaluateData } from '../src/training/experiment.js';
import { renderEvaluation } from '../src/report/render.js';
import { OFFLINE_BACKENDS, seqTag, useBackend } from './helpers.js';
import { taskEncoding } from '../src/task/model-data.js';
import { readDataFile, taskData } from '../src/task/tag-data.js';
import { tagSequences } from '../src/task/tagging.js';
import { datasetOf } from '../src/task/data.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/keras/', import.meta.url));
const SCHEMAS = fileURLToPath(new URL('../../schemas/', import.meta.url));
const CASES = [
  'loss-linear-sparse',
  'loss-linear-sparse-trained',
  'loss-relu-sparse',
  'loss-sigmoid-sparse',
  'loss-softmax-sparse',
  'loss-linear-categorical',
  'loss-sigmoid-categorical',
  // Padded sentences under Embedding(mask_zero=True) → BiLSTM → Dense(6, head), functional (issue #31).
  'pad-linear-categorical',
  'pad-relu-categorical',
  'pad-sigmoid-categorical',
  'pad-softmax-categorical',
  'pad-linear-sparse',
  'pad-softmax-sparse',
];

interface Expected {
  data: string;
  evaluate: { loss: number | null; accuracy: number };
  /** Padded fixtures: the loss over the real positions, reduced as model.evaluate reduces (null: nan there too). */
  realLoss?: number | null;
}

for (const backend of OFFLINE_BACKENDS) {
  describe(`Keras's loss on every head (${backend})`, () => {
    before(() => useBackend(backend));
    for (const name of CASES) {
      it(`${name}: loss within 1e-5 of Keras's (or nan where Keras's is), accuracy alike`, async () => {
        const expected = JSON.parse(readFileSync(join(FIXTURES, `${name}.expected.json`), 'utf8')) as Expected;
        const loaded = await loadModel(join(FIXTURES, `${name}.keras`));
        const data = await readDataFile(join(FIXTURES, expected.data), loaded.description);
        const e = evaluateData(loaded.model, data, { compile: loaded.compile, mask: loaded.description.mask });
        assert.ok(Math.abs(e.tokenAccuracy - expected.evaluate.accuracy) < 1e-6, `accuracy ${e.tokenAccuracy} vs ${expected.evaluate.accuracy}`);
        // Scored 32 rows at a time (the data in several chunks): the same scores, the same account of a nan.
        assert.ok(data.n > 64, `${data.n} rows: several chunks of 32`);
        const chunked = evaluateData(loaded.model, data, { compile: loaded.compile, mask: loaded.description.mask }, 32);
        const close = (a: number | null | undefined, b: number | null | undefined) => {
          const [x, y] = [a ?? NaN, b ?? NaN];
          return x === y || (Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) <= 1e-12 * Math.abs(y);
        };
        assert.ok(close(chunked.loss, e.loss), `chunked loss ${chunked.loss} vs ${e.loss}`);
        assert.ok(close(chunked.lossWhy?.otherLoss, e.lossWhy?.otherLoss), `otherLoss ${chunked.lossWhy?.otherLoss} vs ${e.lossWhy?.otherLoss}`);
        assert.deepEqual({ ...chunked, loss: 0, lossWhy: { ...chunked.lossWhy, otherLoss: 0 } }, { ...e, loss: 0, lossWhy: { ...e.lossWhy, otherLoss: 0 } });
        if (expected.evaluate.loss === null) {
          assert.ok(Number.isNaN(e.loss), `Keras: nan; seq-tag: ${e.loss}`);
          // Said why, with the loss of the other positions beside it: scored positions whose rows sum to
          // 0, or only padded ones (Keras scores padding before its mask weighs it 0), then the real loss.
          const why = e.lossWhy!;
          assert.ok(why.positions + why.padded > 0 && why.zeroSumRows === why.positions && why.paddedZeroSumRows === why.padded, JSON.stringify(why));
          if (expected.realLoss !== undefined) assert.equal(why.positions > 0, expected.realLoss === null, JSON.stringify(why));
          if (typeof expected.realLoss === 'number')
            assert.ok(Math.abs(why.otherLoss! - expected.realLoss) <= 1e-5 * expected.realLoss, `${why.otherLoss} vs ${expected.realLoss}`);
          if (typeof expected.realLoss === 'number') {
            // Chunks of 32 whose rows are whole (no padding: finite) before chunks whose padding is nan:
            // the loss over the real positions gathers the finite chunks too.
            const width = data.features ?? 1;
            const mixed = { ...data, x: Float32Array.from(data.x), labels: Int32Array.from(data.labels) };
            for (let r = 0; r < 64; r++)
              for (let t = 1; t < data.steps; t++) {
                mixed.x.copyWithin((r * data.steps + t) * width, r * data.steps * width, (r * data.steps + 1) * width);
                mixed.labels[r * data.steps + t] = mixed.labels[r * data.steps];
              }
            const scoring = { compile: loaded.compile, mask: loaded.description.mask };
            const [whole, parts] = [evaluateData(loaded.model, mixed, scoring), evaluateData(loaded.model, mixed, scoring, 32)];
            assert.ok(Number.isNaN(parts.loss) && whole.lossWhy!.positions === 0, JSON.stringify(whole.lossWhy));
            assert.ok(
              Math.abs(parts.lossWhy!.otherLoss! - whole.lossWhy!.otherLoss!) <= 1e-12 * whole.lossWhy!.otherLoss!,
              `${parts.lossWhy!.otherLoss} vs ${whole.lossWhy!.otherLoss}`,
            );
          }
          const text = renderEvaluation(e, undefined, { task: false }).replace(/\n(?!loss|verdict|$)/g, ' ');
          assert.match(
            text,
            why.positions
              ? /\nloss nan: as Keras reports it: \d+ scored positions have a loss that is not finite \(\d+ of their output rows sum to 0: the loss divides each row by its sum, 0\/0\).*; over the other positions the loss is \d+\.\d{4}\n/
              : /\nloss nan: as Keras reports it: [\d,]+ padded positions have a loss that is not finite \([\d,]+ of their output rows sum to 0: the loss divides each row by its sum, 0\/0\), and Keras weights padding by 0 only after computing it \(nan × 0 is nan\); over the real positions the loss is \d+\.\d{4}\n/,
          );
          const ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true });
          for (const file of readdirSync(SCHEMAS)) ajv.addSchema(JSON.parse(readFileSync(join(SCHEMAS, file), 'utf8')));
          const validate = ajv.getSchema('https://seq-tag.invalid/schemas/common.schema.json#/$defs/evaluation')!;
          assert.ok(validate(JSON.parse(JSON.stringify({ ...e, loss: 'NaN' }))), ajv.errorsText(validate.errors));
        } else {
          assert.ok(
            e.loss !== null && Math.abs(e.loss - expected.evaluate.loss) <= 1e-5 * Math.max(1, expected.evaluate.loss),
            `loss ${e.loss} vs Keras ${expected.evaluate.loss}`,
          );
          assert.equal(e.lossWhy, undefined);
        }
      });
    }
  });
}

describe('an Embedding over the digits themselves is a model of the digit task (issue #31)', () => {
  before(() => useBackend('cpu'));
  it("Embedding(10, 8) → BiLSTM → softmax, input (10,) int ids: run on generated digits as ids, Keras's outputs and evaluate within 1e-5", async () => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'digit-ids.expected.json'), 'utf8')) as Expected & { x: number[][]; output: number[][][] };
    const loaded = await loadModel(join(FIXTURES, 'digit-ids.keras'));
    assert.equal(taskEncoding('digit-ids.keras', loaded.description), 'ids');
    const tagged = tagSequences(loaded.model, taskData(datasetOf(expected.x.map((r) => Int32Array.from(r))), 'ids', 'probe'), true);
    tagged.forEach((t, s) => t.probabilities!.forEach((row, k) => row.forEach((p, c) => assert.ok(Math.abs(p - expected.output[s][k][c]) < 1e-5))));
    const data = await readDataFile(join(FIXTURES, 'digit-ids.npz'), loaded.description);
    const e = evaluateData(loaded.model, data, { compile: loaded.compile });
    assert.ok(Math.abs(e.loss! - expected.evaluate.loss!) < 1e-5 && Math.abs(e.tokenAccuracy - expected.evaluate.accuracy) < 1e-6);
    const run = await seqTag(['predict', '--model', join(FIXTURES, 'digit-ids.keras'), '--digits', '4 0 2 8 5 6 1 3 3 7', '--backend', 'cpu']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Embedding → Bidirectional\(LSTM 8\) → TimeDistributed\(Dense\(2,\s+softmax\)\),\s+digit ids\s+input/);
  });
});
