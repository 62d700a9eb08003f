import { SEQUENCE_LENGTH } from '../../../task/data.js';
import type { CellShape } from '../lstm.js';
import type { DirectionWeights } from '../parameters.js';
import type { Recurrent } from '../recurrent.js';
import { growTo, kernels, LAYOUT_BASE, nativeBookkeeping, newMemory, type LstmKernels } from './instance.js';
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
type Region = Exclude<Field, 'units' | 'batch' | 'steps' | 'onehot' | 'hard' | 'reverse' | 'digits'>;

/** One direction's weights, read by every part that runs it. */
type WeightRegion = 'kernel' | 'recurrent' | 'bias';
/** A part's own buffers: activations and gradients of its sequences. */
type PartRegion = Exclude<Region, WeightRegion>;

/** A share of a batch's work: one direction over sequences first … first + count − 1. */
interface Part {
  direction: number;
  first: number;
  count: number;
}

/**
 * The LSTM directions in float32 WebAssembly SIMD (tools/wasm/assembly/lstm.ts), laid out in one
 * shared memory: [descriptors | digits | per direction: weights | per slot: activations, gradients].
 * A batch is cut into at most two parts, one per slot: a bidirectional model's two directions, or
 * with two threads a unidirectional model's two halves of the batch (whose weight gradients are
 * then added). With a helper thread the second part runs on it while the first runs here. A
 * bidirectional model's results do not depend on the thread count; a unidirectional one's halves
 * are summed in another order (the same thread count gives the same bits).
 */
export class WasmDirections implements Recurrent {
  private readonly memory: WebAssembly.Memory;
  private readonly wasm: LstmKernels;
  /** The native build's copies and sums (the same bits) when its kernels run. */
  private readonly native = nativeBookkeeping();
  private readonly helper?: Helper;
  private readonly slots: number;
  private capacity = 0;
  private descriptors: number[] = [];
  private weights: Record<WeightRegion, number>[] = [];
  private buffers: Record<PartRegion, number>[] = [];
  private digits = 0;
  private parts: Part[] = [];
  /** The part each slot's descriptor was last written for. */
  private described: string[] = [];
  private f32 = new Float32Array(0);
  private i32 = new Int32Array(0);

  /** threads: 2 runs the two parts of each batch in parallel; otherwise one thread. */
  constructor(
    private readonly shape: CellShape & { inputWidth: number },
    private readonly count: number,
    threads: number,
  ) {
    this.memory = newMemory();
    this.wasm = kernels(this.memory);
    this.slots = count === 2 || threads > 1 ? 2 : 1;
    if (threads > 1) this.helper = new Helper(this.memory);
  }

