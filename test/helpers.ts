import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src/backend.js';

/** Backends every feature must work on without tfjs-node. */
export const OFFLINE_BACKENDS: BackendName[] = ['wasm', 'cpu'];

export async function useBackend(name: BackendName): Promise<void> {
  await initBackend(name);
  if (tf.getBackend() !== name) throw new Error(`backend ${name} did not start`);
}

export function tempDir(prefix = 'seq-tag-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
