// Keras's Bidirectional zeroes its outputs at the steps a mask hides (both of its RNNs run with
// zero_output_for_mask); TensorFlow.js's carries the forward RNN's last output on through them.
// Real steps agree either way, but a loss computed over all positions, as Keras's is before the
// mask weights it, sees the padded outputs: an untrained linear head there outputs 0, and 0/0 is
// Keras's nan. Registered under Keras's own name, so every Bidirectional seq-tag reads runs this way.
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');

type Kwargs = { mask?: tf.Tensor | tf.Tensor[]; [key: string]: unknown };

// tfjs exports the factory, not the class; the class is the factory's product's constructor.
const TfjsBidirectional = tfl.layers.bidirectional({ layer: tfl.layers.lstm({ units: 1 }) }).constructor as new (
  args: Parameters<typeof tfl.layers.bidirectional>[0],
) => tfl.layers.Layer & { returnSequences: boolean };

/** tfjs's Bidirectional with Keras's outputs at masked steps: zeros. Output: [batch, steps, width] as tfjs's. */
export class Bidirectional extends TfjsBidirectional {
  static className = 'Bidirectional';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const y = super.call(inputs, kwargs);
    const mask = Array.isArray(kwargs.mask) ? kwargs.mask[0] : kwargs.mask;
    if (!mask || !this.returnSequences || Array.isArray(y)) return y;
    return tf.tidy(() => tf.mul(y, tf.expandDims(tf.cast(mask, y.dtype), -1)));
  }
}

tf.serialization.registerClass(Bidirectional as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
