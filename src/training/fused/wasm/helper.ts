// The helper thread of ./thread.ts: waits for a posted call, runs it on the shared memory, signals.
import { workerData } from 'node:worker_threads';
import { kernels, type KernelKind } from './instance.js';
import { CALL, CALLS, DESCRIPTOR, FAILED, READY, SPIN_MS, STATE } from './thread.js';

const { memory, module, control, kind } = workerData as { memory: WebAssembly.Memory; module: WebAssembly.Module; control: Int32Array; kind: KernelKind };
const wasm = kernels(memory, module, kind);
Atomics.store(control, READY, 1);
for (;;) {
  // The next call comes within a millisecond while a model trains: watching for it costs less than
  // being woken from sleep (0.1–0.5 ms on a virtual machine's idle core).
  const until = performance.now() + SPIN_MS;
  while (Atomics.load(control, STATE) === 0 && performance.now() < until);
  Atomics.wait(control, STATE, 0);
  try {
    wasm[CALLS[control[CALL]]](control[DESCRIPTOR]);
  } catch {
    control[FAILED] = 1;
  }
  Atomics.store(control, STATE, 0);
  Atomics.notify(control, STATE);
}
