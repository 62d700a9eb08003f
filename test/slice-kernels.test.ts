import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import seedrandom from 'seedrandom';
import { sliceValues } from '../src/model/slice-kernels.js';
import { useBackend } from './helpers.js';

// The cpu backend's own slice, element by element: the reference.
type SliceImpl = (values: tf.TypedArray, begin: number[], size: number[], shape: number[], dtype: tf.DataType) => tf.TypedArray;
const { sliceImpl } = (createRequire(import.meta.url)('@tensorflow/tfjs-backend-cpu') as { shared: { sliceImpl: SliceImpl } }).shared;

/** A random shape of `rank` dimensions (sides up to `side`, the last up to `lastSide`) and a block in it, possibly empty. */
function randomBlock(random: () => number, rank: number, side: number, lastSide = side) {
  const int = (n: number) => Math.floor(random() * n);
  const shape = Array.from({ length: rank }, (_, d) => 1 + int(d === rank - 1 ? lastSide : side));
  const begin = shape.map((n) => int(n));
  const size = shape.map((n, d) => int(n - begin[d] + 1));
  return { shape, begin, size, length: tf.util.sizeFromShape(shape) };
}

describe('the cpu and wasm backends’ Slice, SplitV and Unpack (copied by rows)', () => {
  it('slice the same values as the backend’s own kernel: 300 random blocks of rank 1 to 5, float32, int32 and bool, short and long rows', () => {
    const random = seedrandom('slices');
    const int = (n: number) => Math.floor(random() * n);
    for (let k = 0; k < 300; k++) {
      const { shape, begin, size, length } = randomBlock(random, 1 + (k % 5), 7, k % 3 === 0 ? 600 : 7);
      const dtype = (['float32', 'int32', 'bool'] as const)[k % 3];
      const values: tf.TypedArray =
        dtype === 'float32'
          ? Float32Array.from({ length }, random)
          : dtype === 'int32'
            ? Int32Array.from({ length }, () => int(2 ** 7))
            : Uint8Array.from({ length }, () => int(2));
      const ours = sliceValues(values, shape, begin, size);
      assert.equal(ours.constructor, values.constructor);
      assert.deepEqual(Array.from(ours), Array.from(sliceImpl(values, begin, size, shape, dtype)), `shape ${shape} begin ${begin} size ${size}`);
    }
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`are the ones tf.slice, tf.split and tf.unstack run on the ${backend} backend: random blocks, negative sizes, strings, an LSTM’s four gate blocks and time steps`, async () => {
      await useBackend(backend);
      const random = seedrandom(backend);
      for (let k = 0; k < 60; k++) {
        const { shape, begin, size, length } = randomBlock(random, 1 + (k % 5), 6);
        const values = Float32Array.from({ length }, random);
        // A tensor made by an op (not from an array) lives in the wasm heap like an LSTM's gates do.
        const x = tf.tidy(() => tf.add(tf.tensor(values, shape), 0));
        assert.deepEqual(
          Array.from(tf.slice(x, begin, size).dataSync()),
          Array.from(sliceImpl(values, begin, size, shape, 'float32')),
          `shape ${shape} begin ${begin} size ${size}`,
        );
      }
      const x = tf.tensor2d(
        Array.from({ length: 5 * 8 }, (_, k) => k),
        [5, 8],
        'int32',
      );
      assert.deepEqual(tf.slice(x, [1, 2], [2, -1]).arraySync(), [
        [10, 11, 12, 13, 14, 15],
        [18, 19, 20, 21, 22, 23],
      ]);
      const gates = tf.split(x, 4, 1);
      assert.deepEqual(
        gates.map((g) => [g.shape, g.dtype]),
        Array.from({ length: 4 }, () => [[5, 2], 'int32']),
      );
      assert.deepEqual((gates[3].arraySync() as number[][])[4], [38, 39]);
      assert.deepEqual(
        tf.split(x, [3, 2], 0).map((p) => (p.arraySync() as number[][])[0][0]),
        [0, 24],
      );
      assert.deepEqual(tf.slice(tf.tensor1d([true, false, true], 'bool'), [1], [2]).arraySync(), [0, 1]);
      assert.deepEqual(tf.slice(tf.tensor1d(['a', 'b', 'c'], 'string'), [1], [2]).arraySync(), ['b', 'c']);
      assert.deepEqual(tf.slice(x, [0, 0], [0, 3]).shape, [0, 3]);
      // Unpack along each axis of a [3, 4, 2] tensor: tf.unstack as an LSTM takes its time steps.
      const cube = tf.tidy(() =>
        tf.add(
          tf.tensor3d(
            Array.from({ length: 24 }, (_, k) => k),
            [3, 4, 2],
          ),
          0,
        ),
      );
      const nested = cube.arraySync() as number[][][];
      assert.deepEqual(
        tf.unstack(cube, 1).map((t) => [t.shape, t.arraySync()]),
        [0, 1, 2, 3].map((j) => [[3, 2], nested.map((plane) => plane[j])]),
      );
      assert.deepEqual(tf.unstack(cube, 0)[2].arraySync(), nested[2]);
      assert.deepEqual(
        tf.unstack(cube, -1)[1].arraySync(),
        nested.map((plane) => plane.map((row) => row[1])),
      );
      assert.deepEqual(
        tf.unstack(tf.tensor2d([[true, false]], [1, 2], 'bool'), 1).map((t) => t.arraySync()),
        [[1], [0]],
      );
      assert.deepEqual(
        tf.unstack(tf.tensor2d([], [0, 3]), 1).map((t) => t.shape),
        [[0], [0], [0]],
      );
    });
  }

  it('are the kernels both backends run', () => {
    for (const backend of ['cpu', 'wasm'])
      for (const kernel of ['Slice', 'SplitV', 'Unpack'])
        assert.equal((tf.getKernel(kernel, backend)?.kernelFunc as { ours?: true }).ours, true, `${kernel} on ${backend}`);
  });

  // Timed, so not under mutation testing: Stryker's instrumentation of every expression slows the copy it times.
  const instrumented = '__stryker__' in globalThis;
  it('copy a 1000×16 block of a 1000×64 tensor at least 5 times as fast as the cpu backend’s own kernel', { skip: instrumented }, () => {
    const big = Float32Array.from({ length: 1000 * 64 }, (_, k) => k);
    // The fastest of 7 rounds: what the code costs, not what the other test files running beside it cost.
    const fastest = (slice: () => unknown) =>
      Math.min(
        ...Array.from({ length: 7 }, () => {
          const start = performance.now();
          for (let k = 0; k < 10; k++) slice();
          return performance.now() - start;
        }),
      );
    const own = fastest(() => sliceImpl(big, [0, 16], [1000, 16], [1000, 64], 'float32'));
    const rows = fastest(() => sliceValues(big, [1000, 64], [0, 16], [1000, 16]));
    assert.ok(rows * 5 < own, `by rows ${rows.toFixed(1)} ms, element by element ${own.toFixed(1)} ms`);
  });
});
