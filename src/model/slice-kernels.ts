// Faster Slice, SplitV and Unpack for the cpu and wasm backends of TensorFlow.js 4.22. An LSTM layer
// unstacks its input into time steps and splits its gate pre-activations into four column blocks
// every step. The cpu backend copies such a block element by element through `buffer.get(...loc)`;
// the wasm backend first copies the whole tensor out of its heap (`readSync`) for each block. On a
// small `train` that was a quarter of the run on cpu (the held-out evaluation, the orthogonal
// initialiser's QR) and a tenth on wasm. These copy one row at a time, straight from the tensor's
// memory: the same values, shapes and dtypes.
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');

type Values = tf.TypedArray;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/**
 * Copies the block of `values` (row-major, `shape`) that starts at `begin` and spans `size` into
 * `out`, one innermost run at a time (`size` and `begin` already checked against `shape`).
 */
export function copyBlock(values: Values, shape: number[], begin: number[], size: number[], out: Values): Values {
  const rank = shape.length;
  const run = size[rank - 1];
  const strides = tf.util.computeStrides(shape); // of the outer dimensions
  const index = new Array<number>(rank - 1).fill(0); // the position among the outer dimensions
  for (let at = 0; at < out.length; at += run) {
    let from = begin[rank - 1];
    for (let d = 0; d < rank - 1; d++) from += (begin[d] + index[d]) * strides[d];
    // A view per run costs more than copying a short one (an LSTM's gate block is `units` wide).
    if (run >= 256) out.set(values.subarray(from, from + run), at);
    else for (let k = 0; k < run; k++) out[at + k] = values[from + k];
    for (let d = rank - 2; d >= 0 && ++index[d] === size[d]; d--) index[d] = 0;
  }
  return out;
}

/** The block as a new array of the same type as `values`. */
export function sliceValues(values: Values, shape: number[], begin: number[], size: number[]): Values {
  const out = new (values.constructor as new (n: number) => Values)(tf.util.sizeFromShape(size));
  return copyBlock(values, shape, begin, size, out);
}

interface CpuBackend {
  data: { get(dataId: object): { values: Values } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Values): tf.TensorInfo;
}

interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Values;
}

/** `shape` is the output's: `size`, or `size` without the unstacked axis (the same elements in the same order). */
type Copy = (backend: unknown, x: tf.TensorInfo, begin: number[], size: number[], shape?: number[]) => tf.TensorInfo;

/** The block each backend copies into: a new array on cpu, the output's place in the heap on wasm. */
const COPY: Record<'cpu' | 'wasm', Copy> = {
  cpu(backend, x, begin, size, shape = size) {
    const cpu = backend as CpuBackend;
    return cpu.makeTensorInfo(shape, x.dtype, sliceValues(cpu.data.get(x.dataId).values, x.shape, begin, size));
  },
  wasm(backend, x, begin, size, shape = size) {
    const wasm = backend as WasmBackend;
    const out = wasm.makeOutput(shape, x.dtype);
    // Views of the heap taken after the allocation, which may have grown (and so moved) it.
    copyBlock(wasm.typedArrayFromHeap(x), x.shape, begin, size, wasm.typedArrayFromHeap(out));
    return out;
  },
};

/** Strings, complex numbers, scalars and empty blocks are left to the backend's own kernel. */
const ours = (x: tf.TensorInfo, size: number[]) => x.dtype !== 'string' && x.dtype !== 'complex64' && x.shape.length > 0 && !size.includes(0);

function slice(args: KernelArgs, backendName: 'cpu' | 'wasm', own: Kernel): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs.x!;
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, args.attrs!.begin as number[], args.attrs!.size as number[]);
  if (!ours(x, size)) return own(args);
  tf.slice_util.assertParamsValid(x as tf.Tensor, begin, size);
  return COPY[backendName](args.backend, x, begin, size);
}

/** Unpack (tf.unstack) as both backends': the slices at each index of the axis, without that axis. */
function unpack(args: KernelArgs, backendName: 'cpu' | 'wasm', own: Kernel): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs.value!;
  const axis = tf.util.parseAxisParam(args.attrs!.axis as number, x.shape)[0];
  if (!ours(x, x.shape)) return own(args);
  const size = x.shape.map((n, d) => (d === axis ? 1 : n));
  const shape = x.shape.filter((_, d) => d !== axis);
  return Array.from({ length: x.shape[axis] }, (_, i) => COPY[backendName](args.backend, x, beginAt(x.shape, axis, i), size, shape));
}

/** The first position of index `at` along `axis`. */
const beginAt = (shape: number[], axis: number, at: number) => shape.map((_, d) => (d === axis ? at : 0));

/** SplitV as both backends': consecutive slices along the axis, through the faster Slice. */
function splitV(args: KernelArgs, sliceKernel: Kernel): tf.TensorInfo[] {
  const x = args.inputs.x!;
  const axis = tf.util.parseAxisParam(args.attrs!.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, args.attrs!.numOrSizeSplits as number[], axis);
  const begin = x.shape.map(() => 0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const part = sliceKernel({ ...args, attrs: { begin: begin.slice(), size } }) as tf.TensorInfo;
    begin[axis] += s;
    return part;
  });
}

/** Replaces the Slice, SplitV and Unpack of the cpu and wasm backends, once per backend. */
export function registerSliceKernels(): void {
  for (const backendName of ['cpu', 'wasm'] as const) {
    const [own, ownUnpack] = [tf.getKernel('Slice', backendName), tf.getKernel('Unpack', backendName)];
    if (!own || !ownUnpack || !tf.getKernel('SplitV', backendName) || (own.kernelFunc as { ours?: true }).ours) continue;
    const fast = (args: KernelArgs) => slice(args, backendName, own.kernelFunc as Kernel);
    const kernels: Record<string, Kernel> = {
      Slice: fast,
      SplitV: (args) => splitV(args, fast),
      Unpack: (args) => unpack(args, backendName, ownUnpack.kernelFunc as Kernel),
    };
    for (const [kernelName, kernel] of Object.entries(kernels)) {
      tf.unregisterKernel(kernelName, backendName);
      tf.registerKernel({ kernelName, backendName, kernelFunc: Object.assign(kernel, { ours: true as const }) as never });
    }
  }
}
