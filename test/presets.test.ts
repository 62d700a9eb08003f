import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { PRESETS, ORIGINAL_EXPERIMENT, SOLVE_EXPERIMENT, type DataSpec } from '../src/config/config.js';
import { HYPERPARAMETERS } from '../src/config/hyperparameters.js';
import { seqTag } from './helpers.js';
import { addExperimentOptions, configFromFlags, givenOn, type ExperimentFlags } from '../src/cli/options.js';

function parse(args: string[], data?: DataSpec) {
  const cmd = addExperimentOptions(new Command('t')).exitOverride();
  cmd.parse(args, { from: 'user' });
  return configFromFlags(cmd.opts() as ExperimentFlags, givenOn(cmd), data);
}

describe('presets', () => {
  it('no flags: the original experiment', () => {
    const { seed, ...config } = parse(['--seed', '4']);
    assert.equal(seed, 4);
    assert.deepEqual(config, ORIGINAL_EXPERIMENT);
  });

  it('--preset solve resolves to the documented values', () => {
    const { seed: _, ...config } = parse(['--preset', 'solve', '--seed', '4']);
    assert.deepEqual(config, SOLVE_EXPERIMENT);
    assert.deepEqual(
      [config.encoding, config.bidirectional, config.units, config.samples, config.batchSize, config.lr, config.epochs],
      ['onehot', true, 16, 6000, 32, 0.015, 12],
    );
    assert.deepEqual(Object.keys(PRESETS), ['original', 'solve']);
  });

  it("help offers no retired name and shows the solve preset's value beside each flag it sets", async () => {
    const help = (await seqTag(['train', '--help'])).stdout;
    /** An option's whole description: its first line and the indented lines after it, joined. */
    const entry = (flag: string) => {
      const lines = help.split('\n');
      const start = lines.findIndex((l) => l.trimStart().startsWith(`${flag} `));
      const end = lines.findIndex((l, k) => k > start && /^ {2}-/.test(l));
      return lines.slice(start, end).join(' ').replace(/\s+/g, ' ');
    };
    assert.doesNotMatch(entry('--preset'), /"seed"/);
    for (const [flag, value] of [
      ['--epochs', '12'],
      ['--samples', '6000'],
      ['--bidirectional', 'on'],
      ['--encoding', 'onehot'],
      ['--lr', '0.015'],
    ])
      assert.match(entry(flag), new RegExp(`\\(--preset solve: ${value}\\)`), flag);
    assert.doesNotMatch(entry('--batch-size'), /--preset solve/, 'the same batch size in both');
  });

  it('"seed", the preset\'s old name, still means original', () => {
    const { seed: _, ...config } = parse(['--preset', 'seed', '--seed', '4']);
    assert.deepEqual(config, ORIGINAL_EXPERIMENT);
  });

  it('every hyperparameter of the table reaches the config from its flag', () => {
    const config = parse([
      '--encoding',
      'onehot',
      '--bidirectional',
      '--epochs',
      '3',
      '--samples',
      '50',
      '--batch-size',
      '7',
      '--validation-split',
      '0.2',
      '--early-stopping',
      '2',
      '--min-delta',
      '0.01',
      '--lr-schedule',
      'plateau',
      '--lr-factor',
      '0.5',
      '--lr-patience',
      '3',
      '--min-lr',
      '0.0001',
      '--units',
      '9',
      '--lr',
      '0.2',
      '--recurrent-activation',
      'hardSigmoid',
      '--activation',
      'relu',
      '--batch-norm',
      '--layer-norm',
      '--optimizer',
      'adam',
      '--adam-epsilon',
      '0.01',
      '--clipnorm',
      '2',
      '--clipvalue',
      '3',
      '--kernel-initializer',
      'heNormal',
      '--recurrent-initializer',
      'zeros',
      '--no-nan-guard',
      '--dtype',
      'float64',
      '--embedding-dim',
      '32',
      '--min-count',
      '2',
      '--lowercase',
      '--max-length',
      '50',
      '--seed',
      '6',
    ]);
    assert.deepEqual(config, {
      encoding: 'onehot',
      bidirectional: true,
      epochs: 3,
      samples: 50,
      batchSize: 7,
      validationSplit: 0.2,
      earlyStopping: 2,
      minDelta: 0.01,
      lrSchedule: 'plateau',
      lrFactor: 0.5,
      lrPatience: 3,
      minLr: 0.0001,
      units: 9,
      lr: 0.2,
      recurrentActivation: 'hardSigmoid',
      activation: 'relu',
      batchNorm: true,
      layerNorm: true,
      optimizer: 'adam',
      adamEpsilon: 0.01,
      clipnorm: 2,
      clipvalue: 3,
      kernelInitializer: 'heNormal',
      recurrentInitializer: 'zeros',
      nanGuard: false,
      lstm: 'fused',
      dtype: 'float64',
      embeddingDim: 32,
      minCount: 2,
      lowercase: true,
      maxLength: 50,
      seed: 6,
      // Dropout's rows, at their defaults here: they need text (below).
      dropout: 0,
      recurrentDropout: 0,
      // The recurrent layers' rows, at their defaults here: another cell or depth needs --lstm layers (below).
      cell: 'lstm',
      layers: 1,
    });
    assert.equal(parse(['--lstm', 'layers']).lstm, 'layers');
    const text = parse(['--dropout', '0.25', '--recurrent-dropout', '0.1'], {
      train: { path: 't.txt', format: 'tagged', bytes: 1, sha256: '0'.repeat(64) },
      tagColumn: 'tag',
    });
    assert.deepEqual([text.dropout, text.recurrentDropout], [0.25, 0.1]);
    const stacked = parse(['--cell', 'gru', '--layers', '3', '--lstm', 'layers']);
    assert.deepEqual([stacked.cell, stacked.layers, stacked.lstm], ['gru', 3, 'layers']);
    assert.deepEqual(Object.keys(config).sort(), [...HYPERPARAMETERS.map((h) => h.key), 'seed'].sort(), 'one row per config key');
  });

  it('explicit flags override the preset, defaults do not', () => {
    const config = parse(['--preset', 'solve', '--epochs', '3', '--units', '8', '--seed', '1']);
    assert.equal(config.epochs, 3);
    assert.equal(config.units, 8);
    assert.equal(config.samples, SOLVE_EXPERIMENT.samples);
    assert.equal(config.encoding, 'onehot');
    assert.equal(config.lr, SOLVE_EXPERIMENT.lr);
  });

  it('--optimizer brings its Keras learning rate unless --lr is given', () => {
    assert.equal(parse(['--optimizer', 'sgd']).lr, 0.01);
    assert.equal(parse(['--optimizer', 'sgd', '--lr', '0.1']).lr, 0.1);
    assert.equal(parse(['--preset', 'solve', '--optimizer', 'adam']).lr, 0.001);
    assert.equal(parse(['--encoding', 'onehot', '--bidirectional']).bidirectional, true);
    assert.equal(parse(['--preset', 'solve', '--no-bidirectional']).bidirectional, false);
    assert.equal(parse(['--preset', 'solve']).bidirectional, true);
    assert.equal(parse([]).bidirectional, false);
  });
});
