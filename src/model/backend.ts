import { createRequire } from 'node:module';
// Loaded through require: importing the CommonJS bundle as ESM makes Node scan it for export names (~90 ms a start).
import tf = require('@tensorflow/tfjs-core');
import cpuBackend = require('@tensorflow/tfjs-backend-cpu');
import wasmBackend = require('@tensorflow/tfjs-backend-wasm');

/** Referencing the packages keeps their imports, which register the 'wasm' and 'cpu' backends. */
export const WASM_BACKEND_VERSION: string = wasmBackend.version_wasm;
export const CPU_BACKEND_VERSION: string = cpuBackend.version_cpu;
import { registerChainedOps } from './chained-ops.js';
import { registerSliceKernels } from './slice-kernels.js';
import { registerWasmKernels } from './wasm-kernels.js';
import { UserError } from '../errors.js';
import { withoutConsoleWarnings } from './quiet.js';

// tfjs-layers calls tensor methods that only the umbrella package registers.
registerChainedOps();
registerWasmKernels();
// The backends' Slice, SplitV and Unpack copy element by element (cpu) or the whole tensor (wasm); ours copy rows.
registerSliceKernels();

import { BACKEND_CHOICES, BACKEND_NAMES, type BackendChoice, type BackendName } from '../config/config.js';
export { BACKEND_CHOICES, BACKEND_NAMES, type BackendChoice, type BackendName };

export interface BackendInfo {
  name: BackendName;
  /** Why this backend is in use, in words, for the header line. */
  reason: string;
}

/**
 * `auto` prefers wasm because it is the fastest for this workload: tf.layers runs ~1,400 tiny
 * kernels per training step of the seed model, so per-kernel dispatch cost decides, and wasm's is
 * the lowest; with the fused engine the backend still serves prediction and evaluation (README
 * "Backends" has the measurements). tfjs-node's native TensorFlow is slower here, and the pure-JS
 * cpu backend is the fallback that always works.
 */
const AUTO_ORDER: BackendName[] = ['wasm', 'tensorflow', 'cpu'];

const NODE_BINDING = '@tensorflow/tfjs-node';

/** Whether tfjs-node is installed, found without loading it (loading libtensorflow takes a while). */
function nodeBindingInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve(NODE_BINDING);
    return true;
  } catch {
    return false;
  }
}

let nodeBindingTried = false;
let nodeBindingError: string | undefined;

/** tfjs-node is an optional dependency: its install downloads libtensorflow and fails offline. */
async function loadNodeBinding(): Promise<string | undefined> {
  if (!nodeBindingTried) {
    nodeBindingTried = true;
    try {
      await import(NODE_BINDING);
    } catch (err) {
      nodeBindingError = (err as Error).message.split('\n')[0];
    }
  }
  return nodeBindingError;
}

async function trySetBackend(name: BackendName): Promise<string | undefined> {
  if (name === 'tensorflow') {
    const failure = await loadNodeBinding();
    if (failure !== undefined) return '@tensorflow/tfjs-node is not installed (optional; its install needs internet)';
  }
  try {
    // tfjs logs backend initialisation failures itself; the caller reports them in one line instead.
    const ok = await withoutConsoleWarnings(async () => {
      const set = await tf.setBackend(name);
      await tf.ready();
      return set;
    });
    return ok ? undefined : `the ${name} backend failed to initialise`;
  } catch (err) {
    return `the ${name} backend failed to initialise: ${(err as Error).message}`;
  }
}

/**
 * Selects and initialises the TensorFlow.js backend. Also turns on production mode, which silences
 * tfjs's console banner ("looks like you are running TensorFlow.js in Node.js") so output stays ours.
 */
export async function initBackend(choice: BackendChoice): Promise<BackendInfo> {
  tf.enableProdMode();
  if (choice !== 'auto') {
    const failure = await trySetBackend(choice);
    if (failure !== undefined) throw new UserError(`cannot use --backend ${choice}: ${failure}; try --backend auto`);
    return { name: choice, reason: 'requested with --backend' };
  }
  const skipped: string[] = [];
  for (const name of AUTO_ORDER) {
    const failure = await trySetBackend(name);
    if (failure === undefined) {
      const why =
        name === 'wasm'
          ? `auto: fastest here; ${nodeBindingInstalled() ? 'cpu and tensorflow are slower' : 'cpu is slower, tensorflow (tfjs-node) not installed'}`
          : `auto: ${skipped.join('; ')}`;
      return { name, reason: why };
    }
    skipped.push(`${name}: ${failure}`);
  }
  throw new UserError(`no TensorFlow.js backend could start (${skipped.join('; ')})`);
}
