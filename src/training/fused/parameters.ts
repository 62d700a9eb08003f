// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');
import type { Config } from '../../config/config.js';

/**
 * The model's weights as float64 copies, in the order of `model.trainableWeights` (`tensors`) and
 * `model.nonTrainableWeights` (`state`: BatchNormalization's moving mean and variance).
 */
export interface Parameters {
  tensors: Float64Array[];
  shapes: number[][];
  state: Float64Array[];
  stateShapes: number[][];
}

export function readParameters(model: tfl.LayersModel): Parameters {
  const copy = (weights: tfl.LayerVariable[]) => weights.map((w) => Float64Array.from(w.read().dataSync()));
  return {
    tensors: copy(model.trainableWeights),
    shapes: model.trainableWeights.map((w) => w.shape as number[]),
    state: copy(model.nonTrainableWeights),
    stateShapes: model.nonTrainableWeights.map((w) => w.shape as number[]),
  };
}

/** A deep copy, to return to (Ctrl-C restores the last completed epoch's weights). */
export function copyParameters(p: Parameters): Parameters {
  return { ...p, tensors: p.tensors.map((t) => t.slice()), state: p.state.map((t) => t.slice()) };
}

/** Writes trained parameters and moving statistics back into the tfjs model (rounded to float32). */
export function writeParameters(model: tfl.LayersModel, params: Parameters): void {
  const write = (weights: tfl.LayerVariable[], values: Float64Array[], shapes: number[][]) =>
    weights.forEach((w, k) => {
      const t = tf.tensor(Float32Array.from(values[k]), shapes[k]);
      w.write(t);
      t.dispose();
    });
  write(model.trainableWeights, params.tensors, params.shapes);
  write(model.nonTrainableWeights, params.state, params.stateShapes);
}

/** One LSTM direction's weights in tf.layers.lstm's layout: kernel [in, 4u], recurrent kernel [u, 4u], bias [4u]; gates i, f, c, o. */
export interface DirectionWeights {
  kernel: Float64Array;
  recurrent: Float64Array;
  bias: Float64Array;
}

export interface NormWeights {
  gamma: Float64Array;
  beta: Float64Array;
}

/** The network's arrays by name (the same names serve the weights and their gradients). */
export interface Layout {
  directions: DirectionWeights[];
  batchNorm?: NormWeights;
  layerNorm?: NormWeights;
  /** The TimeDistributed Dense head: kernel [H, 2], bias [2]. */
  dense: { kernel: Float64Array; bias: Float64Array };
}

/**
 * Names the arrays of `tensors`, which are in trainableWeights order: per direction kernel,
 * recurrent kernel, bias; BatchNormalization gamma, beta; LayerNormalization gamma, beta; Dense
 * kernel, bias. Throws if the count does not match the config.
 */
export function layoutOf(config: Pick<Config, 'bidirectional' | 'batchNorm' | 'layerNorm'>, tensors: Float64Array[]): Layout {
  let next = 0;
  const take = () => tensors[next++];
  const directions = Array.from({ length: config.bidirectional ? 2 : 1 }, () => ({ kernel: take(), recurrent: take(), bias: take() }));
  const batchNorm = config.batchNorm ? { gamma: take(), beta: take() } : undefined;
  const layerNorm = config.layerNorm ? { gamma: take(), beta: take() } : undefined;
  const dense = { kernel: take(), bias: take() };
  if (next !== tensors.length) {
    throw new Error(`fused engine: the model's weights do not match the config (${tensors.length} trainable tensors, expected ${next})`);
  }
  return { directions, batchNorm, layerNorm, dense };
}
