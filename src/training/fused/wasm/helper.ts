// The helper thread of ./thread.ts: waits for a posted call, runs it on the shared memory, signals.
import { workerData } from 'node:worker_threads';
import { kernels, type KernelKind } from './instance.js';
import { CALL, CALLS, DESCRIPTOR, FAILED, READY, STATE } from './thread.js';

const { memory, module, control, kind } = workerData as { memory: WebAssembly.Memory; module: WebAssembly.Module; control: Int32Array; kind: KernelKind };
const wasm = kernels(memory, module, kind);
Atomics.store(control, READY, 1);
for (;;) {
  Atomics.wait(control, STATE, 0);
  try {
    wasm[CALLS[control[CALL]]](control[DESCRIPTOR]);
  } catch {
    control[FAILED] = 1;
  }
  Atomics.store(control, STATE, 0);
  Atomics.notify(control, STATE);
}
