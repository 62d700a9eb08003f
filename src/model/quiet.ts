// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');

/**
 * Runs `fn` with console.warn silenced: tfjs warns on the console (a slow orthogonal initialiser,
 * a backend that failed to start) in the middle of seq-tag's own output, and seq-tag reports those
 * things itself, in one line. The library never prints; this is the one place that touches console.
 */
export function withoutConsoleWarnings<T>(fn: () => T): T {
  // eslint-disable-next-line no-console
  const warn = console.warn;
  // eslint-disable-next-line no-console
  console.warn = () => {};
  const restore = () => {
    // eslint-disable-next-line no-console
    console.warn = warn;
  };
  try {
    const result = fn();
    if (result instanceof Promise) return result.finally(restore) as T;
    restore();
    return result;
  } catch (err) {
    restore();
    throw err;
  }
}

/**
 * Builds a model (from JSON, or by loading one) inside a tensor scope: tfjs's unit-forget-bias
 * initialiser leaves 4 intermediate tensors per LSTM behind, and a scope frees them. The model's
 * weights are variables, which a scope keeps.
 */
export async function buildInScope<T>(build: () => Promise<T>): Promise<T> {
  tf.engine().startScope();
  try {
    return await withoutConsoleWarnings(build);
  } finally {
    tf.engine().endScope();
  }
}
