// The helper thread of ./thread.ts: waits for a posted call, runs it on the shared memory, signals.
import { workerData } from 'node:worker_threads';
import { kernels } from './instance.js';
import { CALLS } from './thread.js';

const { memory, module, control } = workerData as { memory: WebAssembly.Memory; module: WebAssembly.Module; control: Int32Array };
const wasm = kernels(memory, module);
for (;;) {
  Atomics.wait(control, 0, 0);
  try {
    wasm[CALLS[control[1]]](control[2]);
  } catch {
    control[3] = 1;
  }
  Atomics.store(control, 0, 0);
  Atomics.notify(control, 0);
}
