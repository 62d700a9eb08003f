#!/usr/bin/env python3
"""A mutation sitting of the native kernels (native/kernels.cc), which Stryker cannot mutate.

Each mutant is one textual change to the C++ source; the script applies it, rebuilds the addon
(npm run build:native), runs the test files that hold the kernels (test/wasm.test.ts, and
test/fused.test.ts for the engine's parity with tf.layers), and restores the source. A mutant the
tests fail on is killed. Prints one line a mutant and the score; the source is restored even when
interrupted. Usage (after npm run build): python3 scripts/mutate-native.py [WORD ...] (only the mutants
whose names hold one of the words)
"""
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "native" / "kernels.cc"
TESTS = ["dist/test/wasm.test.js", "dist/test/fused.test.js"]

# (what it breaks, the text, its replacement): each text occurs exactly once in the source.
MUTANTS = [
    ("sigmoid's slope", "if (!HARD) return y * (1.0f - y);", "if (!HARD) return y * (1.0f + y);"),
    ("the cell's input term", "splat(0)) + i * g;", "splat(0)) + i * f;"),
    ("tanh past the clamp", "return ax >= clamp ? (x < 0 ? splat(-1) : splat(1)) : r;", "return r;"),
    ("the hard sigmoid's lower clip", "y = y < 0 ? splat(0) : y;", "y = y;"),
    ("a block's second column vector", "s1[r] += x * b1;", "s1[r] += x * b0;"),
    ("a narrow block's accumulation", "for (int r = 0; r < R; r++) put<vf>(c + (i + r) * ldc + j, s[r], acc);", "for (int r = 0; r < R; r++) put<vf>(c + (i + r) * ldc + j, s[r], false);"),
    ("a row's tail read", "std::memcpy(&v, p, sizeof(float) * n);", "std::memcpy(&v, p, sizeof(float) * (n - 1));"),
    ("the cell's carry back", "set<FULL>(dcNext, dc * f, n);", "set<FULL>(dcNext, dc, n);"),
    ("the recurrent gradient's steps", "(d.T - 1) * B, true);", "(d.T - 2) * B, true);"),
    ("the bias gradient", "gBias[k] += dz[k];", "gBias[k] = dz[k];"),
    ("one-hot digits checked", "if (digits[k] < 0 || digits[k] > 9) return false;", "if (digits[k] < 0 || digits[k] > 10) return false;"),
    ("a region's length checked", "uint64_t(start) + 4 * r.floats > length", "uint64_t(start) + 2 * r.floats > length"),
    ("gemm's B checked", "!inside(mem, b, int64_t(k - 1) * ldb + n - 1)", "!inside(mem, b, 0)"),
    ("Adam's bias correction", "p[i] -= (step * mi) / (std::sqrt(vi) * scale + eps);", "p[i] -= (step * mi) / (std::sqrt(vi) + eps);"),
    ("the second part's gradients", "for (size_t i = 0; i < n; i++) target[i] = target[i] + a[i] + b[i];", "for (size_t i = 0; i < n; i++) target[i] = target[i] + a[i];"),
    ("a reversed direction's steps", "const int t = direction == 1 ? T - 1 - step : step;", "const int t = step;"),
    ("the head's second pre-activation", "a1[k] += v * k1;", "a1[k] += v * k0;"),
    ("the head's second bias gradient", "gBias[1] += da1;", "gBias[1] += da0;"),
]


def run(cmd):
    return subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main():
    original = SOURCE.read_text()
    wanted = [m for m in MUTANTS if not sys.argv[1:] or any(w in m[0] for w in sys.argv[1:])]
    killed = 0
    started = time.time()
    try:
        for name, text, replacement in wanted:
            if original.count(text) != 1:
                sys.exit(f"mutant '{name}': its text occurs {original.count(text)} times in native/kernels.cc")
            SOURCE.write_text(original.replace(text, replacement))
            build = run(["npm", "run", "-s", "build:native"])
            if build.returncode != 0:
                print(f"  compile error  {name}")
                killed += 1
                continue
            tests = run(["node", "--test", *TESTS])
            dead = tests.returncode != 0
            killed += dead
            print(f"  {'killed  ' if dead else 'SURVIVED'}  {name}")
    finally:
        SOURCE.write_text(original)
        run(["npm", "run", "-s", "build:native"])
    print(f"{killed} of {len(wanted)} killed ({100 * killed / len(wanted):.1f}%) in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
