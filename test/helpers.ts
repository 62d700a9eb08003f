import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '../src/model/backend.js';
import { tempDir } from './temp.js';

export { tempDir };

// Every seq-tag a test starts writes wide lines: tests match whole lines. The wrapping at 60, 80
// and 100 columns is width.test.ts's, and the documented screens (80 columns) docs.test.ts's.
process.env.COLUMNS = '1000';

/** Backends every feature must work on without tfjs-node. */
export const OFFLINE_BACKENDS: BackendName[] = ['wasm', 'cpu'];

export async function useBackend(name: BackendName): Promise<void> {
  await initBackend(name);
  if (tf.getBackend() !== name) throw new Error(`backend ${name} did not start`);
}

/** The built binary, run as a user would run it. */
const BIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The environment every seq-tag a test runs sees: no colour unless a test asks for it. */
const runEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, ...env });

let inProcess: Promise<unknown> = Promise.resolve();

/** Where an in-process run starts, what it reads as stdin, and whether its stderr goes into stdout (`2>&1`). */
export interface RunOptions {
  cwd?: string;
  stdin?: string;
  mergeStderr?: boolean;
}

/**
 * seq-tag run inside this test process (`run(argv, io)`, as main.ts calls it): the same stdout,
 * stderr and exit code as the binary, without a process start-up (0.5 CPU-s each). Runs one at a
 * time (they share TensorFlow.js's backend, which a run selects); the backend the test had is
 * restored afterwards. For what needs a real process (signals, the exit of the process, locks
 * between processes, what Node reads at start-up), use spawnSeqTag or startSeqTag.
 */
export function seqTag(args: string[], env: NodeJS.ProcessEnv = {}, options: RunOptions = {}): Promise<Run> {
  const mine = inProcess.then(() => runInProcess(args, env, options));
  inProcess = mine.catch(() => undefined);
  return mine;
}

async function runInProcess(args: string[], env: NodeJS.ProcessEnv, options: RunOptions): Promise<Run> {
  const { run } = await import('../src/cli/run.js');
  let out = '';
  let err = '';
  const backend = tf.getBackend();
  const stdin =
    options.stdin === undefined
      ? undefined
      : (async function* () {
          yield Buffer.from(options.stdin!);
        })();
  const status = await run(args, {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (options.mergeStderr ? (out += text) : (err += text)) },
    env: runEnv(env),
    cwd: options.cwd,
    stdin,
  });
  if (backend && tf.getBackend() !== backend) await tf.setBackend(backend);
  return { status, stdout: out, stderr: err };
}

/** The built binary in a process of its own, as a user runs it: for what needs a process. */
export function spawnSeqTag(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: runEnv(env), timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The node binary and the built CLI, as a user would run them. */
export const SEQ_TAG_COMMAND = [process.execPath, BIN];

/**
 * Runs a bash script in which the command `seq-tag` runs the built binary, for pipes and the like.
 * With `fullDisk`, the script runs in a private mount namespace where `$DISK` is a fresh tmpfs of
 * that many KiB (root, or unprivileged user namespaces, is needed; CI runs as root): a real
 * file system that fills up, gone when the script ends.
 */
export function bash(script: string, options: { fullDisk?: { kib: number }; env?: NodeJS.ProcessEnv } = {}): Run & { disk?: string } {
  const disk = options.fullDisk ? tempDir('seq-tag-disk-') : undefined;
  const prelude = 'seq-tag() { "$SEQ_TAG_NODE" "$SEQ_TAG_BIN" "$@"; }\n';
  const body = prelude + (disk ? `mount -t tmpfs -o size=${options.fullDisk!.kib}k tmpfs "$DISK" || exit 97\n${script}` : script);
  const args = disk ? [...(process.getuid?.() === 0 ? ['-m'] : ['-r', '-m']), 'bash', '-c', body] : ['-c', body];
  const result = spawnSync(disk ? 'unshare' : 'bash', args, {
    encoding: 'utf8',
    env: { ...runEnv({}), SEQ_TAG_NODE: process.execPath, SEQ_TAG_BIN: BIN, DISK: disk, ...options.env },
    timeout: 120_000,
  });
  if (result.status === 97) throw new Error(`could not mount a tmpfs at ${disk} (needs root or user namespaces): ${result.stderr}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, disk };
}

/** Every entry below `dir` with its bytes (folders as "<dir>"), sorted: to check a folder was left exactly as it was. */
export function folderSnapshot(dir: string): [string, string][] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((f) => [f, lstatSync(join(dir, f)).isDirectory() ? '<dir>' : readFileSync(join(dir, f), 'latin1')]);
}

export interface Started {
  child: ChildProcess;
  /** stdout and stderr so far, as they came. */
  out: () => string;
  /** The exit code, or -1 when a signal ended it. */
  exited: Promise<number | null>;
}

/** A spawned seq-tag whose output is collected as it comes; in a group of its own, so that `killGroup` ends it and its worker processes. */
export function startSeqTag(args: string[], env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(SEQ_TAG_COMMAND[0], [SEQ_TAG_COMMAND[1], ...args], { detached: true, env: { ...process.env, NO_COLOR: '1', ...env } });
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code, signal) => r(code ?? (signal ? -1 : null))));
  return { child, out: () => text, exited };
}

/** Sends `signal` to a started seq-tag's whole group (it and its runs), if it is still there. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/** A refusal as seq-tag promises it: exit `code` and one line on stderr matching `pattern`. */
export function oneLine(run: Run, code: number, pattern: RegExp): void {
  assert.equal(run.status, code, `exit code; stderr: ${run.stderr}`);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${run.stderr}`);
  assert.match(lines[0], pattern);
}

/**
 * ‖actual − expected‖∞ ≤ rel · ‖expected‖∞ (+ a float32 floor for all-zero tensors); `nonZero`: an
 * all-zero `expected` fails, so that the comparison cannot hold vacuously.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 1e-5, nonZero = false): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  if (nonZero) assert.ok(scale > 0, `${what}: not all zero (the check would be vacuous)`);
  assert.ok(maxDiff <= rel * scale + 1e-9, `${what}: max difference ${maxDiff.toExponential(2)} vs scale ${scale.toExponential(2)}`);
}
