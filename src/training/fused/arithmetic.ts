import type { Config } from '../../config/config.js';
import type { Arithmetic } from './network.js';
import { describeKernels } from './wasm/instance.js';

/**
 * Units from which the float32 engine hands half of each batch's work to a helper thread (a
 * bidirectional model's second direction, or a unidirectional one's second half of the batch):
 * below, the work is too short to pay for the hand-over (measured: bench/scale.ts).
 */
export const THREADS_FROM_UNITS = 32;

type ArithmeticConfig = Pick<Config, 'dtype' | 'units' | 'data'> & Partial<Pick<Config, 'encoding'>>;

/** Whether `config` trains a tagger of words (./tagger.ts: text, or a file's Embedding tagger), which runs on one thread. */
export function tagsWords(config: Pick<Config, 'data'> & Partial<Pick<Config, 'encoding'>>): boolean {
  return config.data !== undefined || config.encoding === 'embedding';
}

/**
 * How the fused engine computes `config`: its --dtype, and for float32 the threads that pay
 * (`threads` overrides, e.g. 1 when a sweep already runs a process per core).
 */
export function arithmeticFor(config: ArithmeticConfig, threads?: number): Arithmetic {
  if (config.dtype !== 'float32') return { precision: 'float64', threads: 1 };
  if (tagsWords(config)) return { precision: 'float32', threads: 1 };
  return { precision: 'float32', threads: threads ?? (config.units >= THREADS_FROM_UNITS ? 2 : 1) };
}

/**
 * "float32 (WebAssembly SIMD, 2 threads: 32 units or more)" or "float32 (native AVX-512, …)", for
 * the run's header: what runs and, when seq-tag picked the threads (`threads` not given), why.
 */
export function describeArithmetic(config: ArithmeticConfig, threads?: number): string {
  const a = arithmeticFor(config, threads);
  if (a.precision === 'float64') return 'float64 (JavaScript)';
  if (tagsWords(config)) return `float32 (${describeKernels()}, 1 thread)`;
  const why = threads !== undefined ? ', set by --threads' : a.threads > 1 ? `: ${THREADS_FROM_UNITS} units or more` : `: under ${THREADS_FROM_UNITS} units`;
  return `float32 (${describeKernels()}, ${a.threads} thread${a.threads > 1 ? 's' : ''}${why})`;
}
