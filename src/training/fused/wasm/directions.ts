import { SEQUENCE_LENGTH } from '../../../task/data.js';
import type { CellShape } from '../lstm.js';
import type { DirectionWeights } from '../parameters.js';
import type { Recurrent } from '../recurrent.js';
import { kernels, MAX_PAGES, newMemory, PAGE_BYTES, type LstmKernels } from './instance.js';
import { Helper } from './thread.js';

const T = SEQUENCE_LENGTH;

/** The descriptor's fields, in the order tools/wasm/assembly/lstm.ts reads them. */
const FIELDS = [
  'units',
  'batch',
  'steps',
  'onehot',
  'hard',
  'reverse',
  'digits',
  'kernel',
  'recurrent',
  'recurrentT',
  'bias',
  'gates',
  'cell',
  'cellTanh',
  'hidden',
  'dz',
  'dhNext',
  'dcNext',
  'dhOut',
  'gKernel',
  'gRecurrent',
  'gBias',
] as const;
type Field = (typeof FIELDS)[number];
type Buffer = Exclude<Field, 'units' | 'batch' | 'steps' | 'onehot' | 'hard' | 'reverse' | 'digits'>;

/** Where the JavaScript side's layout starts: below it, AssemblyScript's (empty) static data and stack. */
const BASE = PAGE_BYTES;

/**
 * The LSTM directions in float32 WebAssembly SIMD (tools/wasm/assembly/lstm.ts), laid out in one
 * shared memory: [descriptor | digits | per direction: weights, activations, gradients]. With a
 * helper thread, a bidirectional model's second direction runs on it while the first runs here;
 * each direction is computed the same either way, so the thread count never changes a result.
 */
export class WasmDirections implements Recurrent {
  private readonly memory: WebAssembly.Memory;
  private readonly wasm: LstmKernels;
  private capacity = 0;
  private descriptors: number[] = [];
  private offsets: Record<Buffer, number>[] = [];
  private digits = 0;
  private f32 = new Float32Array(0);
  private i32 = new Int32Array(0);

  private readonly helper?: Helper;

  /** threads: 2 runs a bidirectional model's directions in parallel; otherwise one thread. */
  constructor(
    private readonly shape: CellShape & { inputWidth: number },
    private readonly count: number,
    threads: number,
  ) {
    this.memory = newMemory();
    this.wasm = kernels(this.memory);
    if (threads > 1 && count === 2) this.helper = new Helper(this.memory);
  }

  /** Lays the buffers out for batches up to `batch` (growing the memory when needed). */
  private ensureCapacity(batch: number): void {
    if (batch <= this.capacity) return;
    this.capacity = batch;
    const { units: u, inputWidth } = this.shape;
    const g4 = 4 * u;
    const sizes: Record<Buffer, number> = {
      kernel: inputWidth * g4,
      recurrent: u * g4,
      recurrentT: u * g4,
      bias: g4,
      gates: T * batch * g4,
      cell: T * batch * u,
      cellTanh: T * batch * u,
      hidden: T * batch * u,
      dz: T * batch * g4,
      dhNext: batch * u,
      dcNext: batch * u,
      dhOut: T * batch * u,
      gKernel: inputWidth * g4,
      gRecurrent: u * g4,
      gBias: g4,
    };
    let next = BASE;
    // 16-byte aligned regions, so every four-lane load is aligned.
    const take = (floats: number) => {
      const at = next;
      next += Math.ceil(floats / 4) * 16;
      return at;
    };
    this.descriptors = Array.from({ length: this.count }, () => take(FIELDS.length));
    this.digits = take(batch * T);
    this.offsets = Array.from({ length: this.count }, () => {
      const o = {} as Record<Buffer, number>;
      for (const [name, floats] of Object.entries(sizes) as [Buffer, number][]) o[name] = take(floats);
      return o;
    });
    const pages = Math.ceil(next / PAGE_BYTES);
    if (pages > MAX_PAGES) {
      throw new Error(`fused engine: batches of ${batch} need ${Math.ceil(next / 2 ** 20)} MiB of float32 buffers, more than WebAssembly's 4 GiB`);
    }
    if (pages > this.memory.buffer.byteLength / PAGE_BYTES) this.memory.grow(pages - this.memory.buffer.byteLength / PAGE_BYTES);
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }

