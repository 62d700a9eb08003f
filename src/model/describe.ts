// What a model is, read from its topology rather than from seq-tag's record: a model a user brings
// from Keras or stock TensorFlow.js is described as it is (a GRU is a GRU, a linear head "linear").
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tfl = require('@tensorflow/tfjs-layers');
import { NUM_CLASSES, SEQUENCE_LENGTH, type Encoding } from '../task/data.js';
import { DEFAULT_LR, OPTIMIZERS, ORIGINAL_EXPERIMENT, type Config, type OptimizerName, type OutputActivation } from './config.js';
import type { CompileInfo } from './keras/archive.js';
import { UnsupportedModel } from './keras/topology.js';

/** Layers seq-tag can describe and run; anything else is refused in one line. */
export const SUPPORTED_LAYERS = [
  'LSTM',
  'GRU',
  'SimpleRNN',
  'Bidirectional',
  'TimeDistributed',
  'Dense',
  'BatchNormalization',
  'LayerNormalization',
  'Dropout',
  'Activation',
] as const;

const RECURRENT = new Set(['LSTM', 'GRU', 'SimpleRNN']);

export interface ModelDescription {
  /** From the input shape: [10, 1] digit values, [10, 10] one-hot. */
  encoding: Encoding;
  /** The layers in order, e.g. "Bidirectional(LSTM 8) → TimeDistributed(Dense(2, softmax))". */
  architecture: string;
  /** The first recurrent layer, if any. */
  recurrent?: { kind: string; units: number; bidirectional: boolean; recurrentActivation?: string };
  /** Activation of the output layer as tfjs names it: "softmax", "linear", … */
  head: string;
  batchNorm: boolean;
  layerNorm: boolean;
}

type LayerConfig = Record<string, unknown>;

const activationOf = (layer: tfl.layers.Layer): string | undefined => {
  const a = (layer.getConfig() as LayerConfig).activation;
  return typeof a === 'string' ? a : undefined;
};

/** "LSTM 16", "Bidirectional(GRU 8)", "TimeDistributed(Dense(2, linear))", "Dropout 0.1". */
function describeLayer(layer: tfl.layers.Layer): string {
  const name = layer.getClassName();
  const config = layer.getConfig() as LayerConfig;
  const inner =
    (layer as unknown as { layer?: tfl.layers.Layer; forwardLayer?: tfl.layers.Layer }).forwardLayer ?? (layer as { layer?: tfl.layers.Layer }).layer;
  if (inner && (name === 'Bidirectional' || name === 'TimeDistributed')) return `${name}(${describeLayer(inner)})`;
  if (RECURRENT.has(name)) return `${name} ${String(config.units)}`;
  if (name === 'Dense') return `Dense(${String(config.units)}, ${activationOf(layer) ?? 'linear'})`;
  if (name === 'Dropout') return `Dropout ${String(config.rate)}`;
  if (name === 'Activation') return `Activation ${activationOf(layer)}`;
  return name;
}

/** The innermost layers of wrappers, which is where units and activations live. */
function unwrap(layer: tfl.layers.Layer): tfl.layers.Layer {
  const w = layer as unknown as { layer?: tfl.layers.Layer; forwardLayer?: tfl.layers.Layer };
  return w.forwardLayer ?? w.layer ?? layer;
}

const shapeText = (shape: unknown) => JSON.stringify(shape).replace(/,/g, ', ');

/**
 * Describes `model` for this task, or throws UnsupportedModel naming what does not fit: one input
 * [batch, 10, 1] or [batch, 10, 10], one output [batch, 10, 2], layers from SUPPORTED_LAYERS.
 */