  /** Lays the buffers out for batches up to `batch` (growing the memory when needed). */
  private ensureCapacity(batch: number): void {
    if (batch <= this.capacity) return;
    this.capacity = batch;
    const { units: u, inputWidth } = this.shape;
    const g4 = 4 * u;
    const weightSizes: Record<WeightRegion, number> = { kernel: inputWidth * g4, recurrent: u * g4, bias: g4 };
    const partSizes: Record<PartRegion, number> = {
      recurrentT: u * g4,
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
    let next = LAYOUT_BASE;
    // 16-byte aligned regions, so every four-lane load is aligned.
    const take = (floats: number) => {
      const at = next;
      next += Math.ceil(floats / 4) * 16;
      return at;
    };
    const place = <K extends string>(sizes: Record<K, number>) => {
      const o = {} as Record<K, number>;
      for (const [name, floats] of Object.entries(sizes) as [K, number][]) o[name] = take(floats);
      return o;
    };
    this.descriptors = Array.from({ length: this.slots }, () => take(FIELDS.length));
    this.described = [];
    this.digits = take(batch * T);
    this.weights = Array.from({ length: this.count }, () => place(weightSizes));
    this.buffers = Array.from({ length: this.slots }, () => place(partSizes));
    if (!growTo(this.memory, next))
      throw new Error(`fused engine: batches of ${batch} need ${Math.ceil(next / 2 ** 20)} MiB of float32 buffers, more than WebAssembly's 4 GiB`);
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }

  /** The parts of a batch: both directions, or two halves of one direction, or all of it. */
  private split(batch: number): Part[] {
    if (this.count === 2) return [0, 1].map((direction) => ({ direction, first: 0, count: batch }));
    if (this.slots === 2 && batch > 1) {
      const half = Math.ceil(batch / 2);
      return [
        { direction: 0, first: 0, count: half },
        { direction: 0, first: half, count: batch - half },
      ];
    }
    return [{ direction: 0, first: 0, count: batch }];
  }

  /** Writes a part's descriptor, once per batch: the backward pass reads the same one. */
  private describe(slot: number): void {
    const part = this.parts[slot];
    // A batch of the same size as the last one has the same descriptors (the kernels only read them).
    const key = `${part.direction} ${part.first} ${part.count}`;
    if (this.described[slot] === key) return;
    this.described[slot] = key;
    const values: Record<Field, number> = {
      units: this.shape.units,
      batch: part.count,
      steps: T,
      onehot: this.shape.onehot ? 1 : 0,
      hard: this.shape.hard ? 1 : 0,
      reverse: part.direction,
      digits: this.digits + 4 * T * part.first,
      ...this.weights[part.direction],
      ...this.buffers[slot],
    };
    const at = this.descriptors[slot];
    FIELDS.forEach((name, i) => (this.i32[at / 4 + i] = values[name]));
  }

  /** Runs `call` for every part: the second on the helper thread when there is one. */
  private each(call: 'lstmForward' | 'lstmBackward'): void {
    const descriptors = this.descriptors.slice(0, this.parts.length);
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
    this.parts = this.split(batch);
    this.parts.forEach((_, slot) => this.describe(slot));
    this.i32.set(digits.subarray(0, batch * T), this.digits / 4);
    weights.forEach((w, k) => {
      const o = this.weights[k];
      this.f32.set(w.kernel, o.kernel / 4);
      this.f32.set(w.recurrent, o.recurrent / 4);
      this.f32.set(w.bias, o.bias / 4);
    });
    this.each('lstmForward');
    this.parts.forEach((part, slot) => this.copySteps(part, H, features, this.buffers[slot].hidden, true));
  }

  backward(_weights: DirectionWeights[], grads: DirectionWeights[], _digits: Int32Array, _batch: number, dFeatures: Float64Array, H: number): void {
    this.parts.forEach((part, slot) => this.copySteps(part, H, dFeatures, this.buffers[slot].dhOut, false));
    this.each('lstmBackward');
    // A direction's parts in slot order: the same thread count always adds the halves in the same order.
    grads.forEach((g, direction) => {
      const slots = this.buffers.filter((_, slot) => this.parts[slot]?.direction === direction);
      this.addInto(
        g.kernel,
        slots.map((o) => o.gKernel),
      );
      this.addInto(
        g.recurrent,
        slots.map((o) => o.gRecurrent),
      );
      this.addInto(
        g.bias,
        slots.map((o) => o.gBias),
      );
    });
  }

  /** Adds the float32 arrays at byte offsets `at` (one or two parts) into `target`, in one pass: (t + a) + b, as two passes would. */
  private addInto(target: Float64Array, at: number[]): void {
    if (this.native) return this.native.addInto(target, this.memory.buffer, at[0], at.length > 1 ? at[1] : -1);
    const f32 = this.f32;
    const a = at[0] / 4;
    if (at.length === 1) {
      for (let i = 0; i < target.length; i++) target[i] += f32[a + i];
      return;
    }
    const b = at[1] / 4;
    for (let i = 0; i < target.length; i++) target[i] = target[i] + f32[a + i] + f32[b + i];
  }

  /**
   * Copies a part's buffer [step, count, u] at byte offset `at` to its rows and columns of features
   * [B, T, H] (`toFeatures`), or the other way. Plain loops over locals: this runs twice per batch.
   */
  private copySteps(part: Part, H: number, features: Float64Array, at: number, toFeatures: boolean): void {
    const u = this.shape.units;
    const { direction, first, count } = part;
    if (this.native) return this.native.copySteps(this.memory.buffer, at, features, H, direction, first, count, u, T, toFeatures);
    const f32 = this.f32;
    for (let step = 0; step < T; step++) {
      const t = direction === 1 ? T - 1 - step : step;
      for (let b = 0; b < count; b++) {
        const src = at / 4 + (step * count + b) * u;
        const dst = ((first + b) * T + t) * H + direction * u;
        if (toFeatures) for (let j = 0; j < u; j++) features[dst + j] = f32[src + j];
        else for (let j = 0; j < u; j++) f32[src + j] = features[dst + j];
      }
    }
  }

  inputGradient(weights: DirectionWeights[], _batch: number, dx: Float64Array, width: number): void {
    const g4 = 4 * this.shape.units;
    this.parts.forEach(({ direction, first, count }, slot) => {
      const kernel = weights[direction].kernel;
      for (let step = 0; step < T; step++) {
        const t = direction === 1 ? T - 1 - step : step;
        for (let b = 0; b < count; b++) {
          const dz = this.buffers[slot].dz / 4 + (step * count + b) * g4;
          for (let r = 0; r < width; r++) {
            let acc = 0;
            for (let q = 0; q < g4; q++) acc += this.f32[dz + q] * kernel[r * g4 + q];
            dx[((first + b) * T + t) * width + r] += acc;
          }
        }
      }
    });
  }

  dispose(): void {
    this.helper?.dispose();
  }
}
