// What a model is, read from its topology rather than from seq-tag's record: a model a user brings
// from Keras or stock TensorFlow.js is described as it is (a GRU is a GRU, a linear head "linear").
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tfl = require('@tensorflow/tfjs-layers');
import { NUM_CLASSES, SEQUENCE_LENGTH, type Encoding, type TaskInput } from '../config/config.js';
import { DEFAULT_LR, OPTIMIZERS, ORIGINAL_EXPERIMENT, type Config, type OptimizerName, type OutputActivation } from '../config/config.js';
import type { CompileInfo } from './keras/archive.js';
import { KERAS_LAYERS, kerasClassName, UnsupportedModel } from './keras/topology.js';

/** Layers seq-tag can describe and run (tfjs's class names; ResetAfterGRU is Keras's GRU, ./keras/gru.ts). */
export const SUPPORTED_LAYERS = [...KERAS_LAYERS, 'ResetAfterGRU'] as const;

const RECURRENT = new Set(['LSTM', 'GRU', 'ResetAfterGRU', 'SimpleRNN']);

export interface ModelDescription {
  /** How the model takes the digit task, when it fits it: [10 or any, 1] digit values, [10 or any, 10] one-hot, [10 or any] ids of an Embedding over at least 10; two tags. */
  encoding?: TaskInput;
  /** Its input per sequence: steps (null: any length) and features per step (null: integer ids, read by an Embedding). */
  input: { steps: number | null; features: number | null };
  /** Tags per position: the output's last dimension. */
  tags: number;
  /** Ids an Embedding input reads: 0 .. vocabulary - 1 (Keras raises on others; tfjs would read garbage). */
  vocabulary?: number;
  /** Which positions it ignores: id 0 (an Embedding with mask_zero) or steps whose features all equal a Masking layer's value. */
  mask?: { of: 'ids' | 'features'; value: number };
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
  if (RECURRENT.has(name)) return `${kerasClassName(name)} ${String(config.units)}`;
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

/** The sizes of one input and one output [batch, steps, tags], or the refusal in one sentence. */
function shapes(model: tfl.LayersModel): { input: ModelDescription['input']; tags: number } {
  const input = model.inputs.length === 1 ? model.inputs[0].shape : undefined;
  const output = model.outputs.length === 1 ? model.outputs[0].shape : undefined;
  if (!input || (input.length !== 3 && input.length !== 2)) {
    const found = input ? `input ${shapeText(input)}` : `${model.inputs.length} inputs`;
    throw new UnsupportedModel(`it has ${found}; a tagger takes one input of [batch, steps, features] or [batch, steps] integer ids`);
  }
  const steps = input[1];
  if (output?.length !== 3 || (output[1] !== steps && output[1] !== null && steps !== null) || !((output[2] ?? 0) >= 2)) {
    throw new UnsupportedModel(
      `it outputs ${output ? shapeText(output) : `${model.outputs.length} tensors`}; a tagger outputs one row of scores per input step, one score per tag (two or more tags)`,
    );
  }
  return { input: { steps, features: input.length === 3 ? input[2] : null }, tags: output[2]! };
}

/**
 * Describes `model`, or throws UnsupportedModel naming what seq-tag cannot run: one input
 * [batch, steps, features] (or integer ids [batch, steps]), one output [batch, steps, tags], layers
 * from SUPPORTED_LAYERS. `encoding` is set when the model also fits the digit task.
 */
export function describeModel(model: tfl.LayersModel): ModelDescription {
  const { input, tags } = shapes(model);
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const all = layers.flatMap((l) => (unwrap(l) === l ? [l] : [l, unwrap(l)]));
  const odd = all.find((l) => !(SUPPORTED_LAYERS as readonly string[]).includes(l.getClassName()));
  if (odd) throw new UnsupportedModel(`it has a ${odd.getClassName()} layer, which seq-tag cannot run; seq-tag runs ${KERAS_LAYERS.join(', ')}`);
  const rnnLayer = layers.find((l) => RECURRENT.has(unwrap(l).getClassName()));
  const rnn = rnnLayer && unwrap(rnnLayer);
  const head = headLayerOf(layers);
  const rnnConfig = rnn?.getConfig() as LayerConfig | undefined;
  const fitsTask = (input.steps === SEQUENCE_LENGTH || input.steps === null) && tags === NUM_CLASSES;
  const vocabulary = vocabularyOf(layers);
  const taskInput = input.features === null ? ((vocabulary ?? 0) >= 10 ? 'ids' : undefined) : ENCODING_BY_WIDTH[input.features];
  return {
    encoding: fitsTask ? taskInput : undefined,
    input,
    tags,
    vocabulary,
    mask: maskOf(layers),
    architecture: layers.map(describeLayer).join(' → '),
    recurrent: rnn && {
      kind: kerasClassName(rnn.getClassName()),
      units: Number(rnnConfig!.units),
      bidirectional: rnnLayer!.getClassName() === 'Bidirectional',
      recurrentActivation: typeof rnnConfig!.recurrentActivation === 'string' ? rnnConfig!.recurrentActivation : undefined,
    },
    head: (head && activationOf(unwrap(head))) ?? 'linear',
    batchNorm: layers.some((l) => l.getClassName() === 'BatchNormalization'),
    layerNorm: layers.some((l) => l.getClassName() === 'LayerNormalization'),
  };
}

/** The output layer as the head is read from: the last layer with an activation. */
const headLayerOf = (layers: tfl.layers.Layer[]) => [...layers].reverse().find((l) => activationOf(unwrap(l)) !== undefined);

/** The layer whose activation is the model's head (describeModel's `head`); a tagger always has one. */
export function headLayer(model: tfl.LayersModel): tfl.layers.Layer {
  const layer = headLayerOf(model.layers);
  if (!layer) throw new UnsupportedModel('it has no layer with an activation to make softmax');
  return layer;
}

/** The first masking layer's rule, which tfjs and Keras carry through to the output. */
function maskOf(layers: tfl.layers.Layer[]): ModelDescription['mask'] {
  for (const layer of layers) {
    const config = layer.getConfig() as LayerConfig;
    if (layer.getClassName() === 'Masking') return { of: 'features', value: Number(config.maskValue ?? 0) };
    if (layer.getClassName() === 'Embedding' && config.maskZero === true) return { of: 'ids', value: 0 };
  }
  return undefined;
}

/** The first Embedding's input_dim: the ids it has rows for. */
function vocabularyOf(layers: tfl.layers.Layer[]): number | undefined {
  const embedding = layers.find((l) => l.getClassName() === 'Embedding');
  const inputDim = embedding && Number((embedding.getConfig() as LayerConfig).inputDim);
  return inputDim !== undefined && Number.isSafeInteger(inputDim) ? inputDim : undefined;
}

/** The task's encodings by the width of one step. */
const ENCODING_BY_WIDTH: Record<number, Encoding> = { 1: 'scalar', 10: 'onehot' };

/** "[null, 24] integer ids → 6 tags": what a model takes and gives, for messages. */
export function describeShapes(d: ModelDescription): string {
  const { steps, features } = d.input;
  const input =
    features === null ? (steps === null ? 'integer ids, any length' : `${steps} integer ids`) : `${steps ?? 'any number of'} steps of ${features} features`;
  return `${input} → ${d.tags} tags per step`;
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
    // A model off the task (checked on the user's --data) has no task encoding; the field is then unused.
    encoding: d.encoding === undefined || d.encoding === 'ids' ? ORIGINAL_EXPERIMENT.encoding : d.encoding,
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
