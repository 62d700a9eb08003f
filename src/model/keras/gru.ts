// Keras 3's GRU (reset_after=True, its default and tf.keras 2's): the reset gate multiplies the
// recurrent term after its matrix product, and the bias is [2, 3 × units] (input and recurrent
// biases). TensorFlow.js builds only reset_after=False, so this layer runs the Keras 3 variant.
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');

type Activation = (x: tf.Tensor) => tf.Tensor;

/** Activations a Keras GRU uses, by Keras's and tfjs's names; hard_sigmoid as Keras 2 and tfjs define it. */
const ACTIVATIONS: Record<string, Activation> = {
  tanh: tf.tanh,
  sigmoid: tf.sigmoid,
  relu: tf.relu,
  linear: (x) => x,
  hard_sigmoid: (x) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1),
  hardSigmoid: (x) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1),
};

export const GRU_ACTIVATIONS = Object.keys(ACTIVATIONS);

interface GruArgs {
  units: number;
  activation?: string;
  recurrentActivation?: string;
  useBias?: boolean;
}

function activation(name: string | undefined, fallback: string): Activation {
  const fn = ACTIVATIONS[name ?? fallback];
  if (!fn) throw new Error(`activation ${name} is not one a GRU cell runs here`);
  return fn;
}

/** One step of Keras's GRU cell with reset_after=True (gates z, r, h in that order, as Keras stores them). */
class ResetAfterGRUCell extends tfl.layers.RNNCell {
  static className = 'ResetAfterGRUCell';
  readonly units: number;
  readonly stateSize: number;
  private readonly args: GruArgs;
  private kernel!: tfl.LayerVariable;
  private recurrentKernel!: tfl.LayerVariable;
  private bias?: tfl.LayerVariable;

  constructor(args: GruArgs) {
    super({});
    this.args = args;
    this.units = args.units;
    this.stateSize = args.units;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as number[];
    const zeros = tfl.initializers.zeros();
    this.kernel = this.addWeight('kernel', [shape[shape.length - 1], 3 * this.units], 'float32', tfl.initializers.glorotUniform({}));
    this.recurrentKernel = this.addWeight('recurrent_kernel', [this.units, 3 * this.units], 'float32', tfl.initializers.orthogonal({}));
    if (this.args.useBias !== false) this.bias = this.addWeight('bias', [2, 3 * this.units], 'float32', zeros);
    this.built = true;
  }

  /** inputs: [x [batch, features], h [batch, units]] → [h, h]. */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    return tf.tidy(() => {
      const [x, h] = inputs as tf.Tensor[];
      const act = activation(this.args.activation, 'tanh');
      const gate = activation(this.args.recurrentActivation, 'sigmoid');
      let fromX = tf.matMul(x, this.kernel.read());
      let fromH = tf.matMul(h, this.recurrentKernel.read());
      if (this.bias) {
        const [inputBias, recurrentBias] = tf.unstack(this.bias.read());
        fromX = tf.add(fromX, inputBias);
        fromH = tf.add(fromH, recurrentBias);
      }
      const [xz, xr, xh] = tf.split(fromX, 3, -1);
      const [hz, hr, hh] = tf.split(fromH, 3, -1);
      const z = gate(tf.add(xz, hz));
      const r = gate(tf.add(xr, hr));
      const candidate = act(tf.add(xh, tf.mul(r, hh)));
      const next = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), candidate));
      return [next, next];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const { units, activation: a, recurrentActivation, useBias } = this.args;
    return { ...super.getConfig(), units, activation: a ?? 'tanh', recurrentActivation: recurrentActivation ?? 'sigmoid', useBias: useBias !== false };
  }
}

/** The layer: tfjs's RNN (masks, return_sequences, go_backwards, Bidirectional) around the cell above. */
export class ResetAfterGRU extends tfl.RNN {
  static override className = 'ResetAfterGRU';
  constructor(args: GruArgs & Record<string, unknown>) {
    super({ ...args, cell: new ResetAfterGRUCell(args) } as never);
  }

  override getConfig(): tf.serialization.ConfigDict {
    // The cell's own settings (not its name) beside the RNN's: the config Keras's GRU takes, reset_after included.
    const { units, activation: a, recurrentActivation, useBias } = (this.cell as unknown as ResetAfterGRUCell).getConfig();
    const config: tf.serialization.ConfigDict = { ...super.getConfig(), units, activation: a, recurrentActivation, useBias, resetAfter: true };
    delete config.cell;
    return config;
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config);
  }
}

tf.serialization.registerClass(ResetAfterGRUCell);
tf.serialization.registerClass(ResetAfterGRU);
