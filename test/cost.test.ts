import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ORIGINAL_EXPERIMENT, SOLVE_EXPERIMENT } from '../src/config/config.js';
import { estimateCost, formatDuration } from '../src/training/cost.js';
import { formatBytes } from '../src/shared/format.js';

describe('cost estimate', () => {
  it('is near the measured fit times (float64: seed 0.65 s, BiLSTM 64 10.5 s, BiLSTM 128 18.0 s; float32: 0.3, 3.2 and 6.1 s for 2 epochs; init and evaluation on top)', () => {
    const f64 = { ...ORIGINAL_EXPERIMENT, dtype: 'float64' } as const;
    const seed = estimateCost(f64);
    assert.ok(seed.seconds > 0.4 && seed.seconds < 1.5, `${seed.seconds}`);
    const bi64 = estimateCost({ ...SOLVE_EXPERIMENT, dtype: 'float64', units: 64, samples: 10_000, epochs: 2 });
    assert.ok(bi64.seconds > 8 && bi64.seconds < 14, `${bi64.seconds}`);
    const bi128 = estimateCost({ ...SOLVE_EXPERIMENT, dtype: 'float64', units: 128, samples: 10_000, epochs: 1 });
    assert.ok(bi128.seconds > 15 && bi128.seconds < 24, `${bi128.seconds}`);
    const f32 = (units: number) => estimateCost({ ...SOLVE_EXPERIMENT, units, samples: 10_000, epochs: 2 }).seconds;
    assert.ok(f32(64) > 2 && f32(64) < 5, `${f32(64)}`);
    assert.ok(f32(128) > 5 && f32(128) < 10, `${f32(128)}`);
    assert.ok(estimateCost(ORIGINAL_EXPERIMENT).seconds < seed.seconds / 2, 'float32 is the faster engine');
  });

  it('grows with what costs: samples and epochs linearly, units quadratically; names the biggest memory user', () => {
    const base = estimateCost({ ...ORIGINAL_EXPERIMENT, units: 256 });
    assert.ok(Math.abs(estimateCost({ ...ORIGINAL_EXPERIMENT, units: 256, epochs: 40 }).seconds / base.seconds - 2) < 0.1);
    assert.ok(estimateCost({ ...ORIGINAL_EXPERIMENT, units: 512 }).seconds / base.seconds > 3.5);
    assert.equal(estimateCost({ ...ORIGINAL_EXPERIMENT, samples: 10_000_000 }).biggest, 'samples');
    assert.equal(estimateCost({ ...ORIGINAL_EXPERIMENT, samples: 1_000_000, batchSize: 1_000_000 }).biggest, 'batch-size');
    assert.equal(estimateCost({ ...ORIGINAL_EXPERIMENT, units: 1024, samples: 64 }).biggest, 'units');
    assert.ok(estimateCost({ ...ORIGINAL_EXPERIMENT, units: 1024 }).initSeconds > 5);
    assert.equal(estimateCost({ ...ORIGINAL_EXPERIMENT, recurrentInitializer: 'glorotUniform', units: 1024 }).initSeconds, 0);
    assert.equal(estimateCost(ORIGINAL_EXPERIMENT).backendBytes, 0, 'the fused engine keeps nothing in the backend');
  });

  it('speaks in human units', () => {
    assert.equal(formatDuration(45), '45 s');
    assert.equal(formatDuration(17 * 60), '17 min');
    assert.equal(formatDuration(2.3 * 3600), '2.3 h');
    assert.equal(formatBytes(350 * 2 ** 20), '350 MiB');
    assert.equal(formatBytes(14.2 * 2 ** 30), '14.2 GiB');
  });
});
