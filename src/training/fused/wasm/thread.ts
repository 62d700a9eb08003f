import { Worker } from 'node:worker_threads';
import { activeKernels, lstmModule, type KernelKind } from './instance.js';

/** Control words shared with the helper: state (0 idle, 1 work posted), call, descriptor, failed, ready. */
export const STATE = 0;
export const CALL = 1;
export const DESCRIPTOR = 2;
export const FAILED = 3;
export const READY = 4;
/** How long each side watches the control word before it sleeps (./helper.ts, Helper.wait). */
export const SPIN_MS = 2;
/** A helper that has not started within this long never will (its start-up failed). */
const START_TIMEOUT_MS = 30_000;
export const CALLS = ['lstmForward', 'lstmBackward'] as const;
export type Call = (typeof CALLS)[number];

interface HelperOptions {
  kind?: KernelKind;
  module?: WebAssembly.Module;
  startTimeoutMs?: number;
}

/**
 * A second thread that runs one kernel call at a time on the shared memory. Posting and waiting go
 * through Atomics on a shared control block (~10 µs), not messages: a step posts twice per batch.
 */
export class Helper {
  private readonly control = new Int32Array(new SharedArrayBuffer(20));
  private readonly worker: Worker;
  private readonly startTimeoutMs: number;
  /** Why the helper's thread ended, once its 'error' event has arrived (it cannot while wait() blocks). */
  private died?: Error;

  /** `kind`: the kernels it runs (this thread's); `module` and `startTimeoutMs` are for the tests: a module that cannot start, a shorter wait. */
  constructor(memory: WebAssembly.Memory, { kind = activeKernels(), module = lstmModule(), startTimeoutMs = START_TIMEOUT_MS }: HelperOptions = {}) {
    this.startTimeoutMs = startTimeoutMs;
    this.worker = new Worker(new URL('./helper.js', import.meta.url), {
      workerData: { memory, module, control: this.control, kind },
    });
    // Without a listener, a helper that dies would take the whole process down with a stack trace.
    this.worker.on('error', (err) => (this.died = err));
    // An idle helper must not keep the process alive.
    this.worker.unref();
  }

  start(call: Call, descriptor: number): void {
    this.control[CALL] = CALLS.indexOf(call);
    this.control[DESCRIPTOR] = descriptor;
    Atomics.store(this.control, STATE, 1);
    Atomics.notify(this.control, STATE);
  }

  wait(): void {
    const started = performance.now();
    // The helper's part usually ends within a millisecond of this thread's: watch before sleeping.
    while (Atomics.load(this.control, STATE) !== 0 && performance.now() - started < SPIN_MS);
    while (Atomics.load(this.control, STATE) !== 0) {
      Atomics.wait(this.control, STATE, 1, 1000);
      // Its 'error' event cannot arrive while this thread blocks: a helper that never got ready has died.
      if (this.died) throw new Error(`fused engine: the helper thread stopped (${this.died.message}); use --threads 1`);
      if (!Atomics.load(this.control, READY) && performance.now() - started > this.startTimeoutMs) {
        throw new Error('fused engine: the helper thread did not start; use --threads 1');
      }
    }
    if (this.control[FAILED]) throw new Error('fused engine: the helper thread failed');
  }

  dispose(): void {
    void this.worker.terminate();
  }
}
