import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { ORIGINAL_EXPERIMENT, type Config } from '../src/config/config.js';
import { buildModel } from '../src/model/model.js';
import { generateDataset } from '../src/task/data.js';
import { rngFor } from '../src/shared/random.js';
import { arithmeticFor, describeArithmetic } from '../src/training/fused/arithmetic.js';
import { FLOAT64, FusedNetwork, type Arithmetic } from '../src/training/fused/network.js';
import { readParameters } from '../src/training/fused/parameters.js';
import { WasmDirections } from '../src/training/fused/wasm/directions.js';
import { TypedOptimizer } from '../src/training/fused/optimizers.js';
import { crossentropyBackward, headForward } from '../src/training/fused/head.js';
import { describeKernels, kernels, nativeKernels, newMemory, PAGE_BYTES, useKernels, type KernelKind } from '../src/training/fused/wasm/instance.js';
import { Helper } from '../src/training/fused/wasm/thread.js';
import { SOURCE_SHA256 } from '../src/training/fused/wasm/module.js';
import { createExperiment, runExperiment } from '../src/training/experiment.js';
import { useBackend } from './helpers.js';

const F32: Arithmetic = { precision: 'float32', threads: 1 };
const F32X2: Arithmetic = { precision: 'float32', threads: 2 };

/**
 * The kernels every kernel test runs on: the WebAssembly module, and the native build where there is
 * one. CI sets SEQ_TAG_REQUIRE_NATIVE=1 (.ci/run), so there a missing build fails instead of skipping.
 */
export const KINDS: KernelKind[] = nativeKernels() ? ['wasm', 'native'] : ['wasm'];

/** `run` with the fused engine's kernels set to `kind` (networks and optimizers take theirs when they are made). */
function withKernels<T>(kind: KernelKind, run: () => T): T {
  const before = useKernels(kind);
  try {
    return run();
  } finally {
    useKernels(before);
  }
}

describe('the WebAssembly module', () => {
  it('was built from the committed AssemblyScript source (npm run wasm after editing it)', () => {
    const source = readFileSync(new URL('../../tools/wasm/assembly/lstm.ts', import.meta.url));
    assert.equal(createHash('sha256').update(source).digest('hex'), SOURCE_SHA256);
  });

  it('the native kernels are built where CI requires them', () => {
    if (process.env.SEQ_TAG_REQUIRE_NATIVE === '1') assert.ok(nativeKernels(), 'native/build/Release/seqtag_kernels.node did not load');
  });

  it('--kernels: auto takes the native build when there is one, native without one is refused in one line', () => {
    const before = useKernels('auto');
    try {
      assert.equal(useKernels('auto', true), 'native');
      assert.equal(useKernels('auto', false), 'wasm');
      assert.equal(useKernels('wasm', true), 'wasm');
      assert.equal(useKernels('native', true), 'native');
      assert.throws(
        () => useKernels('native', false),
        /^UserError: cannot use --kernels native: they are not built here \(npm run build:native needs a C\+\+ compiler\); try --kernels auto$/,
      );
    } finally {
      useKernels(before);
    }
  });
});