export function describeModel(model: tfl.LayersModel): ModelDescription {
  const input = model.inputs.length === 1 ? model.inputs[0].shape : undefined;
  const output = model.outputs.length === 1 ? model.outputs[0].shape : undefined;
  const encoding: Encoding | undefined = input?.[1] === SEQUENCE_LENGTH ? (input[2] === 1 ? 'scalar' : input[2] === 10 ? 'onehot' : undefined) : undefined;
  if (!encoding || input?.length !== 3) {
    const found = input ? `input ${shapeText(input)}` : `${model.inputs.length} inputs`;
    throw new UnsupportedModel(`it has ${found}; this task's models take [null, 10, 1] (digit values) or [null, 10, 10] (one-hot digits)`);
  }
  if (output?.length !== 3 || output[1] !== SEQUENCE_LENGTH || output[2] !== NUM_CLASSES) {
    throw new UnsupportedModel(
      `it outputs ${output ? shapeText(output) : `${model.outputs.length} tensors`}; this task's models output [null, 10, 2] (two classes per position)`,
    );
  }
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const all = layers.flatMap((l) => (unwrap(l) === l ? [l] : [l, unwrap(l)]));
  const odd = all.find((l) => !(SUPPORTED_LAYERS as readonly string[]).includes(l.getClassName()));
  if (odd) throw new UnsupportedModel(`it has a ${odd.getClassName()} layer; seq-tag runs ${SUPPORTED_LAYERS.join(', ')}`);
  const rnnLayer = layers.find((l) => RECURRENT.has(unwrap(l).getClassName()));
  const rnn = rnnLayer && unwrap(rnnLayer);
  const headLayer = [...layers].reverse().find((l) => activationOf(unwrap(l)) !== undefined);
  const rnnConfig = rnn?.getConfig() as LayerConfig | undefined;
  return {
    encoding,
    architecture: layers.map(describeLayer).join(' → '),
    recurrent: rnn && {
      kind: rnn.getClassName(),
      units: Number(rnnConfig!.units),
      bidirectional: rnnLayer!.getClassName() === 'Bidirectional',
      recurrentActivation: typeof rnnConfig!.recurrentActivation === 'string' ? rnnConfig!.recurrentActivation : undefined,
    },
    head: (headLayer && activationOf(unwrap(headLayer))) ?? 'linear',
    batchNorm: layers.some((l) => l.getClassName() === 'BatchNormalization'),
    layerNorm: layers.some((l) => l.getClassName() === 'LayerNormalization'),
  };
}

/**
 * The model as its loss sees it: a model compiled with `from_logits=True` has a linear head whose
 * outputs are logits, and the loss applies softmax itself; seq-tag appends that softmax so that
 * P(repeated), the held-out loss and the doctor's checks read probabilities. Others are returned as they are.
 */
export function asProbabilities(model: tfl.LayersModel, fromLogits = false): tfl.LayersModel {
  if (!fromLogits) return model;
  const output = tfl.layers.activation({ activation: 'softmax', name: 'from_logits_softmax' }).apply(model.outputs[0]) as tfl.SymbolicTensor;
  return tfl.model({ inputs: model.inputs, outputs: output });
}

/**
 * The experiment config a model seq-tag did not train stands for, as far as the checks need one:
 * its encoding and layers from the topology, its optimizer, learning rate and clipping from the
 * Keras compile config (Adam with Keras's defaults when the file has none), the data sizes of the
 * original experiment. Training through it runs tf.layers on the model itself.
 */
export function configFromDescription(d: ModelDescription, compile: CompileInfo | undefined, seed: number): Config {
  const opt = compile?.optimizer;
  const optimizer: OptimizerName = (OPTIMIZERS as readonly string[]).includes(opt?.name ?? '') ? (opt!.name as OptimizerName) : 'adam';
  return {
    ...ORIGINAL_EXPERIMENT,
    encoding: d.encoding,
    units: d.recurrent?.units ?? 0,
    bidirectional: d.recurrent?.bidirectional ?? false,
    // What the loss sees: a from_logits loss applies the softmax itself.
    activation: (compile?.fromLogits ? 'softmax' : d.head) as OutputActivation,
    batchNorm: d.batchNorm,
    layerNorm: d.layerNorm,
    optimizer,
    lr: opt?.lr ?? DEFAULT_LR[optimizer],
    adamEpsilon: optimizer === 'adam' && opt?.epsilon !== undefined ? opt.epsilon : ORIGINAL_EXPERIMENT.adamEpsilon,
    clipnorm: opt?.clipnorm ?? null,
    clipvalue: opt?.clipvalue ?? null,
    lstm: 'layers',
    seed,
  };
}
