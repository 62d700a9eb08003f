import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { PRESETS, SEED_EXPERIMENT, SOLVE_EXPERIMENT } from '../src/model/config.js';
import { addExperimentOptions, configFromFlags, givenOn, type ExperimentFlags } from '../src/cli/options.js';

function parse(args: string[]) {
  const cmd = addExperimentOptions(new Command('t')).exitOverride();
  cmd.parse(args, { from: 'user' });
  return configFromFlags(cmd.opts() as ExperimentFlags, givenOn(cmd));
}

describe('presets', () => {
  it('no flags: the seed experiment', () => {
    const { seed, ...config } = parse(['--seed', '4']);
    assert.equal(seed, 4);
    assert.deepEqual(config, SEED_EXPERIMENT);
  });

  it('--preset solve resolves to the documented values', () => {
    const { seed: _, ...config } = parse(['--preset', 'solve', '--seed', '4']);
    assert.deepEqual(config, SOLVE_EXPERIMENT);
    assert.deepEqual(
      [config.encoding, config.bidirectional, config.units, config.samples, config.batchSize, config.lr, config.epochs],
      ['onehot', true, 16, 6000, 32, 0.015, 12],
    );
    assert.deepEqual(Object.keys(PRESETS), ['seed', 'solve']);
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