for (const kind of KINDS)
  describe(`the ${kind} kernels`, () => {
    it('tanh and sigmoid within 4e-7 of the float64 functions (absolute) over [−20, 20], exact at 0 and ±1 far out', () => {
      const memory = newMemory();
      const wasm = kernels(memory, undefined, kind);
      const f32 = new Float32Array(memory.buffer);
      const n = 8001;
      for (let i = 0; i < n; i++) f32[1024 + i] = -20 + (40 * i) / (n - 1);
      f32[1024 + n] = 1e-5; // below 4e-4: tanh(x) = x
      for (const [name, exact] of [
        ['tanhOf', Math.tanh],
        ['sigmoidOf', (x: number) => 1 / (1 + Math.exp(-x))],
      ] as const) {
        wasm[name](4 * 16384, 4 * 1024, n + 1);
        let worst = 0;
        for (let i = 0; i <= n; i++) worst = Math.max(worst, Math.abs(f32[16384 + i] - exact(f32[1024 + i])));
        assert.ok(worst <= 4e-7, `${name}: ${worst}`);
      }
      wasm.tanhOf(4 * 16384, 4 * 1024, n + 1);
      assert.equal(f32[16384 + n], Math.fround(1e-5));
      assert.equal(f32[16384], -1);
      assert.equal(f32[16384 + (n - 1) / 2], 0);
    });

    it('gemm: every block and tail (4×8, 4×4, single rows and columns), strided A, accumulation', () => {
      const memory = newMemory();
      const wasm = kernels(memory, undefined, kind);
      const f32 = new Float32Array(memory.buffer);
      for (const [m, n, k] of [
        [9, 21, 7],
        [4, 8, 1],
        [1, 3, 5],
        [13, 64, 30],
        [6, 53, 9],
      ]) {
        for (const transposed of [false, true]) {
          for (const accumulate of [false, true]) {
            const [a, b, c] = [1024, 8192, 16384]; // float offsets of A, B, C
            for (let i = 0; i < m * k; i++) f32[a + i] = Math.sin(i + 1);
            for (let i = 0; i < k * n; i++) f32[b + i] = Math.cos(i * 0.7);
            f32.fill(0.5, c, c + m * (n + 2));
            // A stored [m×k], or [k×m] and read transposed through the strides.
            const [ars, acs] = transposed ? [1, m] : [k, 1];
            wasm.gemm(4 * c, n + 2, 4 * a, ars, acs, 4 * b, n, m, n, k, accumulate ? 1 : 0);
            for (let i = 0; i < m; i++) {
              for (let j = 0; j < n + 2; j++) {
                let s = accumulate || j >= n ? 0.5 : 0;
                if (j < n) for (let q = 0; q < k; q++) s += f32[a + i * ars + q * acs] * f32[b + q * n + j];
                const got = f32[c + i * (n + 2) + j];
                assert.ok(Math.abs(got - s) <= 1e-5 * (1 + Math.abs(s)), `${m}×${n}×${k} ${transposed ? 'Aᵀ' : 'A'} C[${i},${j}] ${got} vs ${s}`);
              }
            }
          }
        }
      }
    });
  });

