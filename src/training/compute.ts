import { initBackend, type BackendChoice, type BackendInfo } from '../model/backend.js';
import { useKernels, type KernelChoice, type KernelKind } from './fused/wasm/instance.js';

/**
 * What every command and API call that computes does first: picks the fused engine's float32
 * kernels (--kernels), then starts the TensorFlow.js backend (--backend).
 */
export async function startCompute(backend: BackendChoice = 'auto', kernels: KernelChoice = 'auto'): Promise<{ backend: BackendInfo; kernels: KernelKind }> {
  const kind = useKernels(kernels);
  return { backend: await initBackend(backend), kernels: kind };
}
