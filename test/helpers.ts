import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** The built binary, run as a user would run it. */
const BIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function seqTag(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, ...env },
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