describe('float32 engine', () => {
  before(() => useBackend('cpu'));

  it('128 units, both directions: outputs and every gradient within 1e-5 of the float64 engine; 2 threads give the same bits as 1', () => {
    // glorotUniform: the orthogonal initializer takes tens of seconds at 128 units on the cpu backend; the parity does not depend on it.
    const config: Config = { ...ORIGINAL_EXPERIMENT, encoding: 'onehot', bidirectional: true, units: 128, recurrentInitializer: 'glorotUniform', seed: 4 };
    const model = buildModel(config, 4);
    const data = generateDataset(11, rngFor(11, 'wide'));
    const nets = [FLOAT64, F32, F32X2].map((a) => new FusedNetwork(config, readParameters(model), a));
    const losses = nets.map((net) => net.lossAndGradients(data.digits, data.labels, 11));
    assert.ok(Math.abs(losses[1] - losses[0]) < 1e-6, `loss ${losses[1]} vs ${losses[0]}`);
    nets[0].grads.forEach((g, k) => {
      const scale = Math.max(...g.map(Math.abs));
      const diff = Math.max(...g.map((v, i) => Math.abs(v - nets[1].grads[k][i])));
      assert.ok(scale > 0 && diff <= 1e-5 * scale, `gradient ${k}: ${diff} vs scale ${scale}`);
      assert.deepEqual(nets[2].grads[k], nets[1].grads[k], `gradient ${k}: threads`);
    });
    model.dispose();
    nets.forEach((n) => n.dispose());
  });

  it('the same seed gives the same loss history, on 1 or 2 threads', async () => {
    const config: Config = { ...ORIGINAL_EXPERIMENT, encoding: 'onehot', bidirectional: true, units: 12, samples: 128, epochs: 2, seed: 9 };
    const run = async (threads: number) => (await runExperiment(createExperiment(config), { threads })).epochs.map((e) => e.loss);
    const first = await run(1);
    assert.deepEqual(await run(1), first);
    assert.deepEqual(await run(2), first);
  });

  it('float32 and float64 train to the same losses within 1e-4 (and not to the same bits: two engines ran)', async () => {
    const config: Config = { ...ORIGINAL_EXPERIMENT, samples: 200, epochs: 3, seed: 12 };
    const run = async (dtype: Config['dtype']) => (await runExperiment(createExperiment({ ...config, dtype }))).epochs.map((e) => e.loss);
    const [f32, f64] = [await run('float32'), await run('float64')];
    f32.forEach((loss, k) => assert.ok(Math.abs(loss - f64[k]) < 1e-4, `epoch ${k + 1}: ${loss} vs ${f64[k]}`));
    assert.notDeepEqual(f32, f64);
  });

  it('picks a helper thread from 32 units, one or two directions, and says so', () => {
    const at = (units: number, threads?: number) => arithmeticFor({ dtype: 'float32', units }, threads);
    assert.deepEqual(at(31), F32);
    assert.deepEqual(at(32), F32X2);
    assert.deepEqual(at(128, 1), F32);
    assert.deepEqual(at(16, 2), F32X2);
    assert.deepEqual(arithmeticFor({ dtype: 'float64', units: 128 }), FLOAT64);
    // The kernels that run here: "WebAssembly SIMD", or "native AVX-512" (or AVX2, NEON) where they are built.
    const k = describeKernels();
    assert.equal(describeKernels('wasm'), 'WebAssembly SIMD');
    if (nativeKernels()) assert.match(describeKernels('native'), /^native (AVX-512|AVX2|NEON|SSE2|scalar)$/);
    assert.equal(k, describeKernels(nativeKernels() ? 'native' : 'wasm'));
    assert.equal(describeArithmetic({ dtype: 'float32', units: 32 }), `float32 (${k}, 2 threads: 32 units or more)`);
    assert.equal(describeArithmetic({ dtype: 'float32', units: 16 }), `float32 (${k}, 1 thread: under 32 units)`);
    assert.equal(describeArithmetic({ dtype: 'float32', units: 64 }, 1), `float32 (${k}, 1 thread, set by --threads)`);
    assert.equal(describeArithmetic({ dtype: 'float64', units: 64 }), 'float64 (JavaScript)');
    // The tagger of words runs on one thread: text, or a file's Embedding tagger retrained.
    assert.deepEqual(arithmeticFor({ dtype: 'float32', units: 64, encoding: 'embedding' }), F32);
    assert.equal(describeArithmetic({ dtype: 'float32', units: 64, encoding: 'embedding' }), `float32 (${k}, 1 thread)`);
  });

  it('one direction on 2 threads (two halves of each batch): the same gradients within 1e-6, the same losses run to run', async () => {
    const config: Config = { ...ORIGINAL_EXPERIMENT, encoding: 'onehot', units: 40, samples: 100, epochs: 2, batchSize: 25, seed: 2 };
    const model = buildModel(config, 2);
    const data = generateDataset(25, rngFor(25, 'halves'));
    const [one, two] = [F32, F32X2].map((a) => new FusedNetwork(config, readParameters(model), a));
    const [l1, l2] = [one, two].map((net) => net.lossAndGradients(data.digits, data.labels, 25));
    assert.ok(Math.abs(l1 - l2) < 1e-7, `loss ${l1} vs ${l2}`);
    one.grads.forEach((g, k) => {
      const scale = Math.max(...g.map(Math.abs));
      const diff = Math.max(...g.map((v, i) => Math.abs(v - two.grads[k][i])));
      assert.ok(diff <= 1e-6 * scale, `gradient ${k}: ${diff} vs scale ${scale}`);
    });
    [one, two].forEach((n) => n.dispose());
    model.dispose();
    const run = async () => (await runExperiment(createExperiment(config), { threads: 2 })).epochs.map((e) => e.loss);
    assert.deepEqual(await run(), await run());
  });
});

/** A valid module that imports a function env.f, which the helper's instance does not get: it cannot start. */
const CANNOT_START = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 2, 9, 1, 3, 0x65, 0x6e, 0x76, 1, 0x66, 0, 0]);