  private describe(k: number, batch: number): number {
    const values: Record<Field, number> = {
      units: this.shape.units,
      batch,
      steps: T,
      onehot: this.shape.onehot ? 1 : 0,
      hard: this.shape.hard ? 1 : 0,
      reverse: k === 1 ? 1 : 0,
      digits: this.digits,
      ...this.offsets[k],
    };
    const at = this.descriptors[k];
    FIELDS.forEach((name, i) => (this.i32[at / 4 + i] = values[name]));
    return at;
  }

  /** Runs `call` for every direction: the second on the helper thread when there is one. */
  private each(call: 'lstmForward' | 'lstmBackward', batch: number): void {
    const descriptors = this.descriptors.map((_, k) => this.describe(k, batch));
    if (this.helper && descriptors.length === 2) {
      this.helper.start(call, descriptors[1]);
      this.wasm[call](descriptors[0]);
      this.helper.wait();
    } else {
      for (const d of descriptors) this.wasm[call](d);
    }
  }

  forward(weights: DirectionWeights[], digits: Int32Array, batch: number, features: Float64Array, H: number): void {
    this.ensureCapacity(batch);
    this.i32.set(digits.subarray(0, batch * T), this.digits / 4);
    weights.forEach((w, k) => {
      const o = this.offsets[k];
      this.f32.set(w.kernel, o.kernel / 4);
      this.f32.set(w.recurrent, o.recurrent / 4);
      this.f32.set(w.bias, o.bias / 4);
    });
    this.each('lstmForward', batch);
    const u = this.shape.units;
    this.offsets.forEach((o, k) =>
      this.mapSteps(
        k,
        batch,
        (src, dst) => {
          for (let j = 0; j < u; j++) features[dst + j] = this.f32[o.hidden / 4 + src + j];
        },
        H,
      ),
    );
  }

  backward(_weights: DirectionWeights[], grads: DirectionWeights[], _digits: Int32Array, batch: number, dFeatures: Float64Array, H: number): void {
    const u = this.shape.units;
    this.offsets.forEach((o, k) =>
      this.mapSteps(
        k,
        batch,
        (src, dst) => {
          for (let j = 0; j < u; j++) this.f32[o.dhOut / 4 + src + j] = dFeatures[dst + j];
        },
        H,
      ),
    );
    this.each('lstmBackward', batch);
    grads.forEach((g, k) => {
      const o = this.offsets[k];
      this.addInto(g.kernel, o.gKernel);
      this.addInto(g.recurrent, o.gRecurrent);
      this.addInto(g.bias, o.gBias);
    });
  }

  private addInto(target: Float64Array, at: number): void {
    const from = at / 4;
    for (let i = 0; i < target.length; i++) target[i] += this.f32[from + i];
  }

  /**
   * Calls `copy(src, dst)` for every (step, sequence) of direction k: src indexes its [step, B, u]
   * buffers (in floats, from the buffer's start), dst the features [B, T, H] at the direction's columns.
   */
  private mapSteps(k: number, batch: number, copy: (src: number, dst: number) => void, H: number): void {
    const u = this.shape.units;
    for (let step = 0; step < T; step++) {
      const t = k === 1 ? T - 1 - step : step;
      for (let b = 0; b < batch; b++) copy((step * batch + b) * u, (b * T + t) * H + k * u);
    }
  }

  inputGradient(weights: DirectionWeights[], batch: number, dx: Float64Array, width: number): void {
    const g4 = 4 * this.shape.units;
    weights.forEach((w, k) => {
      for (let step = 0; step < T; step++) {
        const t = k === 1 ? T - 1 - step : step;
        for (let b = 0; b < batch; b++) {
          const dz = this.offsets[k].dz / 4 + (step * batch + b) * g4;
          for (let r = 0; r < width; r++) {
            let acc = 0;
            for (let q = 0; q < g4; q++) acc += this.f32[dz + q] * w.kernel[r * g4 + q];
            dx[(b * T + t) * width + r] += acc;
          }
        }
      }
    });
  }

  dispose(): void {
    this.helper?.dispose();
  }
}
