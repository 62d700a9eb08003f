import type { Config } from '../config/config.js';
import { inputWidth, SEQUENCE_LENGTH } from '../task/data.js';

/**
 * What a training run will cost, estimated before it starts, so that a run of minutes or gigabytes
 * says so up front (and one that cannot fit in memory is refused instead of crashing).
 *
 * The rates were measured on this project's reference machine (2 cores, Node 20). The float64 engine
 * (2026-11-26): matrix products at ~5 GFLOP/s, plus ~0.13 µs per unit and step for the gate
 * arithmetic; fit times of LSTM 16 (0.65 s), BiLSTM 64 (10.5 s) and BiLSTM 128 (18.0 s) runs are within
 * 10% of this model. The float32 engine (2026-11-27, `npm run bench:scale`, on two threads from 32
 * units): ~25 GFLOP/s and 0.05 µs per unit and step, within 40% of fit times from 16 to 128 units.
 * tf.layers pays ~9 ms of kernel dispatch per batch.
 */
const FUSED_RATES = {
  float64: { flopsPerSecond: 5e9, secondsPerUnitStep: 1.26e-7 },
  float32: { flopsPerSecond: 25e9, secondsPerUnitStep: 5e-8 },
};
const LAYERS_SECONDS_PER_BATCH = 9e-3;
/** The seeded orthogonal initialiser (modified Gram–Schmidt): 15 s at 1,024 units, measured. */
const ORTHOGONAL_FLOPS_PER_SECOND = 0.57e9;
/** tfjs's LSTM on the wasm backend when evaluating 1,000 held-out sequences in one pass. */
const PREDICT_FLOPS_PER_SECOND = 20e9;
/** Node, TensorFlow.js and the wasm backend before any data: measured resident size at start. */
const BASELINE_BYTES = 200 * 2 ** 20;

export interface Cost {
  /** All of it: initialisation, training, the held-out evaluation. */
  seconds: number;
  /** Of which the orthogonal initialiser (it runs before anything is printed). */
  initSeconds: number;
  bytes: number;
  /** Of `bytes`, what lives in the TensorFlow.js backend (tf.layers' data and activations): wasm holds at most 4 GiB. */
  backendBytes: number;
  /** Of `bytes`, the fused float32 engine's buffers in WebAssembly memory (at most 4 GiB). */
  wasmBytes: number;
  /** The setting that accounts for most of the memory, to name when it is too much. */
  biggest: 'samples' | 'batch-size' | 'units';
}

/** Time and peak memory of training `config` (and the evaluation after it), from the rates above. */
export function estimateCost(config: Omit<Config, 'seed'>): Cost {
  const T = SEQUENCE_LENGTH;
  const u = config.units;
  const directions = config.bidirectional ? 2 : 1;
  const hidden = u * directions;
  const batch = Math.min(config.batchSize, config.samples);
  const batches = Math.ceil(config.samples / config.batchSize) * config.epochs;
  const sequenceSteps = config.samples * config.epochs * T * directions;
  // Forward, backward and weight-gradient products: 3 × 2·u·4u multiply-adds per step.
  const flops = sequenceSteps * 24 * u * u;
  const rate = (dtype: keyof typeof FUSED_RATES) => flops / FUSED_RATES[dtype].flopsPerSecond + sequenceSteps * u * FUSED_RATES[dtype].secondsPerUnitStep;
  // The layers engine measured at about twice the float64 engine's arithmetic plus its dispatch.
  const trainSeconds = config.lstm === 'fused' ? rate(config.dtype) : rate('float64') * 2 + batches * LAYERS_SECONDS_PER_BATCH;
  const initSeconds = config.recurrentInitializer === 'orthogonal' ? (directions * 8 * u ** 3) / ORTHOGONAL_FLOPS_PER_SECOND : 0;
  const evalSeconds = (1000 * T * directions * 8 * u * u) / PREDICT_FLOPS_PER_SECOND;

  // Digits, labels and the shuffle order (Int32), and for tf.layers the float32 feature and label tensors.
  const dataBytes = config.samples * T * (8 + (config.lstm === 'layers' ? 4 * (inputWidth(config.encoding) + 2) : 0)) + 4 * config.samples;
  // Per sequence of a batch: the fused engine keeps 16 float64 values per unit, direction and step
  // (gates, cell, their gradients and transposes) and 6 per feature; tf.layers keeps about as much in float32 tensors.
  const batchBytes = 8 * T * batch * (16 * u * directions + 6 * hidden);
  const params = directions * 4 * u * (u + inputWidth(config.encoding) + 1) + hidden * 2 + 2;
  const bytes = BASELINE_BYTES + dataBytes + batchBytes + 8 * 6 * params;
  const backendBytes = config.lstm === 'layers' ? config.samples * T * 4 * (inputWidth(config.encoding) + 2) + batchBytes / 2 : 0;
  // The float32 engine's layout (src/training/fused/wasm/directions.ts), per direction: 12 floats per
  // unit, step and sequence, 2 per unit and sequence, and the weights with their gradients.
  const perDirection = 4 * (12 * T * batch * u + 2 * batch * u + 8 * u * inputWidth(config.encoding) + 12 * u * u + 8 * u);
  const wasmBytes = config.lstm === 'fused' && config.dtype === 'float32' ? 2 ** 16 + 4 * T * batch + directions * perDirection : 0;
  const biggest = dataBytes >= batchBytes && dataBytes >= 48 * params ? 'samples' : batchBytes >= 48 * params ? 'batch-size' : 'units';
  return { seconds: initSeconds + trainSeconds + evalSeconds, initSeconds, bytes, backendBytes, wasmBytes, biggest };
}

/** "45 s", "17 min", "2.3 h". */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
