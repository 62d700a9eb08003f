"""Keras's column of `npm run bench:inference`: model(x, training=False) on one-hot digit sequences.

LSTM(units, return_sequences[, Bidirectional]) -> TimeDistributed(Dense(2, softmax)), as
bench/scale_keras.py builds it; median of 3 timed passes after a warm-up (which also traces), for each
size. Prints {"LSTM 16": seconds, ...} as JSON.
"""
import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402

from scale_common import dataset, features, timed  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--samples", type=int, default=10000)
a = p.parse_args()
keras.utils.set_random_seed(1)
digits, _ = dataset(a.samples, 1)
x = features(digits, "onehot")



out = {}
for units in (16, 32, 64, 128):
    for bidirectional in (False, True):
        lstm = keras.layers.LSTM(units, return_sequences=True)
        model = keras.Sequential(
            [
                keras.Input((10, 10)),
                keras.layers.Bidirectional(lstm) if bidirectional else lstm,
                keras.layers.TimeDistributed(keras.layers.Dense(2, activation="softmax")),
            ]
        )
        out[f"{'BiLSTM' if bidirectional else 'LSTM'} {units}"] = timed(lambda: model(x, training=False).numpy())
print(json.dumps(out))
