"""Shared by bench/scale_torch.py and bench/scale_keras.py: the task's data and the arguments.

Sequences of 10 digits: a shuffled 0..9 in which one digit overwrites another, so exactly one pair
repeats; each position is labelled 1 when it holds the repeated digit (as src/task/data.ts).
"""
import argparse
import statistics
import time

import numpy as np


def arguments():
    p = argparse.ArgumentParser()
    p.add_argument("--units", type=int, default=16)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--encoding", choices=["scalar", "onehot"], default="scalar")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


def dataset(n, seed):
    rng = np.random.default_rng(seed)
    digits = np.stack([rng.permutation(10) for _ in range(n)])
    src = rng.integers(0, 10, n)
    dst = (src + rng.integers(1, 10, n)) % 10
    digits[np.arange(n), dst] = digits[np.arange(n), src]
    repeated = digits[np.arange(n), src][:, None]
    labels = (digits == repeated).astype(np.int64)
    return digits, labels


def features(digits, encoding):
    if encoding == "onehot":
        return np.eye(10, dtype=np.float32)[digits]
    return digits[..., None].astype(np.float32)


def timed(f):
    """Median seconds of 3 calls of f after one unmeasured call (bench/inference_*.py)."""
    f()
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        f()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)
