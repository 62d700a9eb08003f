/**
 * Every --json output has a JSON Schema in schemas/, and real outputs of every command are
 * validated against it with ajv; the config schema is the one the flag table generates.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { configJsonSchema } from '../src/cli/reference.js';
import { seqTag, tempDir } from './helpers.js';

const SCHEMAS = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'schemas');
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
for (const file of readdirSync(SCHEMAS)) ajv.addSchema(JSON.parse(readFileSync(join(SCHEMAS, file), 'utf8')));

function check(schema: string, doc: unknown): void {
  const validate = ajv.getSchema(`https://seq-tag.invalid/schemas/${schema}.schema.json`);
  assert.ok(validate, `schemas/${schema}.schema.json exists`);
  assert.ok(validate(doc), `${schema}: ${ajv.errorsText(validate.errors)}`);
}

async function json(args: string[], code = 0): Promise<Record<string, unknown>> {
  const run = await seqTag([...args, '--json', '--backend', 'cpu']);
  assert.equal(run.status, code, run.stderr);
  return JSON.parse(run.stdout);
}

describe('JSON Schemas of the --json outputs', { concurrency: 2 }, () => {
  const dir = tempDir();
  const model = join(dir, 'model');
  const small = ['--samples', '96', '--epochs', '2', '--seed', '1'];
  let trained: Record<string, unknown>;
  before(async () => {
    trained = await json(['train', ...small, '--validation-split', '0.25', '--model-dir', model]);
  });

  it('config.schema.json is what the flag table generates (npm run docs)', () => {
    // Compared as JSON: Prettier formats the committed file.
    assert.deepEqual(JSON.parse(readFileSync(join(SCHEMAS, 'config.schema.json'), 'utf8')), JSON.parse(configJsonSchema()), 'stale: run npm run docs');
  });

  it('train: a finished run, and a diverged one', async () => {
    check('train', trained);
    const diverged = await json(['train', ...small, '--activation', 'linear', '--model-dir', join(dir, 'nan')], 3);
    assert.equal(diverged.saved, false);
    check('train', diverged);
  });

  it('predict, and each line of predict --input', async () => {
    check('predict', await json(['predict', '--model', model, '--n', '2', '--seed', '3']));
    check('predict', await json(['predict', '--model', model, '--digits', '4028561337', '--digits', '1234567891']));
    writeFileSync(join(dir, 'in.txt'), '4 0 2 8 5 6 1 3 3 7\n1234567891\n');
    const run = await seqTag(['predict', '--model', model, '--input', join(dir, 'in.txt'), '--json', '--backend', 'cpu']);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    for (const line of lines) check('predict-line', JSON.parse(line));
  });

  it('evaluate, doctor (a model and a configuration) and export', async () => {
    check('evaluate', await json(['evaluate', '--model', model, '--samples', '50']));
    // The suite's model is trained for a moment: at the no-skill floor, so the doctor exits 3 (never healthy there).
    check('doctor', await json(['doctor', '--model', model], 3));
    check('doctor', await json(['doctor', '--model', fileURLToPath(new URL('../../test/fixtures/keras/sgd-nesterov.keras', import.meta.url))], 3));
    check('doctor', await json(['doctor', '--activation', 'linear', '--seed', '1', '--burst', '2'], 3));
    check('export', await json(['export', '--model', model, '--to', join(dir, 'model.keras')]));
  });

  it('sweep and tune, and the files they write, in each state: fresh, diverged, rerun over a finished folder', async () => {
    const sweepOut = join(dir, 'sweep');
    const sweep = await json(['sweep', '--grid', 'activation=softmax,linear', '--seeds', '1', ...small.slice(0, 4), '--out', sweepOut]);
    check('sweep', sweep);
    check('sweep', JSON.parse(readFileSync(join(sweepOut, 'summary.json'), 'utf8')));
    // Shares of runs, not counts (issue #32: 9 of 10 seeds diverging is 0.9).
    const [first] = sweep.configurations as Record<string, unknown>[];
    check('sweep', { ...sweep, configurations: [{ ...first, divergedEpoch1: 0.9, divergedAny: 0.9 }] });
    const over = ajv.getSchema('https://seq-tag.invalid/schemas/sweep.schema.json')!;
    assert.equal(over({ ...sweep, configurations: [{ ...first, divergedEpoch1: 1.5 }] }), false, 'a share above 1');
    // All diverged: every run of the sweep, every trial of the tune (no best: exit 3).
    const allDiverged = await json(['sweep', '--grid', 'activation=linear', '--seeds', '1', ...small.slice(0, 4), '--out', join(dir, 'nan-sweep')]);
    check('sweep', allDiverged);
    check('sweep', JSON.parse(readFileSync(join(dir, 'nan-sweep', 'summary.json'), 'utf8')));
    const nanTune = await json(
      ['tune', '--space', 'lr=1e-3..1e-2:log', '--activation', 'linear', '--trials', '2', ...small, '--out', join(dir, 'nan-tune')],
      3,
    );
    assert.equal(nanTune.best, null);
    check('tune', nanTune);
    check('tune', JSON.parse(readFileSync(join(dir, 'nan-tune', 'tune.json'), 'utf8')));
    const tuneOut = join(dir, 'tune');
    const tuneArgs = ['tune', '--space', 'lr=1e-3..1e-2:log', '--trials', '2', ...small, '--out', tuneOut];
    for (const round of ['fresh', 'rerun']) {
      const doc = await json(tuneArgs);
      check('tune', doc);
      const file = JSON.parse(readFileSync(join(tuneOut, 'tune.json'), 'utf8'));
      check('tune', file);
      assert.deepEqual(file.files, doc.files, `${round}: tune.json names its files as --json does`);
      // A rerun over a finished tune reads its trials back: they did not end in this tune (finishedAt null).
      const ended = (doc.trials as { finishedAt: number | null }[]).map((t) => t.finishedAt);
      assert.ok(round === 'fresh' ? ended.every((t) => typeof t === 'number') : ended.every((t) => t === null), `${round}: ${ended}`);
    }
  });

  it('train, predict (--data and each --input line) and evaluate on tagged text (issue #34)', async () => {
    const text = (name: string, body: string) => {
      writeFileSync(join(dir, name), body);
      return join(dir, name);
    };
    const train = text('t.txt', 'The/DT dog/NN barks/VBZ ./.\nA/DT cat/NN sleeps/VBZ ./.\nThe/DT cat/NN barks/VBZ ./.\n');
    const pos = join(dir, 'pos');
    const args = ['--units', '4', '--embedding-dim', '4', '--epochs', '1', '--seed', '1'];
    const trainedText = await json(['train', '--data', train, '--test-data', train, ...args, '--model-dir', pos]);
    check('train', trainedText);
    assert.deepEqual((trainedText.vocabulary as { tags: string[] }).tags, ['.', 'DT', 'NN', 'VBZ']);
    check('predict', await json(['predict', '--model', pos, '--data', train]));
    check('evaluate', await json(['evaluate', '--model', pos, '--data', train]));
    const run = await seqTag(['predict', '--model', pos, '--input', text('raw.txt', 'The dog sleeps .\nA zebra\n'), '--json', '--backend', 'cpu']);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 2, run.stderr);
    for (const line of lines) check('predict-line', JSON.parse(line));
    const chunks = text('c.conll', 'EU NNP B-ORG\nrejects VBZ O\nGerman JJ B-MISC\n\nPeter NNP B-PER\nBlackburn NNP I-PER\n');
    const entities = await json(['train', '--data', chunks, ...args, '--model-dir', join(dir, 'ner')]);
    check('train', entities);
    assert.ok((entities.evaluation as { entities?: unknown }).entities, 'BIO tags: entity scores');
  });

  it('train --from: a Keras file retrained with the fix (issue #34)', async () => {
    const keras = new URL('../../test/fixtures/keras/', import.meta.url).pathname;
    const args = ['train', '--from', `${keras}pos-linear.keras`, '--reinit', '--data', `${keras}pos.npz`, '--epochs', '1', '--seed', '1'];
    const retrained = await json([...args, '--fix', '--to', join(dir, 'fixed.keras')]);
    check('train', retrained);
    assert.equal((retrained.fix as { head: string }).head, 'softmax');
    // Without the fix it diverges at batch 1: nothing written, and the document says so.
    const diverged = await json([...args, '--to', join(dir, 'nan.keras')], 3);
    check('train', diverged);
    assert.equal(diverged.saved, false);
  });

  it('a document that breaks its schema is caught (the check can fail)', () => {
    const validate = ajv.getSchema('https://seq-tag.invalid/schemas/train.schema.json')!;
    const config = trained.config as Record<string, unknown>;
    assert.equal(validate({ ...trained, config: { ...config, activation: 'tanh' } }), false, 'an activation the flag table does not have');
    assert.equal(validate({ ...trained, epochs: [{ epoch: 0, loss: 'nan', seconds: 1 }] }), false, 'epoch 0, a misspelt NaN');
    assert.equal(validate({ ...trained, command: 'predict' }), false);
  });
});