describe('the helper thread and the memory limit', () => {
  it('a kernel call that traps on the helper is an error on the caller, not a hang (and a helper that did start is never said not to have)', () => {
    // A start-up time of 0: the caller waits while the fresh helper starts; once it has, that is no failure to start.
    const helper = new Helper(newMemory(), { startTimeoutMs: 0 });
    // The descriptor lies past the end of the 2-page memory: the module traps on its first read.
    helper.start('lstmForward', 2 * PAGE_BYTES - 4);
    assert.throws(() => helper.wait(), /^Error: fused engine: the helper thread failed$/);
    helper.dispose();
  });

  it('a helper that cannot start is one error after its start-up time, and does not take the process down', async () => {
    const helper = new Helper(newMemory(), { kind: 'wasm', module: new WebAssembly.Module(CANNOT_START), startTimeoutMs: 200 });
    helper.start('lstmForward', 0);
    assert.throws(() => helper.wait(), /^Error: fused engine: the helper thread did not start; use --threads 1$/);
    // Its thread's error event arrives once this thread is free again; the next wait names it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.throws(() => helper.wait(), /^Error: fused engine: the helper thread stopped \(.*env.*\); use --threads 1$/);
    helper.dispose();
  });

  it('disposed helpers leave no threads behind (a program that trains many models)', async () => {
    const threads = () => readdirSync('/proc/self/task').length;
    const helpers = Array.from({ length: 4 }, () => new Helper(newMemory()));
    for (const h of helpers) {
      h.start('lstmForward', 2 * PAGE_BYTES - 4);
      assert.throws(() => h.wait());
    }
    // Counted once all four run (threads of earlier tests may still be ending, so no count from before them).
    const running = threads();
    helpers.forEach((h) => h.dispose());
    for (let i = 0; i < 100 && running - threads() < 4; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(running - threads() >= 4, `${running} threads with the helpers, ${threads()} after disposing them`);
  });

  it("batches whose buffers would pass WebAssembly's 4 GiB are refused before any memory is taken", () => {
    const lstm = new WasmDirections({ units: 1024, inputWidth: 10, onehot: true, hard: false }, 1, 1);
    // gates and dz alone: 2 × 10 steps × 30,000 × 4,096 floats × 4 bytes = 9,375 MiB.
    assert.throws(
      () => lstm.forward([], new Int32Array(0), 30_000, new Float64Array(0), 1024),
      (err: Error) => {
        const mib = Number(/^fused engine: batches of 30000 need (\d+) MiB of float32 buffers, more than WebAssembly's 4 GiB$/.exec(err.message)?.[1]);
        return mib > 9375 && mib < 20_000;
      },
    );
    lstm.dispose();
  });
});

describe('the native kernels against the WebAssembly ones', { skip: !nativeKernels() && 'the native kernels are not built here' }, () => {
  before(() => useBackend('cpu'));

  it('one batch of BiLSTM 128 and of LSTM 37 (every tail) on 1 and 2 threads: the loss within 1e-6, every gradient within 1e-5 of its scale, and not the same bits', () => {
    for (const [units, bidirectional, encoding] of [
      [128, true, 'onehot'],
      [37, false, 'scalar'],
    ] as const) {
      const config: Config = { ...ORIGINAL_EXPERIMENT, encoding, bidirectional, units, recurrentInitializer: 'glorotUniform', seed: 5 };
      const model = buildModel(config, encoding === 'onehot' ? 4 : 1);
      const data = generateDataset(13, rngFor(13, 'native'));
      for (const a of [F32, F32X2]) {
        const nets = (['wasm', 'native'] as const).map((kind) => withKernels(kind, () => new FusedNetwork(config, readParameters(model), a)));
        const [wasm, native] = nets.map((net) => net.lossAndGradients(data.digits, data.labels, 13));
        assert.ok(Math.abs(native - wasm) < 1e-6, `${units} units: loss ${native} vs ${wasm}`);
        let same = true;
        nets[0].grads.forEach((g, k) => {
          const scale = Math.max(...g.map(Math.abs));
          const diff = Math.max(...g.map((v, i) => Math.abs(v - nets[1].grads[k][i])));
          same &&= diff === 0;
          assert.ok(scale > 0 && diff <= 1e-5 * scale, `${units} units, gradient ${k}: ${diff} vs scale ${scale}`);
        });
        assert.ok(!same, `${units} units: the same bits, so one kernel ran twice`);
        nets.forEach((n) => n.dispose());
      }
      model.dispose();
    }
  });

  it('train to the losses of the WebAssembly kernels within 1e-4, and to the same losses run to run', async () => {
    const config: Config = { ...ORIGINAL_EXPERIMENT, encoding: 'onehot', bidirectional: true, units: 24, samples: 256, epochs: 3, seed: 8 };
    // The kernels stay set until the run has ended (the engine is made after the first await).
    const run = async (kind: KernelKind) => {
      const before = useKernels(kind);
      try {
        return (await runExperiment(createExperiment(config))).epochs.map((e) => e.loss);
      } finally {
        useKernels(before);
      }
    };
    const [wasm, native] = [await run('wasm'), await run('native')];
    native.forEach((loss, k) => assert.ok(Math.abs(loss - wasm[k]) < 1e-4, `epoch ${k + 1}: ${loss} vs ${wasm[k]}`));
    assert.notDeepEqual(native, wasm, 'the same bits: one kernel ran twice');
    assert.deepEqual(await run('native'), native);
  });

  it('a descriptor, region, digit or product outside the memory is a RangeError before anything is written', () => {
    const memory = newMemory();
    const native = kernels(memory, undefined, 'native');
    const i32 = new Int32Array(memory.buffer);
    const f32 = new Float32Array(memory.buffer);
    const outside = /^RangeError: native kernels: a descriptor outside the memory$/;
    // Past the end, unaligned, negative.
    for (const at of [2 * PAGE_BYTES - 4, 1026, -4]) assert.throws(() => native.lstmForward(at), outside);
    // A descriptor of 4 units, a batch of 1, 10 steps, one-hot: its digits at 8192 bytes, every other region at 16384 …
    const d = 1024;
    i32.fill(0, d, d + 22);
    i32.set([4, 1, 10, 1, 0, 0, 8192], d);
    for (let k = 7; k < 22; k++) i32[d + k] = 16384;
    i32.fill(3, 8192 / 4, 8192 / 4 + 10);
    native.lstmForward(4 * d); // … is inside: it runs.
    native.lstmBackward(4 * d);
    // A region that runs past the end; a one-hot digit that is not 0..9; units far too many.
    // (The gates need 10 steps × 16 floats = 640 bytes: at 400 bytes from the end they start inside and end outside.)
    for (const [k, v] of [
      [11, 2 * PAGE_BYTES - 64],
      [11, 2 * PAGE_BYTES - 400],
      [6, -4],
      [0, 1 << 20],
    ]) {
      const kept = i32[d + k];
      i32[d + k] = v;
      assert.throws(() => native.lstmForward(4 * d), outside);
      assert.throws(() => native.lstmBackward(4 * d), outside);
      i32[d + k] = kept;
    }
    i32[8192 / 4 + 3] = 10;
    assert.throws(() => native.lstmForward(4 * d), outside);
    const before = f32.slice();
    // C, A or B reaching past the end (each of them alone).
    for (const [c, a, b] of [
      [2 * PAGE_BYTES - 16, 0, 0],
      [0, 2 * PAGE_BYTES - 16, 0],
      [0, 0, 2 * PAGE_BYTES - 16],
    ])
      assert.throws(() => native.gemm(c, 8, a, 8, 1, b, 8, 2, 8, 8, 0), /^RangeError: native kernels: a product outside the memory$/);
    assert.throws(() => native.tanhOf(0, 2 * PAGE_BYTES - 8, 4), /^RangeError: native kernels: an activation outside the memory$/);
    assert.deepEqual(f32, before);
  });
});

describe('the native bookkeeping: the same bits as the JavaScript it replaces', { skip: !nativeKernels() && 'the native kernels are not built here' }, () => {
  const filled = (n: number, f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));

  it('Adam: three steps on weights of 1, 37 and 1,000 numbers (tiny, huge and zero gradients) give the same weights and slots', () => {
    const lengths = [1, 37, 1000];
    const run = (kind: KernelKind) =>
      withKernels(kind, () => {
        const params = lengths.map((n) => filled(n, (i) => Math.sin(i + n)));
        const optimizer = new TypedOptimizer({ optimizer: 'adam', lr: 0.003, adamEpsilon: 1e-7 }, params);
        for (let step = 0; step < 3; step++) {
          const grads = lengths.map((n) => filled(n, (i) => (i % 7 === 0 ? 0 : Math.cos(i * (step + 1)) * 10 ** ((i % 13) - 6))));
          optimizer.apply(params, grads);
        }
        return [...params, ...optimizer.snapshot().map((a) => a.values)];
      });
    const [js, native] = [run('wasm'), run('native')];
    native.forEach((a, k) => assert.deepEqual(a, js[k], `array ${k}`));
  });

  it('the Dense(2) head forward and back, every activation, rows in fours and a tail: the same outputs, loss and gradients', () => {
    const [batch, H] = [3, 13];
    const rows = batch * 10;
    const features = filled(rows * H, (i) => Math.sin(i * 0.37) * 2);
    const dense = { kernel: filled(2 * H, (i) => Math.cos(i) / 3), bias: Float64Array.of(0.1, -0.2) };
    const labels = Int32Array.from({ length: rows }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0));
    for (const activation of ['softmax', 'sigmoid', 'relu', 'linear'] as const) {
      const run = (kind: KernelKind) =>
        withKernels(kind, () => {
          const out = new Float64Array(2 * rows);
          headForward(features, rows, H, dense, activation, out);
          if (activation === 'relu' || activation === 'linear') out.forEach((v, i) => (out[i] = Math.abs(v) + 0.01));
          const g = { kernel: filled(2 * H, () => 0.5), bias: Float64Array.of(1, 2) };
          const dFeatures = new Float64Array(rows * H);
          const loss = crossentropyBackward(out, labels, batch, features, H, dense, g, activation, dFeatures);
          return [out, Float64Array.of(loss), g.kernel, g.bias, dFeatures];
        });
      const [js, native] = [run('wasm'), run('native')];
      native.forEach((a, k) => assert.deepEqual(a, js[k], `${activation}: array ${k}`));
    }
    const n = nativeKernels()!;
    assert.throws(
      () => n.denseForward(features, rows + 1, H, dense.kernel, dense.bias, new Float64Array(2 * rows + 2)),
      /^RangeError: native kernels: denseForward outside its arrays$/,
    );
    assert.throws(
      () => n.denseBackward(features, new Float64Array(2), rows, H, dense.kernel, dense.kernel, dense.bias, features),
      /^RangeError: native kernels: denseBackward outside its arrays$/,
    );
  });

  it('copySteps and addInto: a part of a batch to and from the features, forwards and reversed; the sums of one and two parts', () => {
    const n = nativeKernels()!;
    const memory = newMemory();
    const f32 = new Float32Array(memory.buffer);
    const [T, u, H, count, first, B] = [10, 5, 12, 3, 2, 6];
    for (const direction of [0, 1]) {
      for (let i = 0; i < T * count * u; i++) f32[256 + i] = Math.fround(Math.sin(i) * 3);
      const features = filled(B * T * H, (i) => i / 7);
      const expected = features.slice();
      for (let step = 0; step < T; step++) {
        const t = direction === 1 ? T - 1 - step : step;
        for (let b = 0; b < count; b++)
          for (let j = 0; j < u; j++) expected[((first + b) * T + t) * H + direction * u + j] = f32[256 + (step * count + b) * u + j];
      }
      n.copySteps(memory.buffer, 1024, features, H, direction, first, count, u, T, true);
      assert.deepEqual(features, expected);
      // Back: features → the buffer, rounded to float32.
      features.forEach((_, i) => (features[i] = Math.sin(i * 0.3) / 3));
      n.copySteps(memory.buffer, 1024, features, H, direction, first, count, u, T, false);
      for (let step = 0; step < T; step++) {
        const t = direction === 1 ? T - 1 - step : step;
        for (let b = 0; b < count; b++)
          for (let j = 0; j < u; j++) assert.equal(f32[256 + (step * count + b) * u + j], Math.fround(features[((first + b) * T + t) * H + direction * u + j]));
      }
    }
    const target = filled(9, (i) => i * 0.1);
    const sum = filled(9, (i) => i * 0.1 + f32[256 + i] + f32[512 + i]);
    n.addInto(target, memory.buffer, 1024, 2048);
    assert.deepEqual(target, sum);
    n.addInto(target, memory.buffer, 1024, -1);
    assert.deepEqual(
      target,
      sum.map((v, i) => v + f32[256 + i]),
    );
    // Outside the memory or the arrays: refused.
    assert.throws(() => n.addInto(target, memory.buffer, 2 * PAGE_BYTES - 8, -1), /^RangeError: native kernels: addInto outside the memory$/);
    assert.throws(() => n.copySteps(memory.buffer, 1024, target, H, 0, first, count, u, T, true), /^RangeError: native kernels: copySteps outside its arrays$/);
    assert.throws(
      () =>
        n.adam(
          target,
          target,
          target,
          filled(3, () => 0),
          1,
          1,
          1e-7,
          0.9,
          0.999,
        ),
      /^RangeError: native kernels: adam's arrays$/,
    );
  });
});
