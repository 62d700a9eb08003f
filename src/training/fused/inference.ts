// The fused engine's forward pass at inference, for the models it computes: seq-tag's digit-task
// network (and any Keras or tfjs model of that shape) through ./network.ts, and text taggers through
// ./tagger.ts. Scoring and tagging use it (../scoring.ts); every other model runs on tf.layers.
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tfl = require('@tensorflow/tfjs-layers');
import { OUTPUT_ACTIVATIONS, SEQUENCE_LENGTH, type OutputActivation } from '../../config/config.js';
import type { TagData } from '../../task/tag-data.js';
import type { FusedForward } from '../../task/tagging.js';
import { FusedNetwork } from './network.js';
import { LAYER_NORM } from '../../config/constants.js';
import { readParameters } from './parameters.js';
import { denseHeadOf, lstmLayerOf, taggerOf, taggerProbabilities, type LayerConfig } from './tagger.js';

/** The head's outputs [rows, steps, tags] of the first `rows` sequences of `data` (tagging's FusedForward). */
export type Predictor = FusedForward;

/** Sequences the digit network runs at once (its buffers grow to this). */
const CHUNK = 1024;

/** What the fused forward pass reads of `data`, if anything: its ids, or the digits behind the task's encodings. */
export function fusedInput(data: Pick<TagData, 'features' | 'shown' | 'steps'>): 'ids' | 'digits' | undefined {
  if (data.features === null) return 'ids';
  return data.shown && data.steps === SEQUENCE_LENGTH ? 'digits' : undefined;
}

/**
 * A FusedNetwork of `model` when it is the digit task's network seq-tag builds: LSTM or
 * Bidirectional(LSTM, concat) on [10, 1] digit values or [10, 10] one-hot digits → optional
 * LayerNormalization → TimeDistributed(Dense(2)) (BatchNormalization is left to tf.layers: the
 * engine's forward pass uses a batch's statistics, as in training).
 */
function digitNetworkOf(model: tfl.LayersModel, threads = 1): FusedNetwork | undefined {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const input = model.inputs.length === 1 ? model.inputs[0].shape : undefined;
  if (!input || input.length !== 3 || (input[1] !== SEQUENCE_LENGTH && input[1] !== null) || (input[2] !== 1 && input[2] !== 10)) return undefined;
  const [recurrent, ...rest] = layers;
  const layerNorm = rest.length === 2 && rest[0].getClassName() === 'LayerNormalization';
  if (rest.length !== (layerNorm ? 2 : 1)) return undefined;
  const cell = lstmLayerOf(recurrent);
  const d = denseHeadOf(rest[rest.length - 1]);
  if (!cell || cell.cell !== 'lstm' || !d || Number(d.units) !== 2 || !(OUTPUT_ACTIVATIONS as readonly unknown[]).includes(d.activation)) return undefined;
  if (layerNorm) {
    const n = rest[0].getConfig() as LayerConfig;
    // Over the features only (the last of [batch, steps, features]; tfjs spells every way of saying
    // so, -1 or [-1] or 2, as [2]), with the engine's epsilon.
    if (n.center === false || n.scale === false || JSON.stringify(n.axis) !== '[2]' || n.epsilon !== LAYER_NORM.epsilon) return undefined;
  }
  const config = {
    units: cell.units,
    encoding: input[2] === 1 ? ('scalar' as const) : ('onehot' as const),
    bidirectional: cell.bidirectional,
    recurrentActivation: cell.hard ? ('hardSigmoid' as const) : ('sigmoid' as const),
    activation: d.activation as OutputActivation,
    batchNorm: false,
    layerNorm,
  };
  try {
    return new FusedNetwork(config, readParameters(model), { precision: 'float32', threads });
  } catch {
    return undefined; // weights in another order than tfjs's: tf.layers runs it
  }
}

/**
 * The fused forward pass of `model`, reading its weights as they are now, when the engine computes it
 * from `input`: word ids (a tagger) or the digits behind task data (the digit network, which reads
 * each TagData's `shown` digits); undefined otherwise. `dispose` frees what it holds outside the
 * JavaScript heap.
 */
export function fusedPredictor(model: tfl.LayersModel, input: 'ids' | 'digits'): (Predictor & { dispose(): void }) | undefined {
  if (input === 'ids') {
    const tagger = taggerOf(model);
    return tagger && Object.assign((d: TagData, rows: number) => taggerProbabilities(tagger, d.x, rows, d.steps), { dispose() {} });
  }
  const network = digitNetworkOf(model);
  if (!network) return undefined;
  // A full chunk of 1,024 sequences pays for a helper thread at any size (a training batch of 32 needs
  // 32 units, THREADS_FROM_UNITS): the second direction, or the chunk's second half, runs beside the
  // first, with the same outputs.
  let pair: FusedNetwork | undefined;
  const predict = (d: TagData, rows: number) => {
    const T = SEQUENCE_LENGTH;
    const out = new Float32Array(rows * T * 2);
    const digits = new Int32Array(Math.min(rows, CHUNK) * T);
    const runs = rows >= CHUNK ? (pair ??= digitNetworkOf(model, 2)!) : network;
    for (let start = 0; start < rows; start += CHUNK) {
      const batch = Math.min(CHUNK, rows - start);
      for (let k = 0; k < batch * T; k++) digits[k] = d.shown![start * T + k];
      out.set(runs.forward(digits, batch), start * T * 2);
    }
    return out;
  };
  return Object.assign(predict, {
    dispose: () => {
      network.dispose();
      pair?.dispose();
    },
  });
}
