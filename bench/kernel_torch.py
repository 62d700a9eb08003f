"""The machine's float32 matrix-product rate as PyTorch reaches it (its AVX-512/FMA kernels), on the
shape bench/kernel.ts measures seq-tag's WebAssembly kernel on: a 128-unit step's recurrent product,
32 x 128 times 128 x 512, one thread, data in cache. Prints one JSON line: {"gflops": ...}.
bench:scale runs it beside the engine's own kernel when a torch venv is there."""
import json
import sys
import time

import torch

torch.set_num_threads(1)
m, k, n = 32, 128, 512
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
a = torch.sin(torch.arange(m * k, dtype=torch.float32)).reshape(m, k)
b = torch.sin(torch.arange(k * n, dtype=torch.float32)).reshape(k, n)
c = torch.empty(m, n)
for _ in range(100):
    torch.mm(a, b, out=c)
reps = 0
started = time.perf_counter()
while time.perf_counter() - started < seconds:
    for _ in range(100):
        torch.mm(a, b, out=c)
    reps += 100
elapsed = time.perf_counter() - started
print(json.dumps({"gflops": 2 * m * n * k * reps / elapsed / 1e9, "shape": f"{m}x{k} . {k}x{n}"}))
